"""Faults on a live input: the capture device disappears mid-stream, or the process gets SIGTERM.

`rtvoice caption --input-device pulse` runs as a separate process against a private PulseAudio server (its
own null sink, captured from the sink's monitor through PortAudio's ALSA `pulse` device). Two utterances
are played into the sink; while the second is being spoken the sink's module is unloaded, which is what
PulseAudio does when a USB microphone is unplugged. The server has no other source, so PulseAudio kills
the capture stream and PortAudio ends it (docs/faults.md has what happens when there is another source).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pysubs2
import pytest
import soundfile as sf
import srt
from asr_support import wer
from pulse import pulse_server, start_pulse_server, stop_pulse_server  # noqa: F401  (fixture)


from rtvoice.metrics.text import normalize_english  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SR = 16000
GAP_S = 0.8  # silence between the two utterances
CUT_S = 2.5  # how far into the second utterance the device disappears


@pytest.fixture
def private_pulse():
    """A PulseAudio server of this test's own, with one null sink and no other source: unloading the sink
    does not touch the session's server (`pulse_server`) that other tests capture from."""
    try:
        server = start_pulse_server()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"no PulseAudio server for the device-loss test: {error}")
    probe = subprocess.run([sys.executable, "-c", "import sounddevice as sd; "
                            "print(any(d['name'] == 'pulse' and d['max_input_channels'] for d in sd.query_devices()))"],
                           env=server.env(), capture_output=True, text=True, timeout=30)
    if probe.stdout.strip() != "True":
        stop_pulse_server(server)
        pytest.skip(f"PortAudio has no 'pulse' input device (libasound2-plugins missing?) {probe.stderr[-200:]}")
    yield server
    stop_pulse_server(server)


@pytest.fixture(scope="module")
def two_utterances(tmp_path_factory, speech_recordings):
    """A Harvard sentence (spk1_snt1, 2.87 s), 0.8 s of silence, a LibriVox utterance (5.3 s), with their
    transcripts. (The first was LibriVox's "he was not an ill disposed young man" until a fresh-clone CI run
    in which both tests here heard it, captured, as "not, an old-sposed young man?": WER 0.5, the very words
    tiny.en hears differently with the CPU and the offset, docs/asr.md.)"""
    first, second = speech_recordings[5], speech_recordings[2]
    assert first.id == "spk1_snt1" and second.duration_s > 5
    audio = np.concatenate([first.load(), np.zeros(int(GAP_S * SR), np.float32), second.load()])
    path = tmp_path_factory.mktemp("loss") / "two.wav"
    sf.write(path, audio, SR, subtype="PCM_16")
    return path, first, second


