"""A private PulseAudio server with a null sink, so the microphone path is tested for real.

The ``pulse_server`` fixture starts ``pulseaudio`` in a temporary runtime directory (its own socket, no
D-Bus, no cookie), loads a null sink ``rtvoice_test`` and points this process's PulseAudio clients at it:
anything played into the sink (``paplay``) can be captured from its monitor through PortAudio's ALSA
``pulse`` device, i.e. exactly the code path a microphone takes. The test is skipped, with the reason, when
the server cannot be started here.

Two settings matter (found by recording what was played and correlating):

- ``norewinds=1`` on the null sink: by default the sink rewinds the silence it has already rendered when a
  stream starts, but its monitor has already captured it, so the recording gets chunks of audio twice or
  not at all (correlation with what was played fell to ~0.1).
- the sink runs at 16 kHz mono float32, so what is captured at PortAudio's 44.1 kHz default goes through
  PulseAudio's resampler once (soxr-vhq) and rtvoice's soxr resampler once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SINK = "rtvoice_test"


@dataclass
class PulseServer:
    runtime: Path
    pid: int
    sink: str = SINK

    @property
    def monitor(self) -> str:
        return f"{self.sink}.monitor"

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(_client_env(self.runtime, self.sink))
        return env

    def play(self, path: Path, wait: bool = True) -> subprocess.Popen:
        """Play an audio file into the null sink with paplay."""
        process = subprocess.Popen(["paplay", f"--device={self.sink}", str(path)], env=self.env(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if wait:
            _, err = process.communicate(timeout=120)
            if process.returncode != 0:
                raise RuntimeError(f"paplay failed: {err.decode(errors='replace').strip()}")
        return process

    def pactl(self, *args: str) -> str:
        """Run pactl against this server; its standard output (RuntimeError with its message on failure)."""
        result = subprocess.run(["pactl", *args], env=self.env(), capture_output=True, text=True, timeout=10)
        if result.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def capture_streams(self) -> int:
        """Streams recording from this server's sources now (a client capturing from the monitor)."""
        return len(self.pactl("list", "short", "source-outputs").splitlines())

    def load_null_sink(self, name: str) -> int:
        """Another null sink (and its monitor source); returns its module index."""
        return int(self.pactl("load-module", "module-null-sink", f"sink_name={name}", "norewinds=1").strip())

    def unload_sink(self, name: str | None = None) -> None:
        """Unload the module of a null sink (default: this server's): the sink and its monitor disappear,
        as a USB microphone does when unplugged. What PulseAudio does with the streams on it is in
        docs/faults.md (killed when no other source is left, moved to the fallback source otherwise)."""
        name = name or self.sink
        for line in self.pactl("list", "short", "modules").splitlines():
            index, module, *rest = line.split("\t")
            if module == "module-null-sink" and f"sink_name={name} " in (rest[0] if rest else "") + " ":
                self.pactl("unload-module", index)
                return
        raise RuntimeError(f"no null sink {name!r} on this server")


def _client_env(runtime: Path, sink: str) -> dict:
    return {
        "PULSE_SERVER": f"unix:{runtime / 'pulse' / 'native'}",
        "PULSE_RUNTIME_PATH": str(runtime / "pulse"),
        "PULSE_SINK": sink,
        "PULSE_SOURCE": f"{sink}.monitor",
    }


