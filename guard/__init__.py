"""Protection at the shop's doors: client addresses behind proxies, and rate limits.

Both keep no state in the process: counters live in the database, so every machine behind a
load balancer sees the same ones.
"""
