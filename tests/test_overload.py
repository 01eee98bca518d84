"""Overload (issue 7): recognition slower than the audio arrives, caused for real (one decoding thread, a live
pipe paced faster than real time), then load falls. The backlog stays within its bound, partial decodes are
skipped, every final comes, the lag is announced on stderr and summarised in the stats JSON, and the engine
catches up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from asr_support import wer

from rtvoice.pipeline.engine import check_stats_for_losses
from rtvoice.pipeline.overload import LagMonitor

REPO = Path(__file__).resolve().parents[1]
SR = 16000


def _caption_process(args, tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    stats_path = tmp_path / "stats.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "rtvoice", "caption", "-", "--realtime", "--stats", str(stats_path), *args],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process, stats_path


def _feed(process, pcm: bytes, schedule, block: int = 320):
    """Write s16le PCM into the process's stdin, block by block, each when schedule(stream seconds) says (wall
    seconds from the first write). Starts once the process says it has loaded its model (first stderr line)."""
    process.stderr.readline()  # "rtvoice caption: <model>; <source>": the model is loaded
    t0 = time.monotonic()
    try:
        for offset in range(0, len(pcm), 2 * block):
            due = t0 + schedule((offset // 2 + block) / SR)
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            process.stdin.write(pcm[offset:offset + 2 * block])
            process.stdin.flush()
    finally:
        process.stdin.close()


def _caption_paced(args, pcm: bytes, schedule, tmp_path) -> tuple[str, str, dict]:
    """stdout, the rest of stderr and the stats JSON of a caption run fed on `schedule`; it must exit 0. The
    outputs are small (finals, rate-limited status lines), so the pipes never fill while it is fed."""
    process, stats_path = _caption_process(args, tmp_path)
    _feed(process, pcm, schedule)
    process.wait(timeout=120)
    stdout, stderr = process.stdout.read().decode(), process.stderr.read().decode()
    assert process.returncode == 0, stderr
    return stdout, stderr, json.loads(stats_path.read_text())


@pytest.mark.slow
def test_overload_then_catch_up(tmp_path, dev_long):
    """dev_long (53 s, 11 utterances) through `rtvoice caption - --realtime --threads 1`: the first 24 s at 16x
    real time, the rest at 1x (load falls). Partials every 0.1 s of audio keep the one thread busy."""
    audio = dev_long.load()
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    fast_s, pace = 24.0, 16.0

    def schedule(t):
        return t / pace if t <= fast_s else fast_s / pace + (t - fast_s)

    stdout, stderr, stats = _caption_paced(["--threads", "1", "--partial-interval", "0.1"], pcm, schedule, tmp_path)
    overload, asr = stats["overload"], stats["asr"]

    # Overload happened and was handled by skipping partials.
    assert asr["skipped_partials_for_lag"] > 0, overload
    # How far behind depends on the machine (3.3 s on an idle CI runner, 10-15 s on a loaded one): behind,
    # not by how much, is the promise.
    assert overload["lag_s_max"] > overload["lag_threshold_s"], overload
    assert overload["lag_s_max_at"] < fast_s + 5, overload  # during the fast part
    assert overload["behind_episodes"] >= 1
    # Announced as it happened and when it ended (not a TTY: plain lines on stderr).
    assert "rtvoice caption: behind real time by" in stderr, stderr
    assert "rtvoice caption: caught up" in stderr, stderr
    assert "warning: recognizer: behind real time" in stderr, stderr  # and in the end-of-run report
    # Bounded: the backlog never went past its capacity and nothing was dropped at this load.
    assert overload["lag_s_max"] <= overload["backlog_capacity_s"]
    assert overload["audio_queue_high_water_s"] <= overload["backlog_capacity_s"]
    fe = stats["frontend"]
    assert fe["audio_dropped_samples"] == 0 and fe["input_overflow"] == 0 and stats["source"]["dropped"] == 0
    # Caught up: once the input is at real time again the lag falls back under the threshold and stays there.
    # (Margins: other jobs share the 2 cores and stretch single decodes now and then.)
    late = [lag for t, lag in overload["lag_trace"] if t >= fast_s + 10]
    assert late and np.median(late) <= 1.0 and max(late) <= max(1.5, overload["lag_s_max"] / 2), overload["lag_trace"]
    slow_wall = len(audio) / SR - fast_s  # the part at 1x: a loop that never caught up is behind all of it
    assert overload["behind_seconds"] <= slow_wall - 9, overload
    assert stats["wall_seconds"] <= fast_s / pace + slow_wall + 8, stats["wall_seconds"]  # captions end in time
    # Every final is there: each segment got its final, and the text is right.
    finals = stdout.splitlines()
    assert asr["finals"] == asr["segments"] == len(finals), (asr, finals)
    assert wer([dev_long.text], [" ".join(finals)]) <= 0.10, finals


def test_backlog_bound_drops_are_counted(tmp_path, dev_long):
    """A small backlog (--max-backlog 1) and audio arriving much faster than one thread decodes: the backlog
    stays within the bound, and what did not fit is dropped, counted and reported, never silently."""
    audio = dev_long.load()[: 12 * SR]
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    _, stderr, stats = _caption_paced(["--threads", "1", "--max-backlog", "1", "--quiet"], pcm, lambda t: t / 12.0,
                                      tmp_path)
    fe, overload = stats["frontend"], stats["overload"]
    assert overload["backlog_capacity_s"] == pytest.approx(4.0 + 1.0)  # input ring + audio queue
    assert overload["audio_queue_high_water_s"] <= 1.0 + 512 / SR
    assert overload["lag_s_max"] <= overload["backlog_capacity_s"] + 0.1
    lost = fe["audio_dropped_samples"] + fe["input_overflow"] + stats["source"]["dropped"]
    assert lost > 0, fe  # 12 s in 1 s of wall time cannot fit a 1 s queue behind a busy recognizer
    assert any("audio dropped samples" in line or "input overflow" in line
               for line in check_stats_for_losses(stats))
    assert "warning: front end:" in stderr, stderr
    # What got through still produced its finals.
    assert stats["asr"]["finals"] >= 1


def test_lag_monitor_status_lines():
    """Behind / still behind / caught up: rate-limited, caught up only after the lag stayed low for settle_s;
    the figures in the summary."""
    now = [0.0]
    lines = []
    m = LagMonitor(1.0, lines.append, report_every_s=5.0, settle_s=2.0, trace_step_s=1.0, clock=lambda: now[0])

    def at(t, received_s, taken_s):
        now[0] = t
        return m.update(int(received_s * SR), int(taken_s * SR))

    assert at(0.0, 0.5, 0.0) == pytest.approx(0.5) and lines == [] and not m.behind
    at(1.0, 3.0, 1.0)
    assert lines == ["behind real time by 2.0 s: skipping partial captions, finals are kept"] and m.behind
    at(2.0, 6.0, 2.0)  # 4 s behind: no second line within report_every_s
    at(3.0, 6.5, 6.0)  # a dip to 0.5 s ...
    at(4.0, 7.4, 6.5)  # ... then 0.9 s again: the dip was not catching up
    at(4.5, 7.4, 7.2)  # low from here on
    assert m.behind and len(lines) == 1
    at(6.6, 8.5, 8.3)  # low for 2.1 s: caught up
    assert not m.behind and lines[-1] == "caught up (lag 0.2 s) after 3.5 s behind, at most 4.0 s"
    at(7.0, 10.0, 8.5)  # behind again 0.4 s after the last line: counted, not announced yet
    assert m.behind and m.episodes == 2 and len(lines) == 2
    at(12.0, 17.0, 9.0)
    assert lines[-1] == "behind real time by up to 8.0 s (partial captions skipped, finals kept)"
    at(15.0, 22.0, 10.0)  # 12 s
    at(17.5, 22.0, 19.0)  # 3 s: the line gives the largest lag since the last one
    assert lines[-1] == "still behind real time by up to 12.0 s (partial captions skipped, finals kept)"
    assert len(lines) == 4
    s = m.summary()
    assert s["lag_s_max"] == 12.0 and s["lag_s_max_at"] == 10.0 and s["behind_at_end"] and s["lag_s_last"] == 3.0
    assert s["behind_episodes"] == 2 and s["behind_seconds"] == pytest.approx(3.5 + 10.5)
    # One point per second of stream: the first position seen in it, the largest lag.
    assert [p[0] for p in s["lag_trace"]] == [0.0, 1.0, 2.0, 6.0, 7.2, 8.3, 9.0, 10.0, 19.0]
    assert s["lag_trace"][3] == [6.0, 0.9]  # the largest lag seen in that second of stream
