"""Captions in two languages: `rtvoice caption --translate-to LANG` on a real recording writes a source and a
target caption file with the same cues at the same times, the target in the target language; the JSONL
events carry their language and source caption id; a translation is never out before its source final."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pysubs2
import pytest
import sacrebleu
import srt

from rtvoice.captions.translated import translated_cues
from rtvoice.captions.writers import CaptionLayout, Cue
from rtvoice.mt import open_translator

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def run_rtvoice(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "rtvoice", *map(str, args)], env=ENV, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module", params=["pt", "es"])
def dev_long_translated(request, tmp_path_factory, dev_long):
    """dev_long.wav (53 s, 11 utterances) captioned with its translation, every output in both languages."""
    target = request.param
    out = tmp_path_factory.mktemp(f"translated-{target}")
    files = {f"{lang}.{kind}": out / f"{lang}.{kind}" for lang in ("en", target) for kind in ("srt", "vtt", "jsonl")}
    result = run_rtvoice("caption", dev_long.path, "--threads", "2", "--translate-to", target,
                         "--srt", files["en.srt"], "--srt", f"{target}={files[f'{target}.srt']}",
                         "--vtt", files["en.vtt"], "--vtt", f"{target}={files[f'{target}.vtt']}",
                         "--jsonl", files["en.jsonl"], "--jsonl", f"{target}={files[f'{target}.jsonl']}",
                         "--stats", out / "stats.json")
    assert result.returncode == 0, result.stderr
    return target, files, json.loads((out / "stats.json").read_text()), result


def test_both_caption_files_have_the_same_cues_at_the_same_times(dev_long_translated):
    target, files, _, _ = dev_long_translated
    for kind in ("srt", "vtt"):
        source = pysubs2.load(str(files[f"en.{kind}"]))
        translated = pysubs2.load(str(files[f"{target}.{kind}"]))
        assert len(source) >= 8 and len(translated) == len(source)
        assert [(e.start, e.end) for e in translated] == [(e.start, e.end) for e in source]
        assert all(e.plaintext.strip() for e in translated)
    cues = list(srt.parse(files[f"{target}.srt"].read_text(encoding="utf-8")))  # the strict reader too
    assert [c.index for c in cues] == list(range(1, len(cues) + 1))


def test_target_captions_are_in_the_target_language(dev_long_translated, dev_long):
    """Against the reference transcript translated by the same backend (text → translation, no speech): the
    captions' translation scores close to it, and far above the English itself (measured: chrF pt 82.2,
    es 86.9; the English captions against that reference 24; the English captions against the English
    transcript 90.4)."""
    target, files, _, _ = dev_long_translated
    captions = " ".join(e.plaintext.replace("\n", " ") for e in pysubs2.load(str(files[f"{target}.srt"])))
    english = " ".join(e.plaintext.replace("\n", " ") for e in pysubs2.load(str(files["en.srt"])))
    with open_translator("en", target) as translator:
        reference = " ".join(translator.translate_text(line) for line in _sentences(dev_long.text))
    score = sacrebleu.corpus_chrf([captions], [[reference]]).score
    untranslated = sacrebleu.corpus_chrf([english], [[reference]]).score
    assert score >= 72 and score > untranslated + 40, (score, untranslated)


def _sentences(text: str) -> list[str]:
    import re

    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def test_jsonl_carries_language_and_source_caption_id(dev_long_translated):
    target, files, stats, _ = dev_long_translated
    source = [json.loads(line) for line in files["en.jsonl"].read_text(encoding="utf-8").splitlines()]
    translated = [json.loads(line) for line in files[f"{target}.jsonl"].read_text(encoding="utf-8").splitlines()]
    finals = {e["segment"]: e for e in source if e["kind"] == "final" and e["text"].strip()}
    assert {e["language"] for e in source} == {"en"}
    assert [e["source"] for e in translated] == sorted(finals)  # every final, in order, once
    for event in translated:
        final = finals[event["source"]]
        assert event["language"] == target and event["source_language"] == "en"
        assert event["source_text"] == final["text"] and event["text"] != final["text"]
        assert (event["start"], event["end"]) == (final["start"], final["end"])
        assert event["emitted_at"] >= final["emitted_at"]  # never before its source is final
    t = stats["translation"]
    assert t["translated_lines"] == len(finals) and t["failed_lines"] == 0 and t["lines"] == len(finals)


def test_translated_lines_on_the_terminal_follow_their_source(dev_long_translated):
    target, _, _, result = dev_long_translated
    lines = result.stdout.splitlines()
    marked = [i for i, line in enumerate(lines) if line.startswith(f"[{target}] ")]
    plain = [i for i, line in enumerate(lines) if not line.startswith("[")]
    assert marked and len(marked) == len(plain) and len(lines) == 2 * len(plain)
    assert all(t > s for s, t in zip(plain, marked))  # the k-th translation after the k-th source line
    assert f"translation: en→{target}" in result.stderr


def test_translated_cues_follow_the_source_cues():
    source = [Cue(0.0, 2.0, ("one two three four five six",)), Cue(2.0, 3.5, ("seven eight nine",)),
              Cue(3.5, 4.0, ("ten",))]
    text = "um dois três quatro cinco seis sete oito nove dez onze"
    cues = translated_cues(source, text, CaptionLayout(max_chars=12, max_lines=2))
    assert [(c.start, c.end) for c in cues] == [(c.start, c.end) for c in source]
    assert " ".join(" ".join(c.lines) for c in cues) == text  # every word, in order
    assert all(len(line) <= 12 for c in cues for line in c.lines)
    assert translated_cues(source, "", CaptionLayout()) == []
    short = translated_cues(source, "sim", CaptionLayout())  # fewer words than cues: no empty cue
    assert [c.lines for c in short] == [("sim",)]


@pytest.mark.parametrize("flags, message", [
    (["--srt", "pt=x.srt"], "--srt pt=x.srt: no captions in 'pt' (add --translate-to pt)"),
    (["--translate-to", "es", "--vtt", "pt=x.vtt"], "no captions in 'pt' (the captions are in en and es)"),
    (["--translate-to", "de"], "no translation from English (en) to German (de)"),
    (["--translate-to", "pt", "--srt", "a.srt", "--srt", "en=b.srt"], "--srt given twice for 'en' captions"),
])
def test_bad_translation_flags_are_one_line_errors(tmp_path, speech_recordings, flags, message):
    result = run_rtvoice("caption", speech_recordings[0].path, *flags, timeout=60)
    assert result.returncode == 2 and message in result.stderr
    assert result.stderr.count("\n") == 1
