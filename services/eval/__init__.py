"""``nsed eval``: a data set against the live pool, one task per line and protocol."""
