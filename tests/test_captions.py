"""Caption writers: SRT and WebVTT files read back by independent parsers (srt, pysubs2), JSONL, wrapping,
the terminal writer, and latency accounting."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import pysubs2
import pytest
import srt

from rtvoice.asr.streaming import CaptionEvent
from rtvoice.asr.whisper import Word
from rtvoice.captions.writers import (
    CaptionFanout,
    CaptionLayout,
    JsonlWriter,
    SrtWriter,
    TerminalWriter,
    VttWriter,
    cues_for,
    format_timestamp,
    wrap_words,
)
from rtvoice.metrics.latency import LatencyTracker


def _words(text: str, start: float, step: float = 0.4) -> tuple[Word, ...]:
    return tuple(Word(" " + w, start + i * step, start + (i + 1) * step - 0.05, 0.9)
                 for i, w in enumerate(text.split()))


def _final(segment: int, text: str, start: float, emitted_at: float = 0.0, latency=None) -> CaptionEvent:
    words = _words(text, start)
    return CaptionEvent("final", segment, text, text, "", words[0].start, words[-1].end, words, len(words),
                        emitted_at=emitted_at, latency=latency)


def _partial(segment: int, committed: str, unstable: str, start: float, end: float, emitted_at: float):
    text = (committed + " " + unstable).strip()
    return CaptionEvent("partial", segment, text, committed, unstable, start, end, (), len(committed.split()),
                        emitted_at=emitted_at)


LONG = ("And Mr. John Dashwood had then leisure to consider how much there might be prudently in his power "
        "to do for them, he was not an ill-disposed young man unless to be rather cold-hearted")
FINALS = [
    _final(0, "He was not an ill-disposed young man.", 0.5),
    _final(1, LONG, 4.0),
    _final(2, "Sunday is the best part of the week.", 30.0),
]


def test_wrap_words_respects_line_length():
    lines = wrap_words(LONG.split(), 42)
    assert all(len(" ".join(line)) <= 42 for line in lines)
    assert " ".join(" ".join(line) for line in lines) == LONG
    assert textwrap.wrap(LONG, 42) == [" ".join(line) for line in lines]  # same greedy fill as textwrap
    assert wrap_words(["x" * 20], 8) == [["x" * 8], ["x" * 8], ["x" * 4]]


@pytest.mark.parametrize("max_chars, max_lines", [(42, 2), (32, 1), (20, 3)])
def test_cues_split_long_finals_by_word_times(max_chars, max_lines):
    layout = CaptionLayout(max_chars, max_lines)
    event = FINALS[1]
    cues = cues_for(event, layout)
    assert all(len(c.lines) <= max_lines and all(len(line) <= max_chars for line in c.lines) for c in cues)
    assert " ".join(" ".join(c.lines) for c in cues) == LONG
    assert cues[0].start == event.words[0].start and cues[-1].end == event.words[-1].end
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))


def test_layout_validation():
    with pytest.raises(ValueError):
        CaptionLayout(max_chars=3)
    with pytest.raises(ValueError):
        CaptionLayout(max_lines=0)


def test_timestamps():
    assert format_timestamp(3661.2346, ",") == "01:01:01,235"
    assert format_timestamp(0.0, ".") == "00:00:00.000"
    assert format_timestamp(-1.0, ".") == "00:00:00.000"


def _write_all(writer, events):
    for e in events:
        writer.write(e)
    writer.close()


def test_srt_parses_back(tmp_path):
    path = tmp_path / "out.srt"
    partial = _partial(1, "And Mr.", "John", 4.0, 5.0, 1.0)
    _write_all(SrtWriter(path), [FINALS[0], partial, *FINALS[1:]])
    subs = list(srt.parse(path.read_text(encoding="utf-8")))  # strict SubRip parser
    assert [s.index for s in subs] == list(range(1, len(subs) + 1))
    assert len(subs) == 1 + len(cues_for(FINALS[1])) + 1
    assert subs[0].content == "He was not an ill-disposed young man."
    assert abs(subs[0].start.total_seconds() - 0.5) < 1e-3
    assert " ".join(s.content.replace("\n", " ") for s in subs[1:-1]) == LONG
    assert all(len(line) <= 42 for s in subs for line in s.content.split("\n"))
    assert all(s.content.count("\n") <= 1 for s in subs)
    assert all(a.end <= b.start for a, b in zip(subs, subs[1:]))
    assert [ev.plaintext for ev in pysubs2.load(str(path))] == [s.content for s in subs]


def test_vtt_parses_back(tmp_path):
    path = tmp_path / "out.vtt"
    _write_all(VttWriter(path, CaptionLayout(32, 1)), FINALS)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n\n")
    subs = pysubs2.SSAFile.from_string(text, format_="vtt")
    assert len(subs) >= 5
    assert [subs[0].plaintext, subs[1].plaintext] == ["He was not an ill-disposed young", "man."]
    assert subs[0].start == 500 and subs[-1].end == round(FINALS[2].words[-1].end * 1000)
    assert all(len(ev.plaintext) <= 32 and "\n" not in ev.plaintext for ev in subs)
    # Every cue: a timing line in hh:mm:ss.mmm form followed by text and a blank line.
    for block in text.split("\n\n")[1:-1]:
        timing, *lines = block.split("\n")
        assert len(timing) == 29 and timing[12:17] == " --> " and timing[8] == "." and lines


def test_files_are_valid_after_each_final_even_if_killed(tmp_path):
    """A writer killed without close(): what is on disk after each final parses completely."""
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(tmp_path.parent)!r})
        from rtvoice.captions.writers import SrtWriter, VttWriter, JsonlWriter
        from rtvoice.asr.streaming import CaptionEvent
        from rtvoice.asr.whisper import Word
        words = (Word(" Hello", 1.0, 1.4, 0.9), Word(" world.", 1.5, 2.0, 0.8))
        e = CaptionEvent("final", 0, "Hello world.", "Hello world.", "", 1.0, 2.0, words, 2)
        p = CaptionEvent("partial", 1, "Half", "", "Half", 3.0, 3.5)
        writers = [SrtWriter({str(tmp_path / 'k.srt')!r}), VttWriter({str(tmp_path / 'k.vtt')!r}),
                   JsonlWriter({str(tmp_path / 'k.jsonl')!r})]
        for w in writers:
            w.write(e)
            w.write(p)
        os._exit(9)  # no close, no flush at exit
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=_env_with_checkout())
    assert result.returncode == 9
    subs = list(srt.parse((tmp_path / "k.srt").read_text()))
    assert [s.content for s in subs] == ["Hello world."]
    vtt = pysubs2.SSAFile.from_string((tmp_path / "k.vtt").read_text(), format_="vtt")
    assert [ev.plaintext for ev in vtt] == ["Hello world."]
    lines = (tmp_path / "k.jsonl").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["final", "partial"]


def _env_with_checkout():
    import os
    from pathlib import Path

    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_jsonl_has_every_event(tmp_path):
    path = tmp_path / "c.jsonl"
    events = [_partial(0, "", "He was", 0.5, 1.0, 10.0), _partial(0, "He", "was not", 0.5, 1.3, 10.3), FINALS[0]]
    _write_all(JsonlWriter(path), events)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["kind"] for r in rows] == ["partial", "partial", "final"]
    final = rows[-1]
    assert final["text"] == FINALS[0].text and final["start"] == 0.5
    assert [w["text"] for w in final["words"]] == FINALS[0].text.split()
    assert all({"start", "end", "probability"} <= set(w) for w in final["words"])
    assert {"emitted_at", "latency", "committed", "unstable"} <= set(final)


def test_terminal_tty_rewrites_partials_in_place():
    out = io.StringIO()
    t = TerminalWriter(out, tty=True)
    t.write(_partial(0, "", "He was", 0.5, 1.0, 1.0))
    t.write(_partial(0, "He was", "not", 0.5, 1.3, 1.3))
    t.write(FINALS[0])
    t.close()
    text = out.getvalue()
    assert text.count("\r\x1b[K") == 3
    assert "He was" + " " + TerminalWriter.DIM + "not" in text
    assert text.endswith("He was not an ill-disposed young man.\n")


def test_terminal_pipe_prints_finals_as_plain_lines():
    out = io.StringIO()
    t = TerminalWriter(out, tty=False)
    for e in [_partial(0, "", "He was", 0.5, 1.0, 1.0), *FINALS]:
        t.write(e)
    t.close()
    assert out.getvalue().splitlines() == [e.text for e in FINALS]
    assert "\x1b" not in out.getvalue()


def test_terminal_long_partial_keeps_the_end_in_view():
    out = io.StringIO()
    t = TerminalWriter(out, tty=True)
    t._width = lambda: 40
    t.write(_partial(1, LONG[:120], LONG[120:], 4.0, 9.0, 1.0))
    shown = out.getvalue().replace("\r\x1b[K", "").replace(t.DIM, "").replace(t.RESET, "")
    assert len(shown) <= 40 and shown.endswith(LONG[-20:])


def test_fanout_closes_every_sink(tmp_path):
    a, b = SrtWriter(tmp_path / "a.srt"), JsonlWriter(tmp_path / "b.jsonl")
    f = CaptionFanout([a, b])
    f.write(FINALS[0])
    f.close()
    assert (tmp_path / "a.srt").read_text().startswith("1\n") and (tmp_path / "b.jsonl").read_text()


def test_unwritable_output_is_a_clear_error(tmp_path):
    from rtvoice.errors import RtvoiceError

    with pytest.raises(RtvoiceError, match="cannot write captions"):
        SrtWriter(tmp_path / "missing-dir" / "x.srt")


def test_latency_tracker_first_shown_and_committed():
    """Word end times mapped to wall time by the clock; a word counts as shown once it and every word
    before it appear as in the final."""
    t0 = 1000.0
    tracker = LatencyTracker(lambda sample: t0 + sample / 16000)
    # Words: He 0.5-0.85, was 0.9-1.25, not 1.3-1.65, ...
    tracker.observe(_partial(0, "", "He", 0.5, 1.0, t0 + 1.1))  # He first shown at 1.1
    tracker.observe(_partial(0, "", "He wass", 0.5, 1.3, t0 + 1.4))  # "was" wrong here
    tracker.observe(_partial(0, "He", "was not", 0.5, 1.7, t0 + 1.8))  # He committed; was, not shown
    final = _final(0, "He was not an ill-disposed young man.", 0.5, emitted_at=t0 + 3.6, latency=0.55)
    tracker.observe(final)
    s = tracker.summary()
    assert s["captions"] == {"partial": 3, "final": 1, "words": 8}  # ill-disposed counts as two words
    shown = tracker.word_first_shown
    assert shown[0] == pytest.approx(1.1 - 0.85)
    assert shown[1] == pytest.approx(1.8 - 1.25) and shown[2] == pytest.approx(1.8 - 1.65)
    assert tracker.word_committed[0] == pytest.approx(1.8 - 0.85)
    assert tracker.word_committed[1] == pytest.approx(3.6 - 1.25)
    assert tracker.final_after_speech_end == [0.55]
    assert s["final_after_speech_end_s"]["p50"] == 0.55
    assert any("p50" in line for line in tracker.report_lines())


def test_latency_tracker_without_clock_counts_only():
    tracker = LatencyTracker(None)
    tracker.observe(FINALS[0])
    s = tracker.summary()
    assert s["captions"]["final"] == 1 and s["word_first_shown_s"]["n"] == 0
