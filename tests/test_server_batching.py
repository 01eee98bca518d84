"""Decodes batched across streams: WhisperRecognizer.transcribe_batch and the server's SharedRecognizer."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from asr_support import wer, whisper
from rtvoice.asr.whisper import DecodeRequest, WindowRule
from rtvoice.server.shared_model import SharedRecognizer
from speech_data import load_speech, speech_manifest

IDS = ["spk1_snt1", "spk1_snt2", "sense_and_sensibility_01_austen_64kb-0880", "spk1_snt4"]
TRANSCRIPTS = {r["id"]: r["transcript"] for r in speech_manifest()}


def same_window(batched) -> WindowRule:
    """The padding of a batch's window, for a decode alone: how much silence pads the audio can change a
    word, CPU by CPU (under CT2_FORCE_CPU_ISA=GENERIC "ill-disposed" became "old-sposed" on the batch's longer
    window), so a request is compared with a decode alone on the window it was batched in."""
    return WindowRule(margin=0, multiple=1, minimum=batched.window_frames)


def test_a_batch_gives_what_each_decode_gives_alone():
    model = whisper()
    audios = [load_speech(i) for i in IDS]
    prefix = model.transcribe(audios[1]).tokens[:3]  # a committed prefix forced on one request, as partials do
    requests = [DecodeRequest(a) for a in audios]
    requests[1] = DecodeRequest(audios[1], prefix=tuple(prefix))
    batched = model.transcribe_batch(requests)
    assert len(batched) == len(IDS)
    alone = [model.transcribe(a, prefix=r.prefix, window=same_window(many))
             for a, r, many in zip(audios, requests, batched)]
    for i, (one, many) in enumerate(zip(alone, batched)):
        assert wer([one.text], [many.text]) <= 0.15, (one.text, many.text)
        assert wer([TRANSCRIPTS[IDS[i]]], [many.text]) <= 0.25
        assert many.words and many.words[-1].end <= len(audios[i]) / 16000 + 0.05
    assert batched[1].tokens[:3] == prefix
    assert all(t.window_frames == batched[0].window_frames for t in batched)  # one padded window
    unaligned = model.transcribe_batch([DecodeRequest(audios[0], word_timestamps=False), DecodeRequest(audios[2])])
    assert not unaligned[0].words and unaligned[1].words
    assert model.transcribe_batch([]) == []


def test_requests_with_previous_text_of_different_lengths_share_a_batch_call():
    """Streams with text context (the default, context "both") prompt with previous text of different lengths;
    CTranslate2 refuses such prompts in one generate call ("<|startoftranscript|> ... at the same position"),
    which ended streams of the Ray test with an internal error. Each still gets what it gets alone."""
    model = whisper()
    audios = [load_speech(i) for i in IDS]
    previous = [(), tuple(model.tokenizer.encode(" He was ill.")),
                tuple(model.tokenizer.encode(" The birch canoe slid on the smooth planks.")), ()]
    requests = [DecodeRequest(a, previous=p) for a, p in zip(audios, previous)]
    batched = model.transcribe_batch(requests)
    for i, (audio, prev, many) in enumerate(zip(audios, previous, batched)):
        alone = model.transcribe(audio, previous=list(prev), window=same_window(many))
        assert wer([alone.text], [many.text]) <= 0.15, (alone.text, many.text)
        assert wer([TRANSCRIPTS[IDS[i]]], [many.text]) <= 0.25


def test_calls_due_together_run_as_one_batch():
    shared = SharedRecognizer(whisper(), batching=True)
    audios = [load_speech(i) for i in IDS]
    results: dict[int, str] = {}
    barrier = threading.Barrier(len(IDS))

    def call(i):
        barrier.wait()
        results[i] = shared.transcribe(audios[i], word_timestamps=False).text

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(IDS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert shared.batched_calls == len(IDS)
    assert shared.batches < len(IDS)  # some calls waited and ran together
    for i, text in results.items():
        assert wer([TRANSCRIPTS[IDS[i]]], [text]) <= 0.25, text


def test_without_batching_calls_run_one_at_a_time():
    shared = SharedRecognizer(whisper(), batching=False)
    audios = [load_speech(i) for i in IDS[:3]]
    threads = [threading.Thread(target=shared.transcribe, args=(a,)) for a in audios]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert (shared.batches, shared.batched_calls) == (3, 3)


def test_an_error_reaches_the_caller_and_frees_the_model():
    shared = SharedRecognizer(whisper())
    with pytest.raises(Exception, match="mono"):
        shared.transcribe(load_speech("spk1_snt1").reshape(-1, 2))
    assert "child" in shared.transcribe(load_speech("spk1_snt1")).text.lower()


def test_windows_of_very_different_lengths_are_not_batched_together():
    """Every window of a batch is padded to the longest: a short partial waiting beside a long final runs
    in a batch of its own."""

    class Recording:  # the model, noting the lengths of every batch it is given
        def __init__(self, inner):
            self.inner, self.batches = inner, []

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def transcribe_batch(self, requests):
            self.batches.append(sorted(len(r.audio) for r in requests))
            return self.inner.transcribe_batch(requests)

    model = Recording(whisper())
    shared = SharedRecognizer(model, batching=True, max_padding=1.3)
    short = load_speech("spk1_snt1")[:8000]  # 0.5 s: a 600-frame window
    long = np.concatenate([load_speech(i) for i in IDS] * 2)[:16000 * 20]  # 20 s: a 2500-frame window
    barrier = threading.Barrier(4)

    def call(audio):
        barrier.wait()
        shared.transcribe(audio, word_timestamps=False)

    threads = [threading.Thread(target=call, args=(a,)) for a in (short, long, short, long)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sum(len(b) for b in model.batches) == 4
    assert all(len(set(b)) == 1 for b in model.batches), model.batches  # short and long never together
