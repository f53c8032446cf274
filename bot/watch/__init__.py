"""The watch loop: each market reading turned into alert events and outbox rows, and the scheduler that
runs the polls and maintenance jobs."""
