"""The race helper (tests/concurrency.py) fails a test when a worker raises or hangs, and pytest
treats an exception in a stray thread as an error (pytest.ini)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.concurrency import WorkerFailed, WorkerHung, run_concurrently, run_n

ROOT = Path(__file__).resolve().parent.parent


def test_results_come_back_in_order_and_workers_overlap():
    inside = threading.Barrier(4)

    def worker(i: int) -> int:
        inside.wait(5)  # only passes if all four run at the same time
        return i * i

    assert run_n(4, worker) == [0, 1, 4, 9]


def test_a_crashing_worker_fails_the_race():
    def crash():
        raise ZeroDivisionError("boom")

    with pytest.raises(WorkerFailed, match="ZeroDivisionError: boom") as info:
        run_concurrently([lambda: 1, crash, lambda: 3])
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_a_hanging_worker_fails_the_race():
    release = threading.Event()
    try:
        with pytest.raises(WorkerHung, match="1 of 2 workers still running"):
            run_concurrently([lambda: 1, lambda: release.wait(30)], timeout=0.5)
    finally:
        release.set()


def test_an_exception_in_a_stray_thread_fails_the_test_run(tmp_path):
    """Without the helper, a thread that dies only warns; pytest.ini turns that into an error."""
    (tmp_path / "test_stray.py").write_text(
        "import threading\n\n"
        "def test_stray():\n"
        "    t = threading.Thread(target=lambda: 1 / 0)\n"
        "    t.start()\n"
        "    t.join()\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
                          str(ROOT / "pytest.ini"), "--rootdir", str(tmp_path), str(tmp_path / "test_stray.py")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode != 0, run.stdout
    assert "ZeroDivisionError" in run.stdout
