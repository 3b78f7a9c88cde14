"""Starting and stopping what a run tests: Redis and reference-server nodes."""
