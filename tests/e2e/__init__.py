"""End-to-end tests that run real processes (and kill them)."""
