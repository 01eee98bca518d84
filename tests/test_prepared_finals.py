"""Prepared finals: a segment's final is decoded while the endpointer waits out the trailing silence, and
emitted as it is when the end comes; speech that resumes drops it. Driven chunk by chunk as the front end's
worker drives the endpointer (real recordings, the real VAD and endpointer)."""

from __future__ import annotations

import numpy as np
import pytest
from asr_support import wer, whisper
from speech_data import load_speech

from rtvoice.asr import StreamingConfig, StreamingRecognizer
from rtvoice.frontend.vad import CHUNK_SAMPLES, Endpointer, EndpointerConfig, SileroVad, VadLevel

SR = 16000


@pytest.fixture(scope="module")
def rec():
    return whisper()


def drive(rec, audio: np.ndarray, config: StreamingConfig = StreamingConfig(), follow: bool = True,
          live: bool = False):
    """Stream `audio` as the pipeline does: per 32 ms chunk its speech probability, its audio, then whatever
    the endpointer says about it. Returns (events, recognizer, decodes run by each end of speech)."""
    endpointing = EndpointerConfig()
    streaming = StreamingRecognizer(rec, config)
    if follow:
        streaming.follow_speech(endpointing.threshold, endpointing.neg_threshold,
                                round(endpointing.pad_after_ms * SR / 1000), CHUNK_SAMPLES)
    probabilities = SileroVad().process(VadLevel().process(audio)[0])
    endpointer = Endpointer(endpointing)
    events, decodes_at_end = [], []

    def handle(segment_events):
        nonlocal events
        for event in segment_events:
            if event.kind == "speech_start":
                events += streaming.start_segment(event.sample)
            else:
                before = rec.decodes
                events += streaming.end_segment(event.sample, forced=event.forced)
                decodes_at_end.append(rec.decodes - before)

    for i, probability in enumerate(probabilities):
        a, b = i * CHUNK_SAMPLES, min(len(audio), (i + 1) * CHUNK_SAMPLES)
        streaming.accept_speech_probabilities([a], [probability])
        events += streaming.accept_audio(audio[a:b], a, decode=not live)
        handle(endpointer.accept(float(probability), b - a))
        if live:
            events += streaming.partial()
    handle(endpointer.finish())
    events += streaming.finish()
    return events, streaming, decodes_at_end


def utterance(name: str, silence_after_s: float = 1.0) -> np.ndarray:
    return np.concatenate([np.zeros(int(0.5 * SR), np.float32), load_speech(name),
                           np.zeros(int(silence_after_s * SR), np.float32)])


@pytest.mark.parametrize("live", [False, True], ids=["every-point", "live"])
def test_the_final_is_decoded_before_the_end_of_speech_is_reported(rec, speech_recordings, live):
    recording = next(r for r in speech_recordings if r.id == "spk1_snt2")
    audio = utterance(recording.id)
    events, streaming, decodes_at_end = drive(rec, audio, live=live)
    finals = [e for e in events if e.is_final]
    assert len(finals) == 1
    assert streaming.stats.prepared_finals == 1  # (and maybe some in the utterance's own pauses, unused)
    assert decodes_at_end == [0]  # nothing left to decode when the endpointer spoke
    assert wer([recording.text], [finals[0].text]) <= 0.2
    # No partial after the audio the final covers: that is the silence it was prepared in.
    assert all(e.end <= finals[0].end + 0.1 + 1e-6 for e in events if not e.is_final)

    # Without the speech probabilities the final is decoded when the end comes.
    events, streaming, decodes_at_end = drive(rec, audio, follow=False, live=live)
    assert streaming.stats.prepared_finals == 0 and decodes_at_end[0] >= 1
    assert wer([recording.text], [[e for e in events if e.is_final][0].text]) <= 0.2


def test_speech_that_resumes_drops_the_prepared_final(rec, speech_recordings):
    first, second = (next(r for r in speech_recordings if r.id == i) for i in ("spk1_snt2", "spk1_snt3"))
    # A pause the VAD hears as silence for longer than pad_after but shorter than the endpointer's min_silence.
    head = utterance(first.id, silence_after_s=0.25)
    gap = (len(head) - int(0.25 * SR), len(head))
    audio = np.concatenate([head, load_speech(second.id), np.zeros(SR, np.float32)])
    prepared_ends = []
    original = StreamingRecognizer._prepare

    def noting(self, silence, end):
        prepared_ends.append(end)
        return original(self, silence, end)

    StreamingRecognizer._prepare = noting
    try:
        events, streaming, decodes_at_end = drive(rec, audio)
    finally:
        StreamingRecognizer._prepare = original
    finals = [e for e in events if e.is_final]
    assert len(finals) == 1, [e.text for e in finals]
    assert any(gap[0] <= end <= gap[1] for end in prepared_ends), (prepared_ends, gap)  # prepared in the pause
    assert streaming.stats.prepared_unused >= 1  # and dropped when speech resumed
    assert streaming.stats.prepared_finals == 1 and decodes_at_end == [0]
    assert wer([first.text + " " + second.text], [finals[0].text]) <= 0.2


def test_prepared_finals_can_be_switched_off(rec, speech_recordings):
    recording = next(r for r in speech_recordings if r.id == "spk1_snt2")
    events, streaming, decodes_at_end = drive(rec, utterance(recording.id), StreamingConfig(prepare_finals=False))
    assert streaming.stats.prepared_finals == 0 and decodes_at_end[0] >= 1
    assert len([e for e in events if e.is_final]) == 1
