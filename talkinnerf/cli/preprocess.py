"""CLI commands of the `preprocess` group (argument parsing only).

Split over two modules so the video-side stages (matte, keypoints, split) and the body-model stages
(fit, segment) can evolve independently.
"""

from __future__ import annotations

from talkinnerf.cli import preprocess_fit, preprocess_io


def add_commands(subparsers) -> None:
    preprocess_io.add_commands(subparsers)
    preprocess_fit.add_commands(subparsers)
