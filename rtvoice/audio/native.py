"""Native audio callbacks: PortAudio streams whose callbacks run no Python (issue 7).

With the Python callbacks of python-sounddevice, each PortAudio callback must take the GIL, so an engine
thread holding it (Whisper, Piper, numpy between releases) delays the callback by milliseconds.
:class:`rtvoice._core.CaptureStream` and :class:`rtvoice._core.PlaybackStream` (C++,
``cpp/include/rtvoice/audio_stream.h``) open the same device (by PortAudio index: rtvoice's native module
links the same ``libportaudio.so.2`` that sounddevice loads) with a callback that only copies between the
device buffer and a :class:`rtvoice.RingBuffer` and times itself. :class:`rtvoice.audio.sources.MicSource` and
:class:`rtvoice.tts.PlaybackSink` use them when this build has them (``rtvoice._core.has_native_audio``:
PortAudio's headers were found at build time) unless told not to: ``native_callback=False``, or the
environment variable ``RTVOICE_NATIVE_CALLBACK=0``. sounddevice still lists and resolves the devices.

The native streams ask PortAudio (ALSA host API) for a SCHED_FIFO callback thread; where the process may
not have one (no CAP_SYS_NICE and RLIMIT_RTPRIO 0) PortAudio runs it at normal priority
(``callback_realtime`` in the stats: a real-time thread was running once the stream had started).
"""

from __future__ import annotations

import os

from rtvoice.errors import DeviceError

ENV = "RTVOICE_NATIVE_CALLBACK"


def available() -> bool:
    """This build has the native streams (it was built against PortAudio)."""
    from rtvoice import _core

    return bool(getattr(_core, "has_native_audio", False))


def use_native(flag: bool | None) -> bool:
    """Whether to use native callbacks: ``flag`` when given (True fails on a build without them); otherwise
    on unless ``RTVOICE_NATIVE_CALLBACK`` is 0/false/no/off, and only when available."""
    if flag is None:
        if os.environ.get(ENV, "").strip().lower() in ("0", "false", "no", "off"):
            return False
        return available()
    if flag and not available():
        raise DeviceError("this rtvoice build has no native audio callbacks (built without PortAudio's headers, "
                          "Debian portaudio19-dev); use native_callback=False")
    return bool(flag)


def suggested_latency(info: dict, kind: str, latency: str | float) -> float:
    """Seconds for a sounddevice-style latency ("low", "high" or seconds) of a device (sd.query_devices dict)."""
    if isinstance(latency, str):
        if latency not in ("low", "high"):
            raise ValueError(f"latency must be 'low', 'high' or seconds, got {latency!r}")
        return float(info[f"default_{latency}_{kind}_latency"])
    value = float(latency)
    if not 0 <= value <= 10:
        raise ValueError(f"latency must be 0 to 10 s, got {value}")
    return value


def stream_errors(sd) -> tuple[type[BaseException], ...]:
    """What opening/starting a stream of either kind raises."""
    from rtvoice._core import AudioStreamError

    return (sd.PortAudioError, AudioStreamError, ValueError)


def realtime_threads() -> int:
    """Threads of this process running SCHED_FIFO or SCHED_RR now (PortAudio's callback threads, when the
    native streams' request for real-time scheduling was granted); 0 where that cannot be read."""
    count = 0
    try:
        for tid in os.listdir("/proc/self/task"):
            try:
                if os.sched_getscheduler(int(tid)) in (os.SCHED_FIFO, os.SCHED_RR):
                    count += 1
            except OSError:  # the thread ended meanwhile
                pass
    except (OSError, AttributeError):
        return 0
    return count


def counters_stats(counters: dict, kind: str, realtime: bool | None = None) -> dict:
    """The native stream's PortAudio status counts for --stats, and whether its callback thread ran
    SCHED_FIFO (``callback_realtime``)."""
    out = {"callback_realtime": realtime}
    if kind == "input":
        out.update(portaudio_status_callbacks=counters["status_callbacks"],
                   portaudio_input_overflows=counters["input_overflows"])
    else:
        out["portaudio_output_underflows"] = counters["output_underflows"]
    return out
