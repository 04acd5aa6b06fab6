"""Shared by the benchmark scripts: a process's memory as Linux reports it (resident set, not
Python's allocations), sampled while work runs, and a one-line description of the machine."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path


def memory_kb(pid: int | str = "self") -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the most it was resident) of a process, in kB;
    empty when the process has gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return {}
    wanted = {"VmRSS", "VmHWM"}
    return {
        name: int(value.split()[0])
        for name, _, value in (line.partition(":") for line in lines)
        if name in wanted
    }


def children(parent: int) -> list[int]:
    """The processes `parent` started (gunicorn's workers, for its master); none once it
    has gone."""
    try:
        text = Path(f"/proc/{parent}/task/{parent}/children").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return sorted(int(pid) for pid in text.split())


class RssSampler:
    """Reads the resident memory of some processes every `interval` seconds in a thread, so a
    peak that lasts only while a request runs is seen. `pids` is called at every sample: the
    set may change (gunicorn replaces a worker after max_requests)."""

    def __init__(self, pids: Callable[[], Iterable[int]], interval: float = 0.05) -> None:
        self._pids = pids
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.first: dict[int, int] = {}  # pid -> kB at its first sample
        self.peak: dict[int, int] = {}  # pid -> the largest kB sampled
        self.last: dict[int, int] = {}  # pid -> kB at its last sample

    def _sample(self) -> None:
        for pid in self._pids():
            rss = memory_kb(pid).get("VmRSS")
            if rss is None:
                continue
            self.first.setdefault(pid, rss)
            self.peak[pid] = max(self.peak.get(pid, 0), rss)
            self.last[pid] = rss

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def machine() -> str:
    """CPU model and count, memory, and the load average now: other work skews every figure."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        "unknown CPU",
    )
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kb = next(
        (int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} x {model}, {total_kb / 1024 / 1024:.1f} GB RAM, load average {load}"
