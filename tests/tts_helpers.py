"""Shared set-up for the voice tests: one loaded voice per test session, Piper's own voice as reference."""

from __future__ import annotations

import functools

import numpy as np

SHORT = "Hello there, friend."
LONG = ("The committee met on Tuesday afternoon to review the quarterly budget and after a long discussion "
        "about travel costs and new equipment they agreed to postpone the final decision until the director "
        "returns from the conference next month.")
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "We will meet at the station at seven in the morning.",
    "She sells sea shells by the sea shore.",
    "Streaming speech should start quickly and sound natural.",
]


@functools.lru_cache(maxsize=None)
def voice(streaming: bool = True):
    from rtvoice.tts import VoiceOptions, load_voice

    return load_voice(None, VoiceOptions(providers="cpu", streaming=streaming))


@functools.lru_cache(maxsize=None)
def piper_voice():
    from piper import PiperVoice

    v = voice()
    return PiperVoice.load(str(v.model_path), str(v.config_path))


def piper_audio(text: str, **config) -> np.ndarray:
    """Piper's own synthesis of text, sentences joined (what `piper` writes to a WAV)."""
    from piper.config import SynthesisConfig

    chunks = [c.audio_float_array for c in piper_voice().synthesize(text, SynthesisConfig(**config))]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def deterministic(**overrides):
    """Synthesis options with the sampling noise off and no gain, so output compares with Piper's."""
    from rtvoice.tts import SynthesisOptions

    return SynthesisOptions(**{"noise_scale": 0.0, "noise_w": 0.0, "normalize": False, **overrides})
