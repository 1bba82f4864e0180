"""One progress display for every long command, on a terminal or in a log.

``progress(desc, total=None, unit=...)`` returns a tqdm bar on a terminal (or when asked with
``enabled=True``); when stderr is not a terminal and nothing was asked (``enabled=None``) it
returns a :class:`LogProgress`, which writes a plain line to stderr every ``LOG_EVERY`` seconds
and, if it ran that long, one when it closes, so a run in a batch job or under ``nohup`` says how far it is instead
of nothing. ``enabled=False`` shows nothing. Training shows its epochs itself, one line each
(``textkit.training.epoch_line``).
"""
from __future__ import annotations

import contextlib
import sys
import time
from typing import Any, Iterator

LOG_EVERY = 30.0  # seconds between lines in a log


class LogProgress:
    """The part of tqdm's interface textkit uses, as occasional lines on stderr."""

    def __init__(self, desc: str, total: int | None, unit: str, every: float | None = None) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.every = LOG_EVERY if every is None else every
        self.n, self.postfix = 0, ""
        self.started = self.last = time.perf_counter()

    def _line(self) -> str:
        done = f"{self.n:,}" + (f"/{self.total:,}" if self.total else "")
        elapsed = time.perf_counter() - self.started
        rate = f", {self.n / elapsed:,.0f}{self.unit}/s" if elapsed > 0 else ""
        return f"{self.desc}: {done}{self.unit} ({elapsed:.0f} s{rate}){self.postfix}"

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            print(self._line(), file=sys.stderr, flush=True)

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        self.postfix = "; " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                        for k, v in values.items()) if values else ""

    @contextlib.contextmanager
    def external_write_mode(self) -> Iterator[None]:
        yield  # no bar to protect

    def close(self) -> None:
        # the total, for a run long enough to have needed a progress line at all
        if self.n and time.perf_counter() - self.started >= self.every:
            print(self._line(), file=sys.stderr, flush=True)

    def __enter__(self) -> "LogProgress":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:  # an error or Ctrl-C says so itself; no progress line after it
            self.close()


def progress(desc: str, *, total: int | None = None, unit: str = "", enabled: bool | None = None):
    """A tqdm bar, a :class:`LogProgress` or a silent tqdm (see the module doc)."""
    from tqdm import tqdm

    if enabled is None and not _is_terminal(sys.stderr):
        return LogProgress(desc, total, unit)
    return tqdm(desc=desc, total=total, unit=unit, disable=not (enabled or enabled is None), leave=False,
                dynamic_ncols=True)


def _is_terminal(stream: Any) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
