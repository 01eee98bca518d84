"""Whisper recognition through CTranslate2 on rtvoice's features: accuracy on real recordings, the short
window padding rule and its fallback, word timestamps against faster-whisper, model checks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from asr_support import wer, whisper

from rtvoice.asr import HallucinationChecks, WhisperConfig, WhisperRecognizer, WindowRule
from rtvoice.metrics.text import normalize_english
from rtvoice.asr.whisper import FULL_WINDOW, FULL_WINDOW_FRAMES, check_model_dir
from rtvoice.errors import AudioFormatError, ModelError
from rtvoice.models import packaged_model


@pytest.fixture(scope="module")
def rec():
    return whisper()


@pytest.fixture(scope="module")
def offline(rec, speech_recordings):
    """Offline decode of every utterance with the default (short, padded) window."""
    return {r.id: rec.transcribe(r.load(), word_timestamps=True) for r in speech_recordings}


def test_offline_wer_on_shared_recordings(offline, speech_recordings):
    # tiny.en int8 greedy: ~4-6% here (the shared data README quotes 6.1% with a plainer normalisation).
    score = wer([r.text for r in speech_recordings], [offline[r.id].text for r in speech_recordings])
    assert score <= 0.08, score


@pytest.mark.slow
def test_short_window_matches_full_window(rec, offline, speech_recordings, more_speech_recordings):
    """The measured padding rule (speech + 5 s, rounded up to 1 s) costs no accuracy against Whisper's 30 s
    window, with much less audio encoded: over the 69 shared utterances (1038 words after normalising) its WER
    is within 0.5 points of the 30 s window's.

    Which of the two gets a word right is rounding: measured under every CPU instruction set this machine
    runs (docs/asr.md), the short window made 65-66 errors and the 30 s window 65-68; on an AVX2-only CPU
    the 30 s window hears "ill disposed" in two of the 11 speech/ utterances where the short one hears
    "old sposed", and gets three speech_more/ words wrong that the short one gets right. A comparison on the
    11 utterances alone (115 words) therefore passes or fails with the CPU. (Those counts were scored with
    rtvoice's earlier normaliser, 1062 words. With Whisper's EnglishTextNormalizer, 1038 words: 71 errors
    short, 76 for 30 s natively on the Intel Xeon with AMX, where the earlier one counted 66 and 73; both
    windows gain the same words, as the reference's parenthesised words it drops, so the 0.5-point margin,
    5 words, still lies outside the 1 word the windows differ by at worst under the levels measured.)"""
    more = {r.id: rec.transcribe(r.load(), word_timestamps=False) for r in more_speech_recordings}
    recordings = speech_recordings + more_speech_recordings
    short = [offline[r.id] if r.id in offline else more[r.id] for r in recordings]
    full = [rec.transcribe(r.load(), word_timestamps=False, window=FULL_WINDOW).text for r in recordings]
    refs = [r.text for r in recordings]
    short_wer, full_wer = wer(refs, [t.text for t in short]), wer(refs, full)
    assert short_wer <= full_wer + 0.005, (short_wer, full_wer)
    # The short window is what runs: a fallback to 30 s only where the checks flag a result (2 of the 69,
    # pocketsphinx "cards" of 1-2 s, under every instruction set measured).
    assert sum(t.fell_back for t in short) <= 4
    assert all(t.window_frames < FULL_WINDOW_FRAMES for t in short if not t.fell_back)


def test_window_rule_frames():
    rule = WindowRule(margin=500, multiple=100)
    assert rule.frames(1) == 600
    assert rule.frames(299) == 800
    assert rule.frames(300) == 800
    assert rule.frames(301) == 900
    assert rule.frames(2900) == FULL_WINDOW_FRAMES
    assert WindowRule(margin=0, multiple=1, minimum=1000).frames(10) == 1000
    with pytest.raises(ValueError):
        WindowRule(multiple=0)


def test_unpadded_window_hallucinates_and_fallback_recovers(rec, speech_recordings):
    """Without padding Whisper repeats itself; the checks see it and the fallback to the full window gives
    the full window's text."""
    no_padding = WindowRule(margin=0, multiple=1)
    caught = 0
    for r in speech_recordings[5:8]:  # Harvard sentences: short, they repeat without padding
        audio = r.load()
        bare = rec.transcribe(audio, window=no_padding, fallback=False, word_timestamps=False)
        if not bare.problems:
            continue
        caught += 1
        assert len(normalize_english(bare.text).split()) > len(normalize_english(r.text).split())
        fixed = rec.transcribe(audio, window=no_padding, fallback=True, word_timestamps=False)
        full = rec.transcribe(audio, window=FULL_WINDOW, fallback=False, word_timestamps=False)
        assert fixed.fell_back and fixed.window_frames == FULL_WINDOW_FRAMES
        assert fixed.text == full.text
    assert caught >= 2


