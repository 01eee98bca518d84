"""Synthesized voice: Piper (VITS) voices and the Kokoro-82M voice (Spanish, Portuguese) on rtvoice's own
ONNX Runtime sessions, streaming synthesis, playback through the lock-free ring buffer, and a dubbed
track fitted to its source slots.

Nothing here imports :mod:`rtvoice.asr` (``rtvoice.pipeline.engine`` wires the two together).

    from rtvoice.tts import TtsEngine, PlaybackSink, load_voice
    engine = TtsEngine(load_voice(), sinks=[PlaybackSink()])
    engine.speak("Hello there.").wait()
    engine.close()
"""

from rtvoice.tts.engine import CallbackSink, TtsEngine, Utterance
from rtvoice.tts.fitting import FittedTimelineSink
from rtvoice.tts.kokoro import KokoroVoice
from rtvoice.tts.playback import AudioSink, PlaybackSink, TimelineSink, WavSink
from rtvoice.tts.providers import ProviderChoice, choose_providers
from rtvoice.tts.synthesis import Chunk, SynthesisOptions, SynthesisReport, Synthesizer, synthesize
from rtvoice.tts.voice import DEFAULT_VOICE, PiperVoiceModel, VoiceOptions, load_voice

__all__ = [
    "AudioSink",
    "CallbackSink",
    "Chunk",
    "DEFAULT_VOICE",
    "FittedTimelineSink",
    "KokoroVoice",
    "PiperVoiceModel",
    "PlaybackSink",
    "ProviderChoice",
    "SynthesisOptions",
    "SynthesisReport",
    "TimelineSink",
    "Synthesizer",
    "TtsEngine",
    "Utterance",
    "VoiceOptions",
    "WavSink",
    "choose_providers",
    "load_voice",
    "synthesize",
]
