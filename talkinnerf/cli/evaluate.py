"""CLI commands of the `evaluate` group (argument parsing only)."""

from __future__ import annotations

from talkinnerf.cli import evaluate_preprocess, evaluate_render


def add_commands(subparsers) -> None:
    evaluate_preprocess.add_commands(subparsers)
    evaluate_render.add_commands(subparsers)
