"""Campaign state in Redis: records, frozen batches, the progress journal, leases, control, jobs."""
