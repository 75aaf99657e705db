"""Provides pynchy's widgets, one per module."""
