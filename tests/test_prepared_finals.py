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
          live: bool = False, trace: list | None = None):
    """Stream `audio` as the pipeline does: per 32 ms chunk its speech probability, its audio, then whatever
    the endpointer says about it. Returns (events, recognizer, decodes run by each end of speech). `trace`
    gets (sample the audio reached, decodes run so far, an end of speech reported) after each chunk."""
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
        segment_events = list(segment_events)
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
        said = endpointer.accept(float(probability), b - a)
        handle(said)
        if live:
            events += streaming.partial()
        if trace is not None:
            trace.append((b, rec.decodes, any(e.kind == "speech_end" for e in said)))
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


@pytest.mark.parametrize("clip", ["1089-134691-0001", "1995-1837-0001"])
def test_the_final_is_prepared_once_the_silence_is_known(rec, more_speech_recordings, clip):
    """prepare_on_silence: the final is decoded as soon as the VAD has told that the silence lasts pad_after,
    not at the next decode point (up to partial_interval_s later), so a machine whose decodes are slow has it
    ready sooner. The endpointer reports the end min_silence (300 ms) after the silence began; the prepare can
    start pad_after (100 ms) plus a VAD chunk after it: it leads the report by at least 0.15 s (measured:
    0.192 s on each of the 55 speech_more clips that end in a prepared final). At the next decode point it
    led by 0.032 s at the end of these two LibriSpeech clips (on 32 of the 55 it led by less than on silence, by 0.054 s
    on average, at most 0.16 s). The final is the same."""
    recording = next(r for r in more_speech_recordings if r.id == clip)
    audio = np.concatenate([np.zeros(SR // 2, np.float32), recording.load(), np.zeros(SR, np.float32)])
    leads, finals = {}, {}
    for on_silence in (True, False):
        trace = []
        events, streaming, _ = drive(rec, audio, StreamingConfig(prepare_on_silence=on_silence), trace=trace)
        assert streaming.stats.prepared_finals == streaming.stats.finals  # (the clips have a pause: two)
        reported = max(i for i, (_, _, end) in enumerate(trace) if end)  # the last end of speech
        prepared = max(i for i in range(reported) if trace[i][1] > trace[i - 1][1])  # its last decode
        leads[on_silence] = (trace[reported][0] - trace[prepared][0]) / SR
        finals[on_silence] = [e.text for e in events if e.is_final]
    assert finals[True] == finals[False]
    assert leads[True] >= 0.15, leads
    assert leads[False] <= leads[True] - 0.1, leads  # the two clips' decode points come late in the silence
    assert wer([recording.text], [" ".join(finals[True])]) <= 0.2


@pytest.fixture(scope="module")
def strict():
    """The packaged model with a words-per-second check that real speech (about 3 words/s) fails: every
    short-window decode of a segment is flagged and retried on the 30 s window, on any CPU's rounding."""
    from rtvoice.asr import WhisperConfig, WhisperRecognizer
    from rtvoice.asr.whisper import HallucinationChecks
    checks = HallucinationChecks(max_words_per_second=1.0)
    return WhisperRecognizer(WhisperConfig(device="cpu", threads=2, checks=checks))


def test_a_prepared_final_that_looks_hallucinated_falls_back_in_the_silence(strict, speech_recordings):
    """prepare_fallback: a prepared final whose decode the checks flag is decoded again on the 30 s window at
    once, while the endpointer waits, instead of after the end (where that retry made speech_more's slowest
    finals). The end then decodes nothing, and the final is the one the end would have decoded."""
    recording = next(r for r in speech_recordings if r.id == "spk1_snt2")
    audio = utterance(recording.id)
    outcomes = {}
    for prepare_fallback in (True, False):
        events, streaming, decodes_at_end = drive(strict, audio, StreamingConfig(prepare_fallback=prepare_fallback))
        finals = [e.text for e in events if e.is_final]
        outcomes[prepare_fallback] = (finals, streaming.stats, decodes_at_end)
    finals, stats, decodes_at_end = outcomes[True]
    assert len(finals) == 1 and stats.prepared_finals == 1 and decodes_at_end == [0]
    assert stats.fallbacks >= 1
    assert wer([recording.text], finals) <= 0.2
    finals_off, stats_off, decodes_at_end_off = outcomes[False]
    # At the end: one call, the short window again and then the 30 s one.
    assert stats_off.prepared_finals == 0 and decodes_at_end_off == [1] and stats_off.fallbacks >= 1
    assert finals_off == finals


def test_the_compute_schedule_spends_no_more_decodes_and_keeps_the_prepared_finals(rec, speech_recordings):
    """StreamingConfig(schedule="compute"), live: a partial yields in a trailing silence when only silence came
    since the last decode or the final would be due before it ends (the rule alone: test_asr_scheduler.py).
    On two utterances with a pause between them it decodes no more than the fixed schedule, the finals are
    still prepared in the silence (nothing left to decode at the end), and they are as accurate."""
    first, second = (next(r for r in speech_recordings if r.id == i) for i in ("spk1_snt2", "spk1_snt3"))
    audio = np.concatenate([utterance(first.id, silence_after_s=0.25), load_speech(second.id),
                            np.zeros(SR, np.float32)])
    runs = {}
    for schedule in ("fixed", "compute"):
        events, streaming, decodes_at_end = drive(rec, audio, StreamingConfig(schedule=schedule), live=True)
        runs[schedule] = ([e.text for e in events if e.is_final], streaming.stats, decodes_at_end)
    (fixed_finals, fixed, _), (finals, stats, decodes_at_end) = runs["fixed"], runs["compute"]
    assert fixed.partials_yielded == 0
    assert stats.partial_decodes <= fixed.partial_decodes, (stats.partial_decodes, fixed.partial_decodes)
    assert stats.prepared_finals == stats.finals and set(decodes_at_end) == {0}
    reference = first.text + " " + second.text
    assert wer([reference], [" ".join(finals)]) <= 0.2 and wer([reference], [" ".join(fixed_finals)]) <= 0.2
