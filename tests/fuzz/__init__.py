"""Generated-input ("fuzz") tests: seeded, mutated requests against every endpoint."""
