"""Persistence: call records and campaign state (SQLite), callee profiles (Redis)."""
