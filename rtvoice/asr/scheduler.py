"""Decode points: where an open segment's partial decodes happen."""

from __future__ import annotations

from rtvoice.asr.window import SAMPLE_RATE


class DecodePoints:
    """Partial decodes happen at fixed points, segment start + k x `interval_s` (the first at or after
    `min_partial_audio_s`), whatever the chunking and timing of the audio, so a stream gives the same captions
    live as read from a file whenever the machine keeps up. Samples are stream samples; `next` is the next
    point not yet decoded or passed."""

    def __init__(self, interval_s: float, min_partial_audio_s: float):
        self.interval = int(round(interval_s * SAMPLE_RATE))
        self.min_partial_audio_s = min_partial_audio_s
        self.next = 0

    def start(self, segment_start: int) -> None:
        """A segment (or the rest of a split one) begins at `segment_start`."""
        first = max(1, -(-int(round(self.min_partial_audio_s * SAMPLE_RATE)) // self.interval))
        self.next = segment_start + first * self.interval

    def decoded(self, end: int) -> None:
        """The point at `end` was decoded (or passed over): the next one follows it."""
        self.next = end + self.interval

    def step(self) -> None:
        """The next point is taken (by a prepared final) or skipped."""
        self.next += self.interval

    def catch_up(self, reach: int) -> int:
        """Live use, behind: move to the latest point reached by `reach`; returns how many points were passed
        over (skipped, not decoded)."""
        latest = self.next + (reach - self.next) // self.interval * self.interval
        skipped = (latest - self.next) // self.interval
        self.next = latest
        return skipped
