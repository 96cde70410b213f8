"""One way to run a race in a test: every worker in its own thread, released together.

    results = run_concurrently([lambda: claim(a), lambda: claim(b)])

- the workers start from a barrier, so they really overlap;
- the results come back in the workers' order;
- the first exception a worker raised is raised again here (with the worker's traceback), so a
  crashing worker fails the test instead of leaving a warning and a shorter result list;
- a worker still running after `timeout` seconds fails the test: a hang is never a pass.

A worker that expects some exceptions (a "busy" loser, a refused duplicate) catches them itself
and returns what happened; anything it does not catch is a failure.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0


class WorkerHung(AssertionError):
    """A worker did not finish within the timeout."""


class WorkerFailed(AssertionError):
    """A worker raised; the original exception is the cause."""


def run_concurrently(workers: Sequence[Callable[[], T]], *, timeout: float = DEFAULT_TIMEOUT) -> list[T]:
    """Run each worker in its own thread, all started at once; their results, in order."""
    if not workers:
        return []
    n = len(workers)
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[tuple[int, BaseException]] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait(timeout)
            results[i] = workers[i]()
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            with lock:
                errors.append((i, exc))

    threads = [threading.Thread(target=run, args=(i,), name=f"race-worker-{i}", daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    hung = [t.name for t in threads if t.is_alive()]
    if hung:
        raise WorkerHung(f"{len(hung)} of {n} workers still running after {timeout:g} s: {hung}")
    real = [(i, e) for i, e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if real or errors:
        i, exc = (real or errors)[0]
        raise WorkerFailed(f"worker {i} of {n} raised {type(exc).__name__}: {exc}") from exc
    return results  # type: ignore[return-value]


def run_n(n: int, worker: Callable[[int], T], *, timeout: float = DEFAULT_TIMEOUT) -> list[T]:
    """`worker(0) ... worker(n - 1)` at once; their results, in order."""
    return run_concurrently([lambda i=i: worker(i) for i in range(n)], timeout=timeout)


async def gather_concurrently(*awaitables: Awaitable[T], timeout: float = DEFAULT_TIMEOUT) -> list[T]:
    """`asyncio.gather` for races on one event loop: the first exception propagates, and the
    whole race fails when it has not finished after `timeout` seconds."""
    try:
        return list(await asyncio.wait_for(asyncio.gather(*awaitables), timeout))
    except (asyncio.TimeoutError, TimeoutError):
        raise WorkerHung(f"{len(awaitables)} concurrent calls not finished after {timeout:g} s") from None
