"""Fuzz tests (SECURITY.md rows 12, 15, 16): hostile text into every form, every import row
type and the records API. Strategies and shared checks live in tests/fuzz/payloads.py."""
