"""A dubbed voice that keeps pace with the speaker (rtvoice.pipeline.pacing, DubStage with pacing).

- The plan of a line on hand-made times: its speed from its predicted duration and its slot, condensed when
  it cannot fit at the limit, dropped when its own start is past the bound.
- A real recording made to overrun (the voice slowed down), paced in real time: no line starts later than
  --max-voice-lag behind its source (the decision's invariant, which does not depend on the CPU), and each
  line that was not said whole is counted, announced and kept in the JSONL with its text.
- --program-delay with --mix: the source comes out S seconds late in the mixed programme (cross-correlation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from rtvoice.pipeline.pacing import LateLines, PacingConfig, condensed_renderings, plan_line

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


# The hand-made plans below aim at a 2 s target (two thirds of the bound) and, unless said, plan a line as if the
# next one were as long (rtvoice dub's defaults are a third and 1.5 s: test_a_long_line_leaves_room_...).
RULE = dict(target_share=2 / 3, next_line_s=None)


def _by_length(s_per_char: float):
    return lambda text, speedup: len(text) * s_per_char / speedup


def test_a_line_gets_the_speed_that_fits_its_slot():
    """Source 10..13 s, voice free at 13.5 s, first piece 0.2 s, now 13.4: starts 13.6, lag 0.6; slot = 3 s span
    + 0 pause + (2.0 target - 0.6) = 4.4 s. 50 characters at 0.1 s = 5.0 s: 5.0 / 4.4 = 1.136 -> 1.15 (the 0.05
    grid, rounded up)."""
    plan = plan_line(PacingConfig(3.0, 1.25, **RULE), "x" * 50, _by_length(0.1), now=13.4, voice_free=13.5,
                     first_piece_s=0.2, source_start=10.0, source_end=13.0)
    assert not plan.dropped and not plan.condensed and plan.text == "x" * 50
    assert plan.lag_s == pytest.approx(0.6) and plan.slot_s == pytest.approx(4.4) and plan.speedup == 1.15
    # the pause after it, when the next line is known, is part of its slot: 5.4 s, no speed-up needed
    plan = plan_line(PacingConfig(3.0, 1.25, **RULE), "x" * 50, _by_length(0.1), now=13.4, voice_free=13.5,
                     first_piece_s=0.2, source_start=10.0, source_end=13.0, next_source_start=14.0)
    assert plan.slot_s == pytest.approx(5.4) and plan.speedup == 1.0


def test_a_long_line_leaves_room_for_a_short_one_after_it():
    """Source 10..16 s (6 s span), starts 16.6 (lag 0.6), 80 characters at 0.1 s = 8 s of voice. Planned as if the
    next line were as long (the old rule): slot 6 + 0.5 pause + 1.4 = 7.9 s -> 1.05x; the voice ends at 24.2 s: a
    1.5 s line after the 0.5 s pause (it ends at 18 s) would start 6.2 s late. With next_line_s 1.5: slot 1.5 +
    0.5 pause + 1.4 = 3.4 s -> 1.25x, the limit. When that next line is known (ends 18 s): its end plus the 2 s
    target minus the start, 3.4 s, the same."""
    common = dict(now=16.4, voice_free=16.0, first_piece_s=0.2, source_start=10.0, source_end=16.0,
                  next_source_start=16.5)
    old = plan_line(PacingConfig(3.0, 1.25, **RULE), "x" * 80, _by_length(0.1), **common)
    assert old.slot_s == pytest.approx(6.5 + 1.4) and old.speedup == 1.05
    room = plan_line(PacingConfig(3.0, 1.25, target_share=2 / 3, next_line_s=1.5), "x" * 80, _by_length(0.1), **common)
    assert room.slot_s == pytest.approx(3.4) and room.speedup == 1.25
    known = plan_line(PacingConfig(3.0, 1.25, target_share=2 / 3, next_line_s=1.5), "x" * 80, _by_length(0.1), **common,
                      next_source_end=18.0)
    assert known.slot_s == pytest.approx(3.4) and known.speedup == 1.25
    # a short line is planned as before: its own span is shorter than next_line_s
    short = plan_line(PacingConfig(3.0, 1.25, target_share=2 / 3, next_line_s=1.5), "x" * 12, _by_length(0.1), **{
        **common, "source_start": 15.0})
    assert short.slot_s == pytest.approx(1.0 + 0.5 + 1.4) and short.speedup == 1.0


def test_a_line_that_cannot_fit_is_condensed_and_one_that_starts_too_late_is_dropped():
    text = "El niño casi lastimó al perro pequeño, que estaba cansado; luego se fue a su casa."
    # lag 2.5: the whole budget is 1 s span + 0.5 s = 1.5 s, at 1.25x 1.875 s of voice at speed 1 -> the
    # longest rendering of at most 26 characters at 0.07 s a character: the first clause (38 chars) does not
    # fit either, so the shortest is said
    plan = plan_line(PacingConfig(3.0, 1.25, **RULE), text, _by_length(0.07), now=11.0, voice_free=11.5,
                     first_piece_s=0.2, source_start=8.0, source_end=9.0)
    assert plan.condensed and plan.text == "El niño casi lastimó al perro pequeño." and plan.speedup == 1.25
    # more room (span 3 s): the longest rendering that fits (all but the last clause, 59 chars = 4.1 s / 1.25)
    plan = plan_line(PacingConfig(3.0, 1.25, **RULE), text, _by_length(0.07), now=11.0, voice_free=11.5,
                     first_piece_s=0.2, source_start=6.0, source_end=9.0)
    assert plan.condensed and plan.text == "El niño casi lastimó al perro pequeño, que estaba cansado."
    # without condensing it is said whole, as fast as allowed
    plan = plan_line(PacingConfig(3.0, 1.25, condense=False, **RULE), text, _by_length(0.07), now=11.0,
                     voice_free=11.5, first_piece_s=0.2, source_start=8.0, source_end=9.0)
    assert not plan.condensed and plan.text == text and plan.speedup == 1.25
    # the voice is free only 3.2 s after the source ended: the line itself would start past the bound
    plan = plan_line(PacingConfig(3.0, 1.25, **RULE), text, _by_length(0.07), now=11.0, voice_free=12.2,
                     first_piece_s=0.2, source_start=8.0, source_end=9.0)
    assert plan.dropped and plan.lag_s == pytest.approx(3.2)


def test_a_few_lines_may_start_late_instead_of_being_dropped():
    """4% of the lines started (the one asked about counted): none among the first 24, one at the 25th, a
    second only at the 50th, each within the bound plus 2 s; a line later than that is dropped all the same.
    Lines within the bound do not use the allowance."""
    config = PacingConfig(3.0, 1.25)
    late = LateLines(config)
    limits = []
    for lag in [1.0] * 24 + [4.0] + [1.0] * 24 + [4.5]:
        limits.append(late.limit_s())
        late.start(lag)
    assert limits[:24] == [3.0] * 24 and limits[24] == 5.0
    assert limits[25:49] == [3.0] * 24 and limits[49] == 5.0
    assert (late.started, late.late) == (50, 2)
    common = dict(now=20.0, voice_free=21.5, first_piece_s=0.2, source_start=14.0, source_end=17.0)
    plan = plan_line(config, "short", _by_length(0.1), **common)  # starts 4.5 s behind
    assert plan.dropped and plan.lag_s == pytest.approx(4.5)
    plan = plan_line(config, "short", _by_length(0.1), **common, limit_s=5.0)
    assert not plan.dropped and plan.speedup == 1.0
    assert plan_line(config, "short", _by_length(0.1), **common | {"voice_free": 22.5}, limit_s=5.0).dropped
    assert LateLines(PacingConfig(3.0, 1.25, late_share=0)).limit_s() == 3.0
    with pytest.raises(ValueError, match="share of late lines"):
        PacingConfig(late_share=0.6)


def test_condensed_renderings_drop_asides_and_fillers_then_clauses():
    assert condensed_renderings("Bueno, el perro (que era pequeño) ladró, y luego se durmió.") == [
        "El perro ladró, y luego se durmió.", "El perro ladró."]
    assert condensed_renderings("Está bien, gracias.") == ["Está bien."]  # "bien" is no filler after a verb
    assert condensed_renderings("The birch canoe slid on the smooth planks.") == []


@pytest.fixture(scope="module")
def overrun_run(tmp_path_factory, speech_recordings):
    """Four Harvard sentences 0.3 s apart, dubbed in English by a voice slowed to 0.25x, paced in real time with
    a 1 s bound. At speed 1 the voice says these sentences in 0.55x their source span (measured), so even at
    1.25x a line lasts 1.8x its source; the sentences have no clause to condense them to."""
    clips = [next(r for r in speech_recordings if r.id == f"spk1_snt{i}").load() for i in (1, 2, 3, 4)]
    pause = np.zeros(int(0.3 * 16000), np.float32)
    tmp = tmp_path_factory.mktemp("overrun")
    path = tmp / "four.wav"
    sf.write(path, np.concatenate([x for clip in clips for x in (pause, clip)] + [np.zeros(16000, np.float32)]),
             16000)
    jsonl, stats_path = tmp / "en.jsonl", tmp / "stats.json"
    run = subprocess.run([sys.executable, "-m", "rtvoice", "dub", str(path), "--realtime", "--speed", "0.25",
                          "--max-voice-lag", "1.0", "--wav", str(tmp / "dub.wav"), "--jsonl", str(jsonl),
                          "--stats", str(stats_path), "--quiet"], env=ENV, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    return run, json.loads(stats_path.read_text()), records


@pytest.mark.slow
def test_no_line_starts_beyond_the_bound_on_a_feed_made_to_overrun(overrun_run):
    """The second line cannot start within 1 s: the first lasts 1.8 x 2.9 s = 5.2 s from a start at least the
    recognition's latency after its source, and the second's source ends 3.5 s after the first's. So at least
    one line is dropped on any CPU (every line, on a CPU whose recognition alone takes 1 s)."""
    run, stats, _ = overrun_run
    starts = stats["voice_behind_line_start_s"]
    assert all(lag <= 1.0 + 1e-6 for lag in starts), starts
    pacing, lines = stats["dub_pacing"], stats["tts"]["lines"]
    assert pacing["max_voice_lag_s"] == 1.0 and pacing["lines_dropped"] >= 1
    assert sum(line["dropped"] for line in lines) == pacing["lines_dropped"]
    assert len(starts) + pacing["lines_dropped"] == stats["dub_lines"] == len(lines)
    assert all(line["speedup"] <= 1.25 for line in lines)
    figures = stats["simultaneous"]
    assert figures["outputs"] == len(starts) and (figures["atd_s"] is None) == (not starts)


@pytest.mark.slow
def test_a_line_that_cannot_fit_is_counted_announced_and_its_text_kept(overrun_run):
    run, stats, records = overrun_run
    finals = {r["segment"]: r["text"] for r in records if r.get("kind") == "final"}
    cuts = [r for r in records if r.get("type") == "voice_lag"]
    assert len(cuts) == stats["dub_pacing"]["lines_dropped"] + stats["dub_pacing"]["lines_condensed"] >= 1
    for cut in cuts:
        assert cut["action"] == "dropped" and cut["text"] == finals[cut["segment"]] and cut["spoken"] is None
        assert f"voice: line dropped" in run.stderr and cut["text"] in run.stderr
    given = sum(len(text.split()) for text in finals.values())
    dropped = sum(len(cut["text"].split()) for cut in cuts)
    assert stats["dub_pacing"]["words_given"] == given
    assert stats["dub_pacing"]["words_spoken"] == given - dropped
    assert stats["dub_cut_lines"] == cuts


def test_program_delay_puts_the_source_late_in_the_mixed_programme(tmp_path, speech_recordings):
    """Read as fast as possible (the placement is on the source timeline): the mix is the source 1.5 s late
    (the cross-correlation's peak, within 10 ms), ducked under the voice; the dubbed lines are placed no
    earlier than their source start plus 1.5 s."""
    recording = next(r for r in speech_recordings if r.id == "spk1_snt1")
    source = recording.load()
    path = tmp_path / "one.wav"
    sf.write(path, np.concatenate([np.zeros(8000, np.float32), source, np.zeros(16000, np.float32)]), 16000)
    mix, dub, stats_path = tmp_path / "mix.wav", tmp_path / "dub.wav", tmp_path / "stats.json"
    run = subprocess.run([sys.executable, "-m", "rtvoice", "dub", str(path), "--program-delay", "1.5", "--wav",
                          str(dub), "--mix", str(mix), "--stats", str(stats_path), "--quiet"], env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    stats = json.loads(stats_path.read_text())
    placement = stats["tts"]["placements"][0]
    # the line's place on the programme's timeline: its source start (the speech begins at 0.5 s) plus 1.5 s
    assert placement["source_s"] == pytest.approx(0.5 + 1.5, abs=0.3)
    assert placement["placed_s"] >= placement["source_s"] - 1e-3  # to the sample
    mixed, rate = sf.read(mix, dtype="float32")
    original = soxr.resample(np.concatenate([np.zeros(8000, np.float32), source]), 16000, rate)
    n = len(mixed) + len(original)
    corr = np.fft.irfft(np.fft.rfft(mixed, n) * np.conj(np.fft.rfft(original, n)), n)
    shift = int(np.argmax(corr[:len(mixed)])) / rate
    assert shift == pytest.approx(1.5, abs=0.01)
    assert "programme mix written" in run.stderr


def test_mix_needs_a_file_and_the_dub_track(tmp_path, speech_recordings):
    run = subprocess.run([sys.executable, "-m", "rtvoice", "dub", str(speech_recordings[0].path), "--mix",
                          str(tmp_path / "m.wav")], env=ENV, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.strip().splitlines()[-1] == (
        "rtvoice: error: --mix needs --wav (the dub it mixes in) and an audio file input (the programme)")
