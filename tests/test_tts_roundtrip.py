"""Round trip: sentences spoken by the voice and transcribed back come out with WER <= 10%.

Transcriber: rtvoice's own recogniser (rtvoice.asr: the packaged Whisper tiny.en through CTranslate2,
fed with rtvoice's log-mel features).
"""

from __future__ import annotations

import jiwer
import numpy as np
import pytest
import soxr
from tts_helpers import LONG, SENTENCES, voice

from rtvoice.asr import WhisperConfig, WhisperRecognizer
from rtvoice.metrics.text import normalize_english
from rtvoice.tts import SynthesisOptions, synthesize


@pytest.mark.slow
def test_spoken_sentences_transcribe_back():
    recognizer = WhisperRecognizer(WhisperConfig(device="cpu"))
    texts = SENTENCES + [LONG]  # LONG is cut into pieces: the joins must not lose words
    audio = [synthesize(voice(), t, SynthesisOptions()) for t in texts]
    hyps = []
    for a in audio:
        pcm = soxr.resample(a, voice().sample_rate, 16000).astype(np.float32)
        hyps.append(recognizer.transcribe(pcm, word_timestamps=False).text)
    wer = jiwer.wer([normalize_english(t) for t in texts], [normalize_english(h) for h in hyps])
    assert wer <= 0.10, list(zip(texts, hyps))
