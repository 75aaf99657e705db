"""Provides pynchy's screens."""
