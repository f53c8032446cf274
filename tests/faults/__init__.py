"""Fault injection: upstream failures, Telegram failures, process death and fuzzed commands."""
