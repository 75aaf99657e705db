"""The agent loop, its tools, prompt and compaction."""
