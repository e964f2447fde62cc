"""Progress that reads well in a terminal and in a log file.

A tqdm bar redraws itself with carriage returns: in a Snakemake log (stderr redirected to a file) that becomes
one line tens of kilobytes long. :class:`Progress` draws the bar only when stderr is a terminal; otherwise it
prints one line per tenth of the work (and the last step), with the elapsed time and the latest postfix values.
"""

from __future__ import annotations

import sys
import time
from typing import Any


def is_terminal(stream=None) -> bool:
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """``update(n)``, ``set_postfix(**values)``, ``close()`` like tqdm; plain lines when not on a terminal."""

    def __init__(self, total: int, desc: str = "", enabled: bool = True, unit: str = "it", initial: int = 0,
                 stream=None, tenths: int = 10):
        self.total, self.desc, self.unit = int(total), desc, unit
        self.done = int(initial)
        self.enabled = enabled and self.total > 0
        self.stream = stream if stream is not None else sys.stderr
        self.tenths = max(1, tenths)
        self.start = time.perf_counter()
        self.postfix: dict[str, Any] = {}
        self.bar = None
        # the next tenth to report (a resumed run does not repeat the tenths it already passed)
        self.next_mark = self.done * self.tenths // self.total + 1 if self.total else 1
        if self.enabled and is_terminal(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=self.done, desc=desc or None, unit=unit, dynamic_ncols=True,
                            leave=False, file=self.stream)

    def set_postfix(self, **values: Any) -> None:
        self.postfix = values
        if self.bar is not None:
            self.bar.set_postfix(**values)

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            return
        reached = False
        while self.next_mark <= self.tenths and self.done * self.tenths >= self.next_mark * self.total:
            self.next_mark += 1
            reached = True
        if reached:
            self._line()

    def _line(self) -> None:
        elapsed = time.perf_counter() - self.start
        extra = " ".join(f"{k}={v}" for k, v in self.postfix.items())
        prefix = f"{self.desc}: " if self.desc else ""
        print(f"{prefix}{min(self.done, self.total)}/{self.total} {self.unit} "
              f"({100 * min(self.done, self.total) // self.total}%), {elapsed:.1f} s" + (f", {extra}" if extra else ""),
              file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.enabled and self.next_mark <= self.tenths and self.done > 0:
            self._line()          # ended early (e.g. L-BFGS converged): the log still shows where
            self.next_mark = self.tenths + 1

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