def start_pulse_server() -> PulseServer:
    """Start a private server; raises RuntimeError with the reason when it cannot."""
    if shutil.which("pulseaudio") is None or shutil.which("paplay") is None:
        raise RuntimeError("pulseaudio/paplay not installed (Debian packages pulseaudio, pulseaudio-utils)")
    runtime = Path(tempfile.mkdtemp(prefix="rtvoice-pulse-"))
    os.chmod(runtime, 0o700)
    (runtime / "pulse").mkdir(mode=0o700)
    env = dict(os.environ)
    env.update(XDG_RUNTIME_DIR=str(runtime), PULSE_RUNTIME_PATH=str(runtime / "pulse"), HOME=str(runtime),
               XDG_CONFIG_HOME=str(runtime / "config"))
    env.pop("PULSE_SERVER", None)
    command = [
        "pulseaudio", "--daemonize=yes", "--system=false", "--exit-idle-time=-1", "-n",
        "--disallow-exit", "--use-pid-file=yes", "--resample-method=soxr-vhq",
        f"--log-target=file:{runtime / 'pulse.log'}",
        "--load=module-native-protocol-unix auth-anonymous=1",
        f"--load=module-null-sink sink_name={SINK} norewinds=1 rate=16000 channels=1 format=float32le",
    ]
    result = subprocess.run(command, env=env, capture_output=True, timeout=30)
    pid_file = runtime / "pulse" / "pid"
    if result.returncode != 0 or not pid_file.exists():
        log = (runtime / "pulse.log").read_text(errors="replace")[-500:] if (runtime / "pulse.log").exists() else ""
        shutil.rmtree(runtime, ignore_errors=True)
        raise RuntimeError(f"pulseaudio did not start (exit {result.returncode}): "
                           f"{result.stderr.decode(errors='replace').strip()[-300:]} {log}")
    pid = int(pid_file.read_text().split()[0])
    server = PulseServer(runtime, pid)
    deadline = time.monotonic() + 10
    while True:
        info = subprocess.run(["pactl", "list", "short", "sinks"], env=server.env(), capture_output=True, timeout=10)
        if info.returncode == 0 and SINK.encode() in info.stdout:
            return server
        if time.monotonic() > deadline:
            stop_pulse_server(server)
            raise RuntimeError(f"pulseaudio started but its sink never appeared: {info.stderr.decode().strip()}")
        time.sleep(0.1)


def stop_pulse_server(server: PulseServer) -> None:
    try:
        os.kill(server.pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(server.pid, 0)
            time.sleep(0.05)
    except ProcessLookupError:
        pass
    shutil.rmtree(server.runtime, ignore_errors=True)


def _reinitialise_portaudio() -> None:
    """PortAudio reads its device list once; start it again so it sees the pulse device and our server."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


@pytest.fixture(scope="session")
def pulse_server():
    """A running private PulseAudio server; this process's PortAudio/ALSA clients use it."""
    try:
        server = start_pulse_server()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"no PulseAudio server for the microphone test: {error}")
    saved = {k: os.environ.get(k) for k in _client_env(server.runtime, server.sink)}
    os.environ.update(_client_env(server.runtime, server.sink))
    try:
        try:
            _reinitialise_portaudio()
            from rtvoice.audio.devices import resolve_device

            resolve_device("pulse", "input")
        except Exception as error:  # PortAudio without ALSA's pulse plugin
            pytest.skip(f"PortAudio has no 'pulse' input device (libasound2-plugins missing?): {error}")
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        stop_pulse_server(server)
        try:
            _reinitialise_portaudio()
        except Exception:
            pass


def best_alignment(captured: np.ndarray, played: np.ndarray) -> tuple[int, float]:
    """Lag (samples) and correlation of `played` inside `captured`, allowing a fractional-sample delay."""
    n = len(played)
    spectrum = np.fft.rfft(captured, len(captured) + n)
    reference = np.fft.rfft(played, len(captured) + n)
    lag = int(np.argmax(np.fft.irfft(spectrum * np.conj(reference))[: len(captured) - n + 1]))
    segment = captured[lag:lag + n]
    freqs = np.fft.rfftfreq(2 * n)
    played_spectrum = np.fft.rfft(played, 2 * n)
    best = -1.0
    for delay in np.linspace(-1, 1, 17):
        shifted = np.fft.irfft(played_spectrum * np.exp(-2j * np.pi * freqs * delay), 2 * n)[:n]
        best = max(best, float(np.corrcoef(segment, shifted)[0, 1]))
    return lag, best
