"""The encoder's window: Whisper's audio units and how many mel frames a decode encodes (docs/asr.md,
"Encode only the audio present: the padding rule")."""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_RATE = 16000  # Hz
HOP = 160  # samples per mel frame (10 ms)
FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s window
SECONDS_PER_ENCODER_FRAME = 0.02  # the encoder halves the frame rate


@dataclass(frozen=True)
class WindowRule:
    """How many mel frames to encode for `n` frames of audio: ceil((n + margin) / multiple) * multiple,
    at least `minimum`, at most 3000. The defaults are the measured rule (docs/asr.md)."""

    margin: int = 500  # frames of silence after the audio (5 s)
    multiple: int = 100  # round up to this many frames (1 s), so few distinct shapes are encoded
    minimum: int = 0  # frames

    def __post_init__(self):
        if self.margin < 0 or self.multiple < 1 or self.minimum < 0:
            raise ValueError(f"invalid window rule {self}: margin and minimum >= 0 frames, multiple >= 1")

    def frames(self, n: int) -> int:
        padded = -(-(n + self.margin) // self.multiple) * self.multiple
        return min(FULL_WINDOW_FRAMES, max(padded, self.minimum, n))


FULL_WINDOW = WindowRule(margin=FULL_WINDOW_FRAMES, multiple=FULL_WINDOW_FRAMES)

