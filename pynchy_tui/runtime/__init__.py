"""Runtimes: where each workspace's toolbox runs (docker, bubblewrap, process)."""
