"""A pipeline source fed by a network stream: the server pushes decoded frames, a worker delivers them.

The WebSocket handler (the event loop's thread) calls :meth:`SocketSource.offer` with each frame of
float32 samples at the client's rate and channel count; the source's worker thread downmixes and
resamples them to 16 kHz mono (as every source does) and writes them into the front end's input ring.

- ``live=True`` (the client sends audio as it is captured): like a microphone, the worker never waits;
  audio the front end's ring refuses is dropped and counted (``stats.dropped``), and the stream clock is
  observed from arrival times, so latencies are measured from when the audio reached the server.
- ``live=False`` (a recording sent as fast as possible): the worker waits for room in the ring (the
  pipeline's look-ahead limit), :meth:`offer` refuses frames while ``max_queued_s`` of audio is waiting,
  and the handler stops reading the socket until there is room again: TCP flow control paces the client,
  nothing is dropped.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from rtvoice.audio.sources import SAMPLE_RATE, Source, StreamConverter


class SocketSource(Source):
    """Frames pushed by the server's WebSocket handler (see the module docstring).

    Args:
        rate: the client's sample rate (Hz).
        channels: interleaved channels of the frames.
        live: the client paces the audio (see above).
        max_queued_s: audio (s, at the client's rate) that may wait between the handler and the worker.
        name: shown in the stats.
    """

    name = "socket"

    def __init__(self, rate: int, channels: int = 1, live: bool = True, max_queued_s: float = 2.0,
                 name: str = "socket"):
        super().__init__()
        if max_queued_s <= 0:
            raise ValueError(f"max_queued_s must be > 0, got {max_queued_s}")
        self.rate, self.channels, self.live, self.label = rate, channels, live, name
        self._convert = StreamConverter(rate, channels)
        self._queue: deque[np.ndarray] = deque()
        self._queued = 0  # frames waiting
        self._max_queued = max(1, int(max_queued_s * rate))
        self._ended = False
        self._cond = threading.Condition()
        self.queue_dropped = 0  # frames refused because the queue was full (live streams only)

    def describe(self) -> str:
        return (f"stream {self.label} ({self.rate} Hz, {self.channels} ch, "
                f"{'live' if self.live else 'as fast as the server takes it'})")

    @property
    def room(self) -> bool:
        """A frame may be offered without waiting (flow-controlled streams check it first)."""
        with self._cond:
            return self._queued < self._max_queued

    def offer(self, frames: np.ndarray) -> bool:
        """Hand over float32 frames shaped (n, channels). A live stream's frame that does not fit is dropped
        and counted (True is returned all the same: the stream goes on); a flow-controlled stream gets False
        and offers the frame again once :attr:`room` is true."""
        if len(frames) == 0:
            return True
        with self._cond:
            if self._ended:
                return True
            if self._queued >= self._max_queued:
                if not self.live:
                    return False
                self.queue_dropped += len(frames)
                return True
            self._queue.append(frames)
            self._queued += len(frames)
            self._cond.notify()
        return True

    def end(self) -> None:
        """No more audio (the client said end, went away, or was closed): what is queued is still delivered."""
        with self._cond:
            self._ended = True
            self._cond.notify()

    def stop(self) -> None:
        super().stop()
        self.end()

    def _next(self) -> np.ndarray | None:
        with self._cond:
            while not self._queue and not self._ended:
                self._cond.wait(0.1)
            if not self._queue:
                return None
            frames = self._queue.popleft()
            self._queued -= len(frames)
            return frames

    def _run(self) -> None:
        total = 0  # 16 kHz samples delivered (or dropped): the clock's count
        frames_in = 0
        while True:
            frames = self._next()
            if frames is None:
                break
            frames_in += len(frames)
            self.stats.input_frames = frames_in
            converted = self._convert(frames)
            self._deliver(converted, wait=not self.live)
            total += len(converted)
            if self.live:
                self.clock.observe(total)
        self._deliver(self._convert(np.zeros((0, self.channels), np.float32), last=True), wait=not self.live)

    def stats_dict(self) -> dict:
        return {**self.stats.as_dict(), "queue_dropped": self.queue_dropped}


__all__ = ["SocketSource", "SAMPLE_RATE"]
