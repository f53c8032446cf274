"""Turning numbers into text people read: formatting, tables, (later) message catalogs and charts."""
