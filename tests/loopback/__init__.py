"""A loopback client channel for end-to-end tests (see connector.py)."""
