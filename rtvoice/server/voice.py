"""The dubbed voice sent back on a stream's socket (a config with ``"voice": true``).

Each final caption is spoken by the server's voice (one loaded Piper voice, a TtsEngine per stream, as
``rtvoice dub`` does: rtvoice.pipeline.dubbing.DubStage); the audio goes back on the same socket, in order:

    {"type": "voice", "stream", "segment", "text", "sample_rate", "format": "s16le"}   (JSON)
    binary messages: that line's samples, s16le mono at sample_rate, as they are synthesised
    {"type": "voice_end", "stream", "segment", "samples"}                               (JSON)

and, for a live stream, when the voice falls more than ``voice_lag_s`` behind the speaker and when it has
caught up (rtvoice.pipeline.dubbing.VoiceLag, as ``rtvoice dub --lag-warning``):

    {"type": "voice_lag", "stream", "behind": true|false, "lag_s", "message"}                (JSON)
"""

from __future__ import annotations

import numpy as np

from rtvoice.tts import AudioSink


class SocketVoiceSink(AudioSink):
    """TtsEngine sink (the engine's worker thread) → the stream's outbox."""

    def __init__(self, session):
        self.session = session
        self.sample_rate = 0
        self._samples = 0

    def start(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate

    def begin(self, utterance) -> None:
        self._samples = 0
        event = utterance.tag
        self.session.post({"type": "voice", "stream": self.session.id, "segment": getattr(event, "segment", None),
                           "text": utterance.text, "sample_rate": self.sample_rate, "format": "s16le"})

    def write(self, utterance, samples: np.ndarray, offset: int) -> None:
        pcm = np.clip(np.round(np.asarray(samples, dtype=np.float32) * 32767.0), -32768, 32767).astype("<i2")
        self._samples += len(pcm)
        self.session.post(pcm.tobytes())

    def end(self, utterance) -> None:
        self.session.post({"type": "voice_end", "stream": self.session.id,
                           "segment": getattr(utterance.tag, "segment", None), "samples": self._samples})


def voice_stage(voice, session, lag_threshold_s: float = 2.0):
    """A DubStage speaking a stream's finals into its socket, its lag announced as voice_lag events."""
    from rtvoice.pipeline.dubbing import DubStage, VoiceLag
    from rtvoice.tts import TtsEngine

    def announce(behind: bool, lag_s: float, line: str) -> None:
        session.post({"type": "voice_lag", "stream": session.id, "behind": behind, "lag_s": round(lag_s, 3),
                      "message": line})

    lag = VoiceLag(lag_threshold_s, notify=announce)  # and logged, as before
    return DubStage(TtsEngine(voice, sinks=[SocketVoiceSink(session)]), lag=lag)


__all__ = ["SocketVoiceSink", "voice_stage"]
