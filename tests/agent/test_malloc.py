"""The agent's single malloc arena (glibc): a thread that allocates shares the main arena."""

from __future__ import annotations

import subprocess
import sys

import pytest

# A thread allocates many blocks too big for Python's own allocator (so they come from malloc),
# then glibc's malloc_stats() lists the arenas on stderr, one "Arena N:" heading each.
PROBE = """
import ctypes, sys, threading
if sys.argv[1] == "single":
    from pecus.agent.malloc import single_arena
    assert single_arena()
def allocate():
    kept = [bytes(2000) for _ in range(2000)]
    del kept
thread = threading.Thread(target=allocate)
thread.start()
thread.join()
ctypes.CDLL(None).malloc_stats()
"""


def arenas(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


def _glibc() -> bool:
    import ctypes

    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018
    except AttributeError:
        return False
    return sys.platform.startswith("linux")


@pytest.mark.skipif(not _glibc(), reason="glibc's malloc only")
def test_a_thread_allocates_in_the_main_arena_once_limited() -> None:
    assert arenas("default") >= 2  # the probe shows what the setting changes
    assert arenas("single") == 1


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="elsewhere than Linux")
def test_elsewhere_nothing_changes() -> None:
    from pecus.agent.malloc import single_arena

    assert single_arena() is False