@pytest.mark.parametrize("text, seconds, expected", [
    ("The pencils have all been used. The pencils have all been used.", 2.3, "repeated"),
    ("At that high level, the air is pure. At that high level, the air", 2.7, "repeated"),
    (" 5 5 5 5 5 5 5 5 5", 1.5, "repeated"),
    ("He was not an old-s-s-y-y-y-y-y", 2.99, "repeated"),  # a loop glued by hyphens (captured audio, CI)
    ("The well-to-do U.S. family paid $5,000.", 2.5, None),
    (" one two three four five six seven eight nine ten eleven", 1.0, "words in"),
    ("And Mr. John Dashwood had then leisure to consider how much there might be prudently", 7.1, None),
    ("Drop the two when you add the figures.", 3.15, None),
    ("No, no, it is fine.", 1.5, None),
])
def test_hallucination_checks(text, seconds, expected):
    problems = HallucinationChecks().problems(text, avg_logprob=-0.3, seconds=seconds, truncated=False)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def test_hallucination_checks_compression_and_logprob():
    checks = HallucinationChecks()
    looping = "la " * 40
    assert any("compression" in p for p in checks.problems(looping, -0.2, 30.0, False))
    assert any("log-prob" in p for p in checks.problems("Hello there.", -1.5, 1.0, False))
    assert any("length limit" in p for p in checks.problems("Hello there.", -0.2, 1.0, True))


def test_word_timestamps_agree_with_faster_whisper(rec, offline, speech_recordings):
    """Word starts from rtvoice's alignment match faster-whisper's (same model, its own feature extractor and
    alignment code) on the words both produce."""
    import faster_whisper

    model = faster_whisper.WhisperModel(str(packaged_model("whisper-tiny.en-ct2").directory), device="cpu",
                                        compute_type="int8", cpu_threads=2)
    start_errors, end_errors = [], []
    for r in speech_recordings[:1] + speech_recordings[10:]:
        ours = offline[r.id].words
        segments, _ = model.transcribe(r.load(), beam_size=1, word_timestamps=True, without_timestamps=True,
                                       condition_on_previous_text=False, vad_filter=False)
        theirs = [w for s in segments for w in s.words]
        common = 0
        for a, b in zip(ours, theirs):
            if normalize_english(a.text) != normalize_english(b.word):
                break
            common += 1
            start_errors.append(abs(a.start - b.start))
            end_errors.append(abs(a.end - b.end))
        assert common >= 5, (r.id, [w.text for w in ours], [w.word for w in theirs])
    assert max(start_errors) <= 0.1
    assert np.median(end_errors) <= 0.05


def test_words_cover_the_text_in_order(offline, speech_recordings):
    for r in speech_recordings:
        t = offline[r.id]
        assert "".join(w.text for w in t.words).strip() == t.text.strip()
        starts = [w.start for w in t.words]
        assert starts == sorted(starts)
        assert all(0 <= w.start <= w.end <= t.audio_seconds + 1e-6 for w in t.words)
        assert all(0 < w.probability <= 1 for w in t.words)


def test_words_fall_inside_the_speech(rec, dev_long):
    """In dev_long the utterances are separated by digital silence: a window holding one utterance after
    1 s of that silence must place its first word after the silence."""
    audio = dev_long.load()
    first_end = 113600  # the first utterance is 7.10 s; zeros follow
    nonzero = np.flatnonzero(audio[first_end:])
    second_start = first_end + int(nonzero[0])
    window = audio[second_start - 16000:second_start + 3 * 16000]
    t = rec.transcribe(window)
    assert t.words and abs(t.words[0].start - 1.0) <= 0.25, t.words[:2]


def test_committed_prefix_is_kept(rec, speech_recordings):
    audio = speech_recordings[0].load()
    full = rec.transcribe(audio, word_timestamps=False)
    prefix = full.tokens[:5]
    again = rec.transcribe(audio, prefix=prefix, word_timestamps=False)
    assert again.tokens[:5] == prefix
    assert again.text == full.text


def test_token_probabilities_agree_with_the_alignment_pass(rec, speech_recordings):
    """Transcript.token_probs (the softmax of the logits CTranslate2 returns per generated step) against the
    probabilities CTranslate2's own alignment pass gives the same tokens in one teacher-forced pass (each
    word's mean, Word.probability). The two normalise over slightly different sets (generation suppresses
    some tokens, a blank at the first step among them; alignment leaves out the end of text), so the first
    word and a few others differ (measured on the 11 utterances: up to 0.17); the rest agree to 0.01. The
    forced prefix is not computed."""
    differences = []
    for clip in speech_recordings[:6]:
        audio = clip.load()
        result = rec.transcribe(audio, word_timestamps=True, token_probabilities=True)
        assert len(result.token_probs) == len(result.tokens)
        pieces = rec.tokenizer.split_words(result.tokens)
        assert len(pieces) == len(result.words)
        ours = [float(np.mean(result.token_probs[p.first:p.last])) for p in pieces]
        assert all(0.0 < p <= 1.0 for p in ours), (clip.id, ours)
        differences += [abs(p - w.probability) for p, w in zip(ours[1:], result.words[1:])]
        k = len(result.tokens) // 2
        forced = rec.transcribe(audio, prefix=result.tokens[:k], word_timestamps=False, token_probabilities=True)
        assert np.isnan(forced.token_probs[:k]).all()
        generated = np.asarray(forced.token_probs[k:])
        assert len(generated) and ((generated > 0) & (generated <= 1)).all()
    assert np.percentile(differences, 90) < 0.03 and max(differences) < 0.25, differences


