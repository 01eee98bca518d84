"""The virtual clock of ``rtvoice bench --clock virtual``.

Audio is fed as fast as compute allows, but latency is accounted as if it had arrived in real time:
stream sample n "arrives" at virtual time n / rate, and the one consumer (the caption loop) is modelled as
a server that is either idle, waiting for audio, or busy computing. Virtual time therefore jumps forward
to an arrival when the consumer would have been waiting, and otherwise advances by the real time the
consumer spends computing. Figures stay comparable with a real-time run as long as the machine keeps up
(a real-time run that falls behind skips partial decodes; the virtual one decodes them all and shows the
lag instead).

With ``count_compute=False`` (``--clock compute-free``) only the audio's arrival moves the clock: the latencies
are the streaming policy's own, the same on any machine and under any load (deterministic), with no compute
counted at all. (The caption loop hands the front end's output over in stream order on these clocks,
however the front end's thread was timed: rtvoice.pipeline.in_order.)
"""

from __future__ import annotations

import threading
import time

# How a caption run's latency is timed: paced in real time, or a file read as fast as possible on the virtual
# clock, counting the consumer's compute or not.
CLOCKS = ("real", "virtual", "compute-free")


class VirtualClock:
    """Callable clock (seconds since stream sample 0) for one consumer thread.

    count_compute: the real time the consumer spends computing moves the clock (False: only arrivals do).
    """

    def __init__(self, count_compute: bool = True) -> None:
        self.count_compute = count_compute
        self._virtual = 0.0
        self._real = time.perf_counter()
        self._lock = threading.Lock()

    def _advance(self) -> None:
        now = time.perf_counter()
        if self.count_compute:
            self._virtual += now - self._real
        self._real = now

    def reset(self) -> None:
        """Stream sample 0 arrives now."""
        with self._lock:
            self._virtual = 0.0
            self._real = time.perf_counter()

    def arrive(self, stream_seconds: float) -> None:
        """Audio up to `stream_seconds` is being taken: it cannot be taken before it exists."""
        with self._lock:
            self._advance()
            self._virtual = max(self._virtual, stream_seconds)

    def __call__(self) -> float:
        with self._lock:
            self._advance()
            return self._virtual

    @staticmethod
    def capture_time(sample: int, rate: int = 16000) -> float:
        """When stream sample `sample` was captured, on this clock."""
        return sample / rate
