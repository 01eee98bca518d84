"""How many malloc arenas the engine's process may use (glibc).

glibc gives each thread that allocates an arena of its own (9 in the engine here), up to 8 per core, and an arena keeps
the memory it has touched. The engine's threads (audio, front end, recognizer, voice, ONNX Runtime's and
CTranslate2's pools) allocate and free large buffers on every decode, so with the default the resident size
settles only after minutes of speech and moves by +-10 MB from one minute to the next. Two arenas are
enough for the few threads that allocate often; measured on dev_long looped 10 times through
caption + voice (`tests/soak_chain.py`, 2-core dev machine, 2 runs each): resident size 474-494 MB and flat
within 3.7 MB after the first minutes with 2 arenas, 518-551 MB moving by up to 33 MB with the default; the
same wall time (about 2 min a run either way). docs/memory.md has the figures.

The user's own ``MALLOC_ARENA_MAX`` (read by glibc at start-up) wins; ``RTVOICE_MALLOC_ARENAS=0`` leaves
glibc's default.
"""

from __future__ import annotations

import ctypes
import os

from rtvoice.errors import RtvoiceError

DEFAULT_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def limit_malloc_arenas(arenas: int | None = None) -> int | None:
    """Cap glibc's malloc arenas for this process; call before the worker threads start.

    Args:
        arenas: the cap (>= 1); None: ``RTVOICE_MALLOC_ARENAS`` or :data:`DEFAULT_ARENAS`.

    Returns:
        The cap set, or None when none was: ``MALLOC_ARENA_MAX`` is set, the cap is 0, or the C library is
        not glibc.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return None
    if arenas is None:
        setting = os.environ.get("RTVOICE_MALLOC_ARENAS", str(DEFAULT_ARENAS))
        try:
            arenas = int(setting)
        except ValueError:
            raise RtvoiceError(f"RTVOICE_MALLOC_ARENAS must be a whole number of arenas, got {setting!r}") from None
    if arenas < 0:
        raise RtvoiceError(f"the malloc arena cap must be >= 0 (0: glibc's default), got {arenas}")
    if arenas == 0:
        return None
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return arenas if mallopt(_M_ARENA_MAX, arenas) == 1 else None