def test_silence_gives_no_text(rec):
    t = rec.transcribe(np.zeros(16000 * 2, np.float32))
    assert t.text.strip() == "" or t.problems or t.no_speech_prob > 0.5


def test_bad_audio(rec):
    with pytest.raises(AudioFormatError, match="30 s"):
        rec.transcribe(np.zeros(16000 * 31, np.float32))
    with pytest.raises(AudioFormatError, match="mono"):
        rec.transcribe(np.zeros((100, 2), np.float32))


def test_model_directory_checks(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        check_model_dir(tmp_path / "nope")
    with pytest.raises(ModelError, match="missing model.bin, config.json, tokenizer.json, vocabulary.txt"):
        check_model_dir(tmp_path)
    source = packaged_model("whisper-tiny.en-ct2").directory
    for name in ("model.bin", "tokenizer.json", "vocabulary.txt"):
        (tmp_path / name).symlink_to(source / name)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        check_model_dir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "TransformerDecoder"}))
    with pytest.raises(ModelError, match="not a CTranslate2 Whisper config"):
        check_model_dir(tmp_path)


def test_other_model_directory_loads(tmp_path):
    """--asr-model takes any CTranslate2 Whisper directory (here a copy of the packaged one)."""
    source = packaged_model("whisper-tiny.en-ct2").directory
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(source / name, tmp_path / name)
    rec = WhisperRecognizer(WhisperConfig(model_dir=tmp_path, device="cpu", threads=1))
    assert rec.model_name == str(tmp_path) and not rec.multilingual
    (tmp_path / "model.bin").write_bytes(b"\0" * 64)
    with pytest.raises(ModelError, match="cannot load"):
        WhisperRecognizer(WhisperConfig(model_dir=tmp_path, device="cpu"))


def test_device_and_config_validation():
    import ctranslate2

    with pytest.raises(ValueError, match="device"):
        WhisperConfig(device="tpu")
    with pytest.raises(ValueError):
        WhisperConfig(beam_size=0)
    if ctranslate2.get_cuda_device_count() == 0:
        with pytest.raises(ModelError, match="no CUDA GPU"):
            WhisperRecognizer(WhisperConfig(device="cuda"))
        assert whisper().device == "cpu"
    with pytest.raises(ModelError, match="not supported"):
        WhisperRecognizer(WhisperConfig(device="cpu", compute_type="float16"))


def test_decoder_runs_on_its_own_instance_with_its_own_threads(rec, speech_recordings):
    """decoder_threads=1 decodes on a second, one-thread copy of the model; one copy (None) is the same
    recogniser, as accurate: WER of the two within a word of each other over the recordings. The default
    ("auto") times both on this CPU and keeps the faster, and says so."""
    separate = WhisperRecognizer(WhisperConfig(device="cpu", threads=2, decoder_threads=1))
    single = WhisperRecognizer(WhisperConfig(device="cpu", threads=2, decoder_threads=None))
    assert separate._decoder is not separate._model and single._decoder is single._model
    assert separate.decoder_choice is None and single.decoder_choice is None
    refs = [r.text for r in speech_recordings]
    one_copy = [single.transcribe(r.load(), word_timestamps=False).text for r in speech_recordings]
    two_copies = [separate.transcribe(r.load(), word_timestamps=False).text for r in speech_recordings]
    words = sum(len(r.split()) for r in refs)
    assert abs(wer(refs, one_copy) - wer(refs, two_copies)) <= 1.5 / words

    choice = rec.decoder_choice
    assert choice is not None and choice["separate_s"] > 0 and choice["shared_s"] > 0
    assert choice["separate"] == (choice["separate_s"] < choice["shared_s"])
    assert (rec._decoder is not rec._model) == choice["separate"]
    assert ("its own one-thread copy" if choice["separate"] else "the same copy") in rec.describe()
    for bad in (-1, "fast", 1.5):
        with pytest.raises(ValueError, match="decoder_threads"):
            WhisperConfig(decoder_threads=bad)


@pytest.mark.gpu
def test_cuda_matches_cpu(speech_recordings):
    import ctranslate2

    if ctranslate2.get_cuda_device_count() == 0:
        pytest.skip("no CUDA GPU visible to CTranslate2")
    gpu = WhisperRecognizer(WhisperConfig(device="auto"))
    assert gpu.device == "cuda"
    refs = [r.text for r in speech_recordings]
    hyps = [gpu.transcribe(r.load()).text for r in speech_recordings]
    assert wer(refs, hyps) <= 0.08
