"""Bridges to other backtesters, used to cross-check our money (each imports its framework only there)."""
