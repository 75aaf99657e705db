"""Git worktrees, diffs and sync to main."""
