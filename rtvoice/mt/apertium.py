"""Rule-based translation with Apertium (Debian packages): en↔es, en↔ca, en↔gl.

Apertium is a pipeline of about ten small programs (morphological analyser, tagger, transfer stages,
generator) that load their dictionaries at start-up; a fresh pipeline costs 0.2–0.3 s before its first
word, so a :class:`ApertiumTranslator` keeps ONE pipeline running for its pair and feeds it line after
line. The pipeline is the pair's mode file as ``apertium-wblank-mode -z`` writes it out: every program
in null-flush mode, so each NUL-terminated input line comes back as a NUL-terminated output line at
once. rtvoice runs that pipeline itself rather than the ``apertium`` wrapper script, whose extra stages
(the format filter, gawk) hold output back in a live pipe.

Input is plain text, not Apertium's stream format: its reserved characters are escaped with a
backslash on the way in and unescaped on the way out. Each line is sent with a trailing space: the
analyser holds a sentence-final full stop that is directly followed by NUL (it waits to see whether an
abbreviation goes on), and would return it only with the next line.

A pipeline that dies (killed, out of memory) is restarted once for the line it failed on; a second
failure is reported with the last line of its error output.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from rtvoice.mt.base import BackendMissingError, Pair, TranslationError, Translator

MODES_DIR = Path("/usr/share/apertium/modes")
# pair -> (Apertium mode, Debian package with its data)
MODES = {
    Pair("en", "es"): ("eng-spa", "apertium-eng-spa"),
    Pair("es", "en"): ("spa-eng", "apertium-eng-spa"),
    Pair("en", "ca"): ("eng-cat", "apertium-eng-cat"),
    Pair("ca", "en"): ("cat-eng", "apertium-eng-cat"),
    Pair("en", "gl"): ("en-gl", "apertium-en-gl"),
    Pair("gl", "en"): ("gl-en", "apertium-en-gl"),
}
_RESERVED = re.compile(r"([\\\[\]^$/@<>{}])")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def installed(pair: Pair, modes_dir: Path = MODES_DIR) -> tuple[bool, str]:
    """(True, '') when the pair's Apertium data and tools are installed, else (False, what to install)."""
    mode, package = MODES[pair]
    if shutil.which("apertium-wblank-mode") is None:
        return False, f"apt-get install apertium {package}"
    if not (modes_dir / f"{mode}.mode").is_file():
        return False, f"apt-get install {package}"
    return True, ""


class ApertiumTranslator(Translator):
    """One language pair, one persistent Apertium pipeline (see the module docstring).

    Args:
        pair: one of :data:`MODES`.
        modes_dir: where the ``*.mode`` files are (Debian: /usr/share/apertium/modes).
        timeout_s: the longest a line may take before the pipeline is taken for hung (s).
    """

    backend = "apertium"
    quality = "rule-based"

    def __init__(self, pair: Pair, modes_dir: Path = MODES_DIR, timeout_s: float = 10.0):
        super().__init__(pair)
        if pair not in MODES:
            raise TranslationError(f"Apertium in rtvoice translates {', '.join(map(str, MODES))}, not {pair}")
        ok, install = installed(pair, Path(modes_dir))
        if not ok:
            raise BackendMissingError(f"{pair} needs Apertium's {MODES[pair][1]} data, which is not installed: "
                                      f"{install}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.mode = MODES[pair][0]
        self.mode_file = Path(modes_dir) / f"{self.mode}.mode"
        self.timeout_s = timeout_s
        self.restarts = 0
        self._lock = threading.Lock()  # one line in the pipeline at a time: output is matched to input by order
        self._process: subprocess.Popen | None = None
        self._stderr = None
        self._closed = False
        self._command = self._pipeline_command()
        self._start()

    # ---------------------------------------------------------------- the pipeline
    def _pipeline_command(self) -> str:
        try:
            out = subprocess.run(["apertium-wblank-mode", "-z", str(self.mode_file)], capture_output=True,
                                 text=True, timeout=30, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError) as error:
            raise TranslationError(f"Apertium: cannot read the {self.mode} mode ({error})") from error
        if not out:
            raise TranslationError(f"Apertium: the {self.mode} mode file gives no pipeline")
        return out

    def _start(self) -> None:
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ, LC_ALL="C.UTF-8")
        # $1: generator option (-n: unknown words without the '*' mark); $2: tagger option (none).
        self._process = subprocess.Popen(
            ["bash", "-c", self._command, f"apertium-{self.mode}", "-n", ""],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
            start_new_session=True)  # its own process group: close() ends every program of the pipeline

    @property
    def pid(self) -> int | None:
        """Process id of the pipeline's shell (the same for every line while the pipeline lives)."""
        return None if self._process is None else self._process.pid

    def _error_tail(self) -> str:
        try:
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):
            return ""
        return lines[-1] if lines else ""

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        process.stdout.close()

    def _round_trip(self, payload: bytes) -> bytes:
        process = self._process
        process.stdin.write(payload)
        process.stdin.flush()
        out = bytearray()
        fd = process.stdout.fileno()
        while not out.endswith(b"\0"):
            ready, _, _ = select.select([fd], [], [], self.timeout_s)
            if not ready:
                raise TimeoutError(f"no output after {self.timeout_s:g} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("the pipeline ended")
            out += chunk
        return bytes(out[:-1])

    # ---------------------------------------------------------------- Translator
    def _translate(self, line: str) -> str:
        payload = (_RESERVED.sub(r"\\\1", line.replace("\0", " ")) + " ").encode("utf-8") + b"\0"
        with self._lock:
            if self._closed:
                raise TranslationError(f"the {self.pair} translator is closed")
            for attempt in (1, 2):
                try:
                    raw = self._round_trip(payload)
                    break
                except (OSError, EOFError, TimeoutError) as error:
                    detail = self._error_tail()
                    self._stop()
                    if attempt == 2:
                        raise TranslationError(f"Apertium {self.mode} failed twice on a line ({error}"
                                               f"{'; ' + detail if detail else ''})") from error
                    self.restarts += 1
                    self._start()
        return _ESCAPED.sub(r"\1", raw.decode("utf-8", "replace")).strip()

    def stats(self) -> dict:
        return {**super().stats(), "restarts": self.restarts}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._stop()
            if self._stderr is not None:
                self._stderr.close()
