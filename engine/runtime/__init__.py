"""Process plumbing: settings, logs, metrics, the private Redis server, allocator and GC tuning."""
