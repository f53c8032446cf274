"""Turning numbers into what people read: formatting, tables, message catalogs (en, ru) and PNG charts."""
