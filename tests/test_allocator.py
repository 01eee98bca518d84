"""The malloc arena cap (rtvoice.allocator): the arenas glibc reports after eight threads have allocated,
in a fresh process each time (the cap only holds for arenas not yet made)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Eight threads allocate small blocks (from an arena, not mmap) at once; glibc's malloc_info then lists one
# <heap> element per arena.
PROBE = r"""
import ctypes, sys, tempfile, threading
import numpy as np
from rtvoice.allocator import limit_malloc_arenas

cap = limit_malloc_arenas()
start, held = threading.Barrier(8), []
def allocate():
    start.wait()
    held.append([np.ones(1000) for _ in range(100)])
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    f = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, f)
    libc.fclose(f)
    print(cap, open(out.name).read().count("<heap nr="))
"""


def _arenas(**env_vars) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "RTVOICE_MALLOC_ARENAS")}
    env.update(env_vars, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    cap, heaps = out.stdout.split()
    return cap, int(heaps)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_default_cap_holds_eight_allocating_threads_to_two_arenas():
    assert _arenas() == ("2", 2)
    cap, heaps = _arenas(RTVOICE_MALLOC_ARENAS="0")  # glibc's default: an arena for each thread (up to 8/core)
    assert cap == "None" and heaps > 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_users_settings_win():
    assert _arenas(RTVOICE_MALLOC_ARENAS="1") == ("1", 1)
    assert _arenas(MALLOC_ARENA_MAX="3", RTVOICE_MALLOC_ARENAS="1") == ("None", 3)


def test_a_bad_setting_is_a_clear_error():
    result = subprocess.run([sys.executable, "-m", "rtvoice", "devices"], capture_output=True, text=True,
                            env=dict(os.environ, RTVOICE_MALLOC_ARENAS="two", PYTHONPATH=str(REPO)), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "rtvoice: error: RTVOICE_MALLOC_ARENAS must be a whole number of arenas, got 'two'"
