"""Phones, fee rate groups and suites of an instance (GET, from their tables)."""
