"""What the front end's thread hands over, released to the recognizer in stream order (virtual clocks).

The front-end worker queues, chunk by chunk (512 samples), the clean audio, then the chunk's speech probability,
then the segment events the endpointer emitted on it. The caption loop reads those queues whenever it gets to
them, so how far each has got when it reads is down to thread timing. On a virtual clock that timing must not
show: a run reads the same on any machine (rtvoice.metrics.clock). So audio is released only up to where every
event that could fall inside it is known, each chunk's probability with its first audio, and events at their
stream position:

- The newest probability read vouches for every event of the chunks before it (the worker queued them first):
  events are known up to that chunk's start (``known_through``).
- An event is emitted at most ``report_delay`` samples after its own position (the endpointer's longest wait:
  pad_before + min_speech + min_silence, plus two chunks), so audio is released up to
  ``known_through - report_delay``.
- Once the front end is done, everything is known.

A split the endpointer forces on a segment longer than its ``max_segment_s`` (at the middle of the longest pause,
possibly many seconds back) is the one event that can come after its audio was released; it then applies where
the audio has got to, as in a live run.
"""

from __future__ import annotations

import numpy as np

from rtvoice.frontend.vad import EndpointerConfig, SegmentEvent


def report_delay(config: EndpointerConfig) -> int:
    """Samples by which the endpointer may emit a non-forced event after the event's own stream position."""
    chunk = config.chunk_samples
    wait_ms = config.pad_before_ms + config.min_speech_ms + config.min_silence_ms
    return int(np.ceil(wait_ms * config.sample_rate / 1000.0)) + 2 * chunk


class InOrderRelease:
    """Keeps what was read from the front end until it can be released in stream order.

    report_delay: samples (see :func:`report_delay`). block: audio is released in whole blocks of this many
        samples (the virtual clock's arrivals), so that no block is cut where the reads happened to end.
    """

    def __init__(self, report_delay: int, block: int):
        self.report_delay = int(report_delay)
        self.block = int(block)
        self.known_through = 0  # every event of the chunks before this stream sample has been read
        self._events: list[SegmentEvent] = []
        self._audio: list[tuple[int, np.ndarray]] = []  # (start sample, samples), in stream order
        self._prob_starts = np.zeros(0, np.int64)
        self._probs = np.zeros(0, np.float32)

    def add(self, events, audio_start: int, audio: np.ndarray, prob_starts, probabilities) -> None:
        """One round of reads. The caller reads in this order: events, probabilities, events again, audio; so
        the newest probability vouches for every event of the chunks before it."""
        self._events.extend(events)
        if len(audio):
            self._audio.append((int(audio_start), np.asarray(audio, np.float32)))
        if len(prob_starts):
            self._prob_starts = np.concatenate([self._prob_starts, np.asarray(prob_starts, np.int64)])
            self._probs = np.concatenate([self._probs, np.asarray(probabilities, np.float32)])
            self.known_through = max(self.known_through, int(prob_starts[-1]))

    def take(self, everything: bool = False) -> list[tuple[list[SegmentEvent], int, np.ndarray]]:
        """The audio and events that may go to the recognizer now, as (events, audio start, audio) groups in
        stream order (a group's events fall before its audio ends; a gap the front end dropped starts a new
        group). `everything`: the front end is done, all it queued has been read."""
        upto = None if everything else (self.known_through - self.report_delay) // self.block * self.block
        groups = []
        while self._audio:
            start, samples = self._audio[0]
            end = start + len(samples)
            cut = end if upto is None else min(end, upto)
            if cut <= start:
                break
            if cut < end:
                self._audio[0] = (cut, samples[cut - start:])
            else:
                self._audio.pop(0)
            groups.append((self._events_by(cut), start, samples[:cut - start]))
        late = self._events_by(upto)  # at or before audio already released (or the stream's end)
        if late:
            groups.append((late, 0, np.zeros(0, np.float32)))
        return groups

    def _events_by(self, sample: int | None) -> list[SegmentEvent]:
        """The events at or before stream sample `sample` (None: all); events are in stream order."""
        n = len(self._events) if sample is None else next(
            (i for i, event in enumerate(self._events) if event.sample > sample), len(self._events))
        taken, self._events = self._events[:n], self._events[n:]
        return taken

    def probabilities_before(self, sample: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk starts, probabilities) not yet taken of the chunks starting before stream sample `sample`:
        a chunk's probability is known with the block of audio that reaches into it."""
        n = int(np.searchsorted(self._prob_starts, sample, side="left"))
        starts, probs = self._prob_starts[:n], self._probs[:n]
        self._prob_starts, self._probs = self._prob_starts[n:], self._probs[n:]
        return starts, probs
