"""The host: workspaces, queues, turns, recovery."""
