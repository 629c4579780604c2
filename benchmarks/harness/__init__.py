"""The harness of `make bench`: the servers it starts and stops, the load generators it drives,
and what it reads from /proc while they run. A phase gets all of it through one `Bench`."""
