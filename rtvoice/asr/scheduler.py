"""Decode points: where an open segment's partial decodes happen, and, live, whether one is worth its compute."""

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


class ComputeAwareGate:
    """Live use (``StreamingConfig.schedule`` "compute"): whether a partial decode due now is worth its compute,
    given the last partial's compute time. A partial yields (is not decoded) when

    - all the audio it would add since the last decoded point is silence (the VAD's: a trailing silence began
      before it), so it cannot change what is shown but by guessing at cut words; or
    - a trailing silence has begun and the final prepared in it (at `ready`, the sample by which the VAD tells
      that it lasts pad_after) would be due before this decode ends: the CPU is kept for the final, and a slower
      CPU costs a partial, not a late final.

    Samples are stream samples; `compute_s` is seconds of wall time.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE):
        self.sample_rate = sample_rate
        self.compute_s = 0.0  # the last partial decode's compute (s)

    def took(self, seconds: float) -> None:
        """A partial decode took `seconds` of compute (the next one is expected to take as long)."""
        self.compute_s = seconds

    def yields(self, audio_end: int, last_decoded: int, silence_start: int, ready: int) -> bool:
        """Skip the partial due now (audio received up to `audio_end`, the last decode ran to `last_decoded`)
        in a trailing silence that began at `silence_start` and will have lasted pad_after at `ready`."""
        if silence_start <= last_decoded:
            return True  # nothing but silence since the last decode
        return audio_end + self.compute_s * self.sample_rate >= ready
