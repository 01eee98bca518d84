"""Round trip: sentences spoken by the voice and transcribed back come out with WER <= 10%.

Interim transcriber: Whisper tiny.en (CTranslate2, the packaged default model) through faster-whisper.
The lead switches this to rtvoice's own recogniser (rtvoice.asr) once it lands.
"""

from __future__ import annotations

import re

import jiwer
import numpy as np
import pytest
import soxr
from tts_helpers import LONG, SENTENCES, voice

from rtvoice.models import packaged_model
from rtvoice.tts import SynthesisOptions, synthesize


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]", " ", text.lower())).strip()


@pytest.mark.slow
def test_spoken_sentences_transcribe_back():
    from faster_whisper import WhisperModel

    model = WhisperModel(str(packaged_model("whisper-tiny.en-ct2").directory), device="cpu",
                         compute_type="int8", cpu_threads=2)
    texts = SENTENCES + [LONG]  # LONG is cut into pieces: the joins must not lose words
    audio = [synthesize(voice(), t, SynthesisOptions()) for t in texts]
    hyps = []
    for a in audio:
        pcm = soxr.resample(a, voice().sample_rate, 16000).astype(np.float32)
        segments, _ = model.transcribe(pcm, language="en", beam_size=1, vad_filter=False,
                                       condition_on_previous_text=False)
        hyps.append(" ".join(s.text for s in segments))
    wer = jiwer.wer([_normalize(t) for t in texts], [_normalize(h) for h in hyps])
    assert wer <= 0.10, list(zip(texts, hyps))
