"""Helpers for the network-feed tests: free loopback ports, FFmpeg senders and an ``rtvoice`` run whose standard
error is followed line by line (to start a sender once rtvoice is listening or connecting)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import jiwer
import pytest

from rtvoice.metrics.text import normalize_english

REPO = Path(__file__).resolve().parents[1]
FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="Debian's ffmpeg is not installed (make setup installs it)")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing listens on now (bound to port 0 and released)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sender(*args: str) -> subprocess.Popen:
    """FFmpeg sending a feed (its messages kept in .stderr for a failing test)."""
    return subprocess.Popen([FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "warning", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def padded(wav: Path, folder: Path, lead_s: float = 1.5, tail_s: float = 1.5) -> list[str]:
    """FFmpeg input options: `wav` with silence before (a sender may start a little before the receiver takes its
    audio) and after (the caption's end is heard before the feed ends), all of it paced in real time (-re; a
    filter's padding after the input's end would not be)."""
    import numpy as np
    import soundfile as sf

    audio, rate = sf.read(wav, dtype="float32")
    path = folder / f"{wav.stem}-{lead_s:g}-{tail_s:g}.wav"
    sf.write(path, np.concatenate([np.zeros(int(lead_s * rate), np.float32), audio,
                                   np.zeros(int(tail_s * rate), np.float32)]), rate)
    return ["-re", "-i", str(path)]


class RtvoiceRun:
    """``python -m rtvoice ARGS`` in the background; standard error lines arrive on a queue as they are written."""

    def __init__(self, *args: str, timeout_s: float = 60.0):
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen([sys.executable, "-m", "rtvoice", *args], cwd=REPO, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.timeout_s = timeout_s
        self.started = time.monotonic()
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr_lines: list[str] = []
        self._stdout: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=lambda: self._stdout.append(self.proc.stdout.read()), daemon=True)
        self._out_reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip("\n"))
            self.lines.put(line)

    def wait_for(self, text: str, timeout_s: float = 30.0) -> str:
        """The first stderr line containing `text` (fails the test if rtvoice ends or time runs out first)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            if text in line:
                return line
        raise AssertionError(f"rtvoice never said {text!r}; its stderr:\n" + "\n".join(self.stderr_lines))

    def finish(self) -> tuple[int, str, str]:
        """Wait for the end: (exit code, stdout, stderr)."""
        try:
            self.proc.wait(timeout=max(1.0, self.timeout_s - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("rtvoice ran past its time; stderr:\n" + "\n".join(self.stderr_lines))
        self._reader.join(5)
        self._out_reader.join(5)
        return self.proc.returncode, "".join(self._stdout), "\n".join(self.stderr_lines)


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def wer(reference: str, hypothesis: str) -> float:
    return jiwer.wer(normalize_english(reference), normalize_english(hypothesis) or "<empty>")


def read_stats(path: Path) -> dict:
    return json.loads(Path(path).read_text())
