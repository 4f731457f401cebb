"""Thread-level parallelism for the linker's numpy work.

The heavy steps of linkage - name keys, blocking-key sorts, binary searches, comparison levels - are numpy and
pyarrow kernels that release the GIL, so plain threads use every core without copying the 10M-row arrays into
other processes. Splink (DuckDB) uses all cores too; measured side by side in ``make bench PART=linkage``.

``FANGPIN_LINK_THREADS`` sets the number of threads (default: the machine's cores, at most 8; 1 = serial).
Results never depend on it: every parallel step splits work into independent pieces and joins them in a fixed
order (tested against the serial path).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

__all__ = ["link_threads", "pmap", "threads_for", "MIN_ROWS"]

# below this many rows a step runs on one thread (thread start-up and joining are not worth it)
MIN_ROWS = 200_000

T = TypeVar("T")
R = TypeVar("R")


def link_threads(threads: int | None = None) -> int:
    if threads is not None:
        return max(1, int(threads))
    env = os.environ.get("FANGPIN_LINK_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    return max(1, min(os.cpu_count() or 1, 8))


def pmap(fn: Callable[[T], R], items: Iterable[T], threads: int | None = None) -> list[R]:
    """``[fn(x) for x in items]`` on up to ``threads`` threads, results in input order (first error re-raised)."""
    items = list(items)
    n = min(link_threads(threads), len(items))
    if n <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="fangpin-link") as ex:
        return list(ex.map(fn, items))


def threads_for(rows: int, threads: int | None = None) -> int:
    """Threads for a step over ``rows`` rows: 1 below :data:`MIN_ROWS`, else :func:`link_threads`."""
    return 1 if rows < MIN_ROWS else link_threads(threads)
