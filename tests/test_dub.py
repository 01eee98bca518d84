"""`rtvoice dub`: captions from a real recording, each final spoken on a dubbed track at its source time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile as sf
import soxr

from rtvoice.asr import WhisperConfig, WhisperRecognizer
from rtvoice.metrics.text import normalize_english

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def two_utterances(tmp_path_factory, speech_recordings):
    """Two Harvard sentences with known pauses: 0.5 s lead-in, 1 s between, 1 s after."""
    a, b = (next(r for r in speech_recordings if r.id == i).load() for i in ("spk1_snt1", "spk1_snt2"))
    silence = lambda s: np.zeros(int(s * 16000), np.float32)  # noqa: E731
    audio = np.concatenate([silence(0.5), a, silence(1.0), b, silence(1.0)])
    path = tmp_path_factory.mktemp("dub") / "two.wav"
    sf.write(path, audio, 16000)
    starts = [0.5, 0.5 + len(a) / 16000 + 1.0]
    texts = ["The child almost hurt the small dog.", "Drop the two when you add the figures."]
    return path, len(audio) / 16000, starts, texts


def run_dub(*args, timeout=180):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "rtvoice", "dub", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_dub_places_each_line_at_its_source_time_and_says_the_words(tmp_path, two_utterances):
    path, duration, starts, texts = two_utterances
    wav, stats_path, srt = tmp_path / "dub.wav", tmp_path / "stats.json", tmp_path / "dub.srt"
    result = run_dub(path, "--realtime", "--wav", wav, "--stats", stats_path, "--srt", srt, "--quiet")
    assert result.returncode == 0, result.stderr
    stats = json.loads(stats_path.read_text())
    assert stats["dub_lines"] == 2 and stats["tts"]["spoken"] == 2
    # Dub latency: end of source speech -> first dubbed sample, measured on the capture clock.
    assert stats["dub_latency_s"]["n"] == 2 and 0 < stats["dub_latency_s"]["p50"] < 3.0
    assert "dub latency" in result.stderr

    voice, rate = sf.read(wav, dtype="float32")
    # Each line is placed at its caption's source start, or later when its voice was not ready yet (it
    # cannot be before the caption is final); the delay is recorded. Silence until the first placement.
    placements = stats["tts"]["placements"]
    assert len(placements) == 2
    for placement, start in zip(placements, starts):
        assert abs(placement["source_s"] - start) < 0.4
        assert placement["placed_s"] >= placement["source_s"] and placement["delay_s"] >= 0
        assert placement["delay_s"] < 8.0
        window = voice[int(placement["placed_s"] * rate): int((placement["placed_s"] + 1.0) * rate)]
        assert np.abs(window).max() > 0.05, f"no voice within 1 s of its placement at {placement['placed_s']} s"
    assert np.abs(voice[: int(placements[0]["placed_s"] * rate)]).max() < 1e-3

    # The dubbed track says what was said: transcribe it back with rtvoice's own recogniser.
    heard = WhisperRecognizer(WhisperConfig(device="cpu")).transcribe(
        soxr.resample(voice, rate, 16000).astype(np.float32)[: 30 * 16000], word_timestamps=False).text
    wer = jiwer.wer(normalize_english(" ".join(texts)), normalize_english(heard))
    assert wer <= 0.2, heard
    assert srt.read_text().count("-->") == 2


def test_dub_bad_voice_is_a_one_line_error(tmp_path, two_utterances):
    path = two_utterances[0]
    result = run_dub(path, "--voice", tmp_path / "missing.onnx", "--wav", tmp_path / "x.wav", timeout=60)
    assert result.returncode == 2
    assert "missing.onnx" in result.stderr and "Traceback" not in result.stderr


def _srt_ends(srt: Path) -> list[float]:
    """End time (s) of each cue of an SRT file."""
    ends = []
    for line in srt.read_text().splitlines():
        if "-->" in line:
            h, m, s = line.split("-->")[1].strip().replace(",", ".").split(":")
            ends.append(int(h) * 3600 + int(m) * 60 + float(s))
    return ends


def _srt_texts(srt: Path) -> list[str]:
    """Text of each cue of an SRT file (its lines joined)."""
    return [" ".join(block.splitlines()[2:]) for block in srt.read_text().strip().split("\n\n")]


@pytest.mark.slow
def test_dub_says_when_the_voice_falls_behind_the_speaker_and_when_it_catches_up(tmp_path, speech_recordings):
    """Three sentences, a slowed voice (0.25x): the first line lasts longer than the pause and second
    sentence after it, so the second line waits behind it and starts over the threshold (one terminal line,
    not one per caption; with a 1 s pause between them the second line started 2.44 s late in a fresh clone's
    suite, under the 2.5 s threshold: the pause is 0.3 s now, which puts it about 0.7 s later); a 10 s pause lets the voice finish, so the third line starts within the
    threshold again (the caught-up line). With --catch-up 1.5 the late line, and only it, is spoken 1.5x
    faster (the voice's own speed control): fewer seconds of voice per character than the other two."""
    a, b, c = (next(r for r in speech_recordings if r.id == i).load() for i in ("spk1_snt1", "spk1_snt2", "spk1_snt3"))
    silence = lambda s: np.zeros(int(s * 16000), np.float32)  # noqa: E731
    path = tmp_path / "three.wav"
    sf.write(path, np.concatenate([silence(0.5), a, silence(0.3), b, silence(10.0), c, silence(1.0)]), 16000)
    stats_path, srt = tmp_path / "stats.json", tmp_path / "dub.srt"
    result = run_dub(path, "--realtime", "--speed", "0.25", "--lag-warning", "2.5", "--catch-up", "1.5",
                     "--wav", tmp_path / "dub.wav", "--stats", stats_path, "--srt", srt, "--quiet")
    assert result.returncode == 0, result.stderr
    behind = [line for line in result.stderr.splitlines() if "s behind the speaker (" in line]
    caught_up = [line for line in result.stderr.splitlines() if "caught up with the speaker" in line]
    assert len(behind) == 1 and len(caught_up) == 1, result.stderr
    assert result.stderr.index(behind[0]) < result.stderr.index(caught_up[0])
    stats = json.loads(stats_path.read_text())
    assert stats["voice_behind_episodes"] == 1 and stats["voice_behind_threshold_s"] == 2.5
    first, second, third = stats["voice_behind_line_start_s"]
    assert stats["voice_behind_s"]["max"] >= second > 2.5 >= third
    # The second line starts playing no earlier than the first has finished: its lag is at least the first
    # line's lag plus the first line's voice, less the time between the two source lines' ends (SRT).
    end_first, end_second, _ = _srt_ends(srt)
    voice_first = stats["tts"]["lines"][0]["audio_s"]
    assert voice_first > end_second - end_first  # the setting really makes the voice fall behind
    assert second >= first + voice_first - (end_second - end_first) - 0.05
    assert stats["voice_behind_longest_s"] > 0 and "voice behind the speaker: p50" in result.stderr
    lines = stats["tts"]["lines"]
    assert [line["speedup"] for line in lines] == [1.0, 1.5, 1.0] and stats["dub_caught_up_lines"] == 1
    per_char = [line["audio_s"] / len(text) for line, text in zip(lines, _srt_texts(srt))]
    assert per_char[1] < 0.85 * min(per_char[0], per_char[2]), per_char
    assert "1 line(s) spoken 1.5x faster to catch up" in result.stderr
