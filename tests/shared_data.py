"""Where the shared test data lives (../shared beside the checkout: real clips, RVM conformance, LPIPS images).

A clone elsewhere (e.g. a CI checkout in /tmp) finds it through $TALKINNERF_SHARED or the workplace's /work/shared;
tests that need a file from it skip, naming the file, only when none of these holds it.
"""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = [os.environ.get("TALKINNERF_SHARED"), Path(__file__).resolve().parents[2] / "shared", "/work/shared"]
SHARED_DIR = next((Path(c) for c in _CANDIDATES if c and Path(c).is_dir()), Path(__file__).resolve().parents[2] / "shared")
