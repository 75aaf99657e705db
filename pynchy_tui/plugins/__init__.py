"""Plugins: hookspecs and the registry."""
