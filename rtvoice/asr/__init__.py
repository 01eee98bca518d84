"""Speech recognition: Whisper through CTranslate2 on rtvoice's own features, and the streaming policy that
turns VAD-gated speech segments into partial and final captions. Never imports :mod:`rtvoice.tts`."""

from rtvoice.asr.streaming import CaptionEvent, StreamingConfig, StreamingRecognizer, StreamingStats
from rtvoice.asr.whisper import (
    HallucinationChecks,
    Transcript,
    WhisperConfig,
    WhisperRecognizer,
    WindowRule,
    Word,
)

__all__ = [
    "CaptionEvent",
    "HallucinationChecks",
    "StreamingConfig",
    "StreamingRecognizer",
    "StreamingStats",
    "Transcript",
    "WhisperConfig",
    "WhisperRecognizer",
    "WindowRule",
    "Word",
]
