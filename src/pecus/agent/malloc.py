"""One malloc arena for the agent where the C library is glibc (Linux).

glibc gives every thread that allocates an arena of its own and keeps what is freed there for
reuse by that thread. The agent builds each page (a few MB at 5,000 rows) in its reading thread
while the event loop's thread uploads the previous one, so the process kept the high-water marks
of two arenas: 9 MB more at its peak (bench/run.py catchup). With the GIL, threads seldom allocate
at the same moment, so one arena costs no speed. Elsewhere (Windows, macOS, musl) nothing changes.
"""

from __future__ import annotations

import ctypes
import sys

M_ARENA_MAX = -8  # glibc's malloc.h


def single_arena() -> bool:
    """Limit glibc to one arena (call before any thread starts); True when it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, 1))
