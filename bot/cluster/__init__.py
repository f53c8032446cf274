"""Replicas on one PostgreSQL: which one leads."""
