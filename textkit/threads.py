"""How many CPU threads torch gets: the cores no other process is using when a run starts.

torch's default is one thread per core. Its workers spin while they wait for each other, so on
a machine where other processes already hold the cores, several threads do not add speed but
take turns: measured on a 2-core machine at load 2, training ran 2-6x slower with 2 threads
than with 1 (``scripts/bench_threads.py``). On an idle machine every core helps. So the default
counts the cores that are busy right now (from ``/proc/stat``, over a tenth of a second; the
load average lags a minute behind) and leaves them alone:

    threads = max(1, usable cores - busy cores), at most torch's own default
    (divided among the processes ``torchrun`` starts on one machine)

An explicit number (``--threads N``, ``TrainConfig(threads=N)``) is always used as given.
"""
from __future__ import annotations

import contextlib
import os
import time
from typing import Iterator

SAMPLE_SECONDS = 0.1


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy_cores(seconds: float = SAMPLE_SECONDS) -> float:
    """How many cores other processes keep busy: the machine's non-idle CPU time over
    ``seconds`` (this process sleeps meanwhile), in cores. The 1-minute load average where
    ``/proc/stat`` does not exist (macOS)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])  # user..steal; guest time is inside user

    try:
        busy0, total0 = sample()
        time.sleep(seconds)
        busy1, total1 = sample()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    cpus = os.cpu_count() or 1
    return cpus * (busy1 - busy0) / max(1, total1 - total0)


def default_threads() -> int:
    """The free cores, at least 1 and at most torch's default (one per core); shared out among
    the processes torchrun started on this machine, which all look at the same moment."""
    import torch

    from .distributed import local_processes

    free = round(usable_cores() - busy_cores()) // local_processes()
    return max(1, min(free, torch.get_num_threads()))


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """``torch.set_num_threads`` for a block (``None``: :func:`default_threads`), restored after;
    yields the number used."""
    import torch

    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be an int >= 1 or None (the free cores), got {threads!r}")
    before = torch.get_num_threads()
    chosen = default_threads() if threads is None else threads
    torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        torch.set_num_threads(before)
