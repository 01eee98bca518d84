"""First pieces synthesised ahead of their line, for a voice that cannot stream inside a piece (Kokoro).

Kokoro computes a piece whole before its first sample, so a line's first audio waits for the whole first
piece (about 0.8 s on 2 cores). A caller that can guess the line before it is final (the translation of the
latest partial caption, rtvoice.pipeline.speculation) has that piece synthesised ahead; when the line comes
and its first piece is the one prepared (the same phoneme ids at the same speed), the voice starts with it
at once. Nothing prepared is ever played unless the line that is spoken begins with exactly it: preparing
changes when a line's first audio is ready, never what is said.

Pieces are keyed by (phoneme ids, speed). The latest ``SLOTS`` are kept; a line whose key is still being
synthesised waits for that synthesis instead of starting a second one, and a line whose key is not there
stops the guesses still being synthesised (:meth:`PreparedPieces.stop_others`), so that they do not take
the CPU from it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

SLOTS = 2  # pieces kept: the one being prepared and the one before it (its line may not have come yet)


@dataclass
class _Piece:
    ready: threading.Event = field(default_factory=threading.Event)
    audio: np.ndarray | None = None  # None once ready: the synthesis failed or was stopped
    compute_s: float = 0.0
    stop: object = None  # what stops its synthesis (an ONNX Runtime RunOptions: terminate = True)


class PreparedPieces:
    """The latest first pieces synthesised ahead, with counts for --stats (thread-safe)."""

    def __init__(self) -> None:
        self._pieces: dict[tuple, _Piece] = {}
        self._lock = threading.Lock()
        self.prepared = 0  # syntheses run ahead
        self.used = 0  # lines that started with a prepared piece
        self.unused = 0  # prepared pieces dropped without being spoken (the line turned out otherwise)
        self.stopped = 0  # guesses stopped half-way: a line that began otherwise needed the CPU
        self.compute_s = 0.0  # synthesis time (s) spent ahead, used or not
        self.unused_compute_s = 0.0

    def claim(self, key: tuple, stop: object = None) -> _Piece | None:
        """Reserve ``key`` for a synthesis ahead (hand the result to :meth:`fulfil`; ``stop``: its ONNX Runtime
        RunOptions, for :meth:`stop_others`): None when it is already prepared or being prepared."""
        with self._lock:
            if key in self._pieces:
                return None
            claimed = self._pieces[key] = _Piece(stop=stop)
            while len(self._pieces) > SLOTS:
                old_key = next(iter(self._pieces))
                old = self._pieces.pop(old_key)
                if old.ready.is_set():
                    self.unused += 1
                    self.unused_compute_s += old.compute_s
            return claimed

    def fulfil(self, key: tuple, piece: _Piece, audio: np.ndarray | None, compute_s: float) -> None:
        """The synthesis of a claimed ``key`` (``piece``, from :meth:`claim`) is done (``audio`` None: it
        failed)."""
        with self._lock:
            piece.audio, piece.compute_s = audio, compute_s
            self.prepared += audio is not None
            self.compute_s += compute_s
            if self._pieces.get(key) is not piece:  # dropped while it ran: a newer guess took its slot
                self.unused += audio is not None
                self.unused_compute_s += compute_s
            elif audio is None:  # failed or stopped: what it ran is spent for nothing
                del self._pieces[key]
                self.unused_compute_s += compute_s
        piece.ready.set()  # a line waiting for it goes on (with its own synthesis if it failed)

    def stop_others(self, key: tuple) -> None:
        """A line whose first piece is ``key`` is being synthesised: stop every other guess still running."""
        with self._lock:
            running = [p for k, p in self._pieces.items() if k != key and not p.ready.is_set() and p.stop]
            self.stopped += len(running)
        for piece in running:
            piece.stop.terminate = True

    def take(self, key: tuple, wait_s: float = 5.0) -> np.ndarray | None:
        """The prepared audio for ``key`` (waiting up to ``wait_s`` for one being synthesised), removed from
        the store; None when nothing was prepared for it."""
        with self._lock:
            piece = self._pieces.get(key)
        if piece is None or not piece.ready.wait(wait_s):
            return None
        with self._lock:
            if self._pieces.get(key) is piece:
                del self._pieces[key]
            if piece.audio is None:
                return None
            self.used += 1
        return piece.audio

    def speeds(self, ids: tuple, speaker: str | None = None) -> list[float]:
        """The speeds at which a first piece of phoneme ids ``ids`` by ``speaker`` is prepared or being prepared (a
        paced voice may choose one of them: the piece is then ready at once)."""
        with self._lock:
            return [speed for key_ids, speed, key_speaker in self._pieces if key_ids == ids and key_speaker == speaker]

    def stats(self) -> dict:
        with self._lock:
            return {"prepared": self.prepared, "used": self.used, "unused": self.unused, "stopped": self.stopped,
                    "compute_s": round(self.compute_s, 3), "unused_compute_s": round(self.unused_compute_s, 3)}
