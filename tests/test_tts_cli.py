"""``rtvoice say`` end to end: standard input line by line into a WAV file, stats, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf

from rtvoice.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_say_speaks_each_stdin_line_as_it_arrives(tmp_path):
    wav, stats = tmp_path / "out.wav", tmp_path / "stats.json"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "rtvoice", "say", "--wav", str(wav), "--stats", str(stats),
                             "--providers", "cpu"], stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=tmp_path)
    proc.stdin.write("Good morning, everyone.\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while not (wav.exists() and wav.stat().st_size > 20000):  # the first line is being written
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.stdin.write("\n   \nThe second line comes later 😀.\n")
    proc.stdin.close()
    proc.wait(timeout=120)
    err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert "voice piper-en_US-joe-medium on CPU" in err
    assert err.count("skipped 1 character") == 1
    s = json.loads(stats.read_text())
    assert s["utterances"] == 4 and s["spoken"] == 2 and s["underruns"] == 0
    assert set(s["tts_first_audio_s"]) == {"n", "p50", "p95", "p99", "mean", "max"} and s["rtf"] > 0
    first, second = s["lines"][0], s["lines"][3]
    assert first["submitted_s"] + first["first_audio_s"] < second["submitted_s"]  # streamed, not batched
    info = sf.info(str(wav))
    assert (info.samplerate, info.channels) == (22050, 1)
    assert abs(info.frames / 22050 - s["audio_s"]) < 0.01 and s["audio_s"] > 2.0


def test_say_missing_voice_names_the_file(tmp_path, capsys):
    rc = main(["say", "--voice", str(tmp_path / "nope.onnx"), "--wav", str(tmp_path / "o.wav"), "hello"])
    assert rc == 2
    assert "nope.onnx" in capsys.readouterr().err


def test_say_rejects_bad_speed(capsys):
    assert main(["say", "--speed", "0", "--wav", "/tmp/never.wav", "hello"]) == 2
    assert "speed" in capsys.readouterr().err


def test_say_without_a_device_says_so(tmp_path, capsys):
    stats = tmp_path / "s.json"
    rc = main(["say", "--providers", "cpu", "--output-device", "no such device", "--stats", str(stats), "-q", "hi"])
    assert rc == 2
    assert "device" in capsys.readouterr().err
    assert json.loads(stats.read_text())["utterances"] == 0


def test_say_missing_text_file_names_it(tmp_path, capsys):
    rc = main(["say", "--providers", "cpu", "--text-file", str(tmp_path / "script.txt"), "--wav", str(tmp_path / "o.wav")])
    assert rc == 2
    assert "script.txt" in capsys.readouterr().err