def _start_captions(server, tmp_path):
    out = {k: tmp_path / f"c.{k}" for k in ("srt", "vtt", "jsonl")}
    out["stats"] = tmp_path / "stats.json"
    env = server.env()
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    process = subprocess.Popen(
        [sys.executable, "-m", "rtvoice", "caption", "--input-device", "pulse", "--threads", "2", "--quiet",
         "--srt", str(out["srt"]), "--vtt", str(out["vtt"]), "--jsonl", str(out["jsonl"]),
         "--stats", str(out["stats"])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The capture stream exists from the device's opening, before the model is loaded: wait for the line
    # the command prints just before it starts capturing, then for the first audio to arrive.
    head = []
    while not any("microphone 'pulse'" in line for line in head):
        line = process.stderr.readline()
        if not line:
            process.kill()
            pytest.fail("the capture never started: " + "".join(head) + process.communicate()[1])
        head.append(line)
    time.sleep(0.5)
    assert server.capture_streams() == 1
    return process, out, "".join(head)


def _play_until_cut(server, path, first):
    """Play the two utterances; return when the second has been playing for CUT_S seconds."""
    player = server.play(path, wait=False)
    time.sleep(first.duration_s + GAP_S + CUT_S)
    return player


def _stderr_at_exit(process, head: str, player) -> str:
    """All the caption process wrote on stderr once it has exited (it must within 30 s); stops the player."""
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        player.kill()
        player.wait()
    return head + stderr


def _check_outputs(out, first, second):
    """The caption files parse and hold the first utterance's final and the second's forced final."""
    events = [json.loads(line) for line in out["jsonl"].read_text().splitlines()]
    finals = [e for e in events if e["kind"] == "final"]
    assert events[-1]["kind"] == "final" and len(finals) == 2, finals
    assert wer([first.text], [finals[0]["text"]]) <= 0.4, finals[0]  # tiny.en, captured: 0 here
    # The second utterance was cut CUT_S s in: its final holds its first words and not its last.
    spoken = second.text.split()
    heard = set(normalize_english(finals[1]["text"]).split())
    assert len(heard & set(spoken[:6])) >= 3 and spoken[-1] not in heard, (finals[1], second.text)
    cues = list(srt.parse(out["srt"].read_text()))  # strict: raises on a malformed file
    assert " ".join(c.content.replace("\n", " ") for c in cues) == " ".join(f["text"] for f in finals)
    vtt = pysubs2.SSAFile.from_string(out["vtt"].read_text(), format_="vtt")
    assert out["vtt"].read_text().startswith("WEBVTT")
    assert " ".join(e.plaintext.replace("\n", " ") for e in vtt) == " ".join(f["text"] for f in finals)
    assert cues[-1].end.total_seconds() == pytest.approx(vtt[-1].end / 1000, abs=0.002)
    return json.loads(out["stats"].read_text())


@pytest.mark.slow
@pytest.mark.device
def test_device_disappears_mid_speech(private_pulse, two_utterances, tmp_path):
    """Unloading the sink while the second utterance is spoken: exit code 3 within a few seconds, one clear
    line on stderr (no traceback), caption files complete up to the loss, stats with the reason."""
    path, first, second = two_utterances
    process, out, head = _start_captions(private_pulse, tmp_path)
    player = _play_until_cut(private_pulse, path, first)
    private_pulse.unload_sink()
    cut = time.monotonic()
    stderr = _stderr_at_exit(process, head, player)
    took = time.monotonic() - cut
    print(f"exit {took:.2f} s after the loss; stderr:\n{stderr}")  # shown with -s
    assert process.returncode == 3, stderr
    assert took < 5, f"{took:.1f} s from the loss to the exit"
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("rtvoice: error:")]
    assert errors == [stderr.strip().splitlines()[-1]], stderr  # one error line, the last
    # PortAudio ends the stream at once, or (rarely) the stream just stops delivering and the watchdog ends it
    assert re.search(r"input device 'pulse' was lost after \d+\.\d s of audio \((PortAudio ended the stream|"
                     r"it delivered nothing for 1\.\d s)\); the captions up to then are written$", errors[0]), errors

    stats = _check_outputs(out, first, second)
    assert stats["end"]["reason"] == "device_lost" and "was lost after" in stats["end"]["message"]
    captured = first.duration_s + GAP_S + CUT_S
    assert captured - 0.5 < stats["audio_seconds"] < captured + 1.5  # the capture started before playback


@pytest.mark.slow
@pytest.mark.device
def test_sigterm_mid_speech_finalises_outputs(private_pulse, two_utterances, tmp_path):
    """SIGTERM while the second utterance is spoken: exit 0, the open segment becomes a final, every caption
    file is valid and complete, stats say a signal ended it."""
    path, first, second = two_utterances
    process, out, head = _start_captions(private_pulse, tmp_path)
    player = _play_until_cut(private_pulse, path, first)
    process.send_signal(signal.SIGTERM)
    stderr = _stderr_at_exit(process, head, player)
    assert process.returncode == 0, stderr
    assert "SIGTERM, finishing the captions" in stderr and "Traceback" not in stderr
    stats = _check_outputs(out, first, second)
    assert stats["end"] == {"reason": "signal"}


# The microphone source on its own (no recognizer), on the session's PulseAudio server.


def _capture(source, seconds: float, ring) -> None:
    """Keep reading the source's output for `seconds` (or until it ends)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not source.done:
        ring.read(ring.available)
        time.sleep(0.01)


@pytest.mark.device
def test_a_device_that_stalls_is_lost_and_a_short_pause_is_counted(pulse_server):  # noqa: F811
    """A suspended sink delivers nothing but PortAudio's stream goes on: the worker's watchdog counts a
    pause shorter than stall_timeout_s, and ends the capture with DeviceLostError after stall_timeout_s."""
    from rtvoice import RingBuffer
    from rtvoice.errors import DeviceLostError
    from rtvoice.audio.sources import MicSource

    ring = RingBuffer(SR * 10, 1)
    source = MicSource("pulse", stall_timeout_s=0.8)
    source.start(ring)
    try:
        _capture(source, 0.8, ring)
        pulse_server.pactl("suspend-sink", pulse_server.sink, "1")
        _capture(source, 0.5, ring)
        pulse_server.pactl("suspend-sink", pulse_server.sink, "0")
        _capture(source, 0.5, ring)
        assert not source.done and source.stats.device_pauses == 1, source.stats
        assert 0.4 <= source.stats.device_pause_seconds <= 0.8, source.stats
        pulse_server.pactl("suspend-sink", pulse_server.sink, "1")
        suspended = time.monotonic()
        _capture(source, 5.0, ring)
        took = time.monotonic() - suspended
    finally:
        pulse_server.pactl("suspend-sink", pulse_server.sink, "0")
        source.stop()
        source.join(5)
    assert isinstance(source.error, DeviceLostError), source.error
    assert re.fullmatch(r"input device 'pulse' was lost after \d\.\d s of audio \(it delivered nothing for 0\.8 s\)",
                        str(source.error)), source.error
    assert 0.8 <= took < 2.0


@pytest.mark.device
def test_pulseaudio_moves_a_stream_whose_source_goes_to_the_fallback(pulse_server):  # noqa: F811
    """The documented limitation (docs/faults.md): when the source a stream records from is unloaded and
    another source exists, PulseAudio moves the stream there; through PortAudio's ALSA `pulse` device the
    capture just goes on (here without a pause), so rtvoice cannot tell. If this starts failing, PulseAudio
    changed and the docs must too."""
    from rtvoice import RingBuffer
    from rtvoice.audio.sources import MicSource

    pulse_server.load_null_sink("rtvoice_extra")
    saved = os.environ["PULSE_SOURCE"]
    os.environ["PULSE_SOURCE"] = "rtvoice_extra.monitor"  # read when the device is opened
    try:
        source = MicSource("pulse")
    finally:
        os.environ["PULSE_SOURCE"] = saved
    ring = RingBuffer(SR * 10, 1)
    source.start(ring)
    try:
        _capture(source, 0.8, ring)
        recording_from = pulse_server.pactl("list", "short", "source-outputs").split()[1]
        pulse_server.unload_sink("rtvoice_extra")
        before = source.stats.input_frames
        _capture(source, 1.5, ring)
        moved_to = pulse_server.pactl("list", "short", "source-outputs").split()[1]
        sources = {line.split()[0]: line.split()[1]
                   for line in pulse_server.pactl("list", "short", "sources").splitlines()}
    finally:
        source.stop()
        source.join(5)
    assert source.error is None and recording_from not in sources and sources[moved_to] == pulse_server.monitor
    assert (source.stats.input_frames - before) / source.rate > 1.0  # audio kept coming from the fallback
