"""Helpers for testing runplane and projects built on it."""

from runplane.testing.server import LiveServer, free_port

__all__ = ["LiveServer", "free_port"]
