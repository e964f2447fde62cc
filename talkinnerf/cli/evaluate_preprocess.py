"""CLI commands (argument parsing only)."""

from __future__ import annotations


def add_commands(subparsers) -> None:
    """Register commands; each sets `func` to a handler taking the parsed args."""
