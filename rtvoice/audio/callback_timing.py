"""How long the audio callbacks take, measured in the running engine.

Each PortAudio callback (:class:`rtvoice.audio.sources.MicSource` capture, :class:`rtvoice.tts.PlaybackSink`
playback) records its duration in a lock-free histogram (1 µs buckets up to 20 ms, exact maximum). Native
callbacks (the default, rtvoice.audio.native: :class:`rtvoice._core.CaptureStream` /
``PlaybackStream``) do it in C++ (``callback_path`` "native"), and also record native entry to exit alone
(``callback_entry_*``, :func:`entry_stats`). Python callbacks (``RTVOICE_NATIVE_CALLBACK=0``) make one
native call, :meth:`rtvoice._core.CallbackMeter.write` or
:meth:`~rtvoice._core.CallbackMeter.read_or_silence_into`, that does the ring-buffer operation and records.

What the figure covers: from PortAudio's ``time_info.currentTime`` to the end of the ring operation. On
Linux/ALSA (the PulseAudio plugin included) that timestamp is CLOCK_REALTIME, read by PortAudio in its
callback thread when it queries the device, before it reads the block and calls the callback (checked: it
lies 7-120 µs before Python's ``time.time()`` inside the callback). So the figure includes PortAudio's
read of the block and, for Python callbacks, sounddevice's cffi dispatch and the wait for the GIL (the part
that can really block: another Python thread holding the GIL for its switch interval), then the copy. It
does not include what runs after the native call returns (a few Python bytecodes) nor PortAudio's own
work before its timestamp. When the timestamp is on no clock the meter knows (0 or
another epoch: some host APIs), the duration is measured from native entry only and those callbacks
are counted in ``callbacks_timed_from_entry`` (``callback_timed_from`` then says "native entry").

Goal (issue 7): p99 < 0.5 ms and max < 2 ms under full ASR/TTS load.
"""

from __future__ import annotations

GOAL_P99_S = 0.5e-3
GOAL_MAX_S = 2e-3


def new_meter():
    """A CallbackMeter with the default buckets (1 µs up to 20 ms)."""
    from rtvoice._core import CallbackMeter

    return CallbackMeter()


def callback_stats(meter) -> dict:
    """Flat figures for --stats: ``callbacks``, ``callback_{p50,p99,max}_ms`` and where they are timed from."""
    r = meter.reading()
    if r["count"] == 0:
        return {"callbacks": 0, "callback_p50_ms": None, "callback_p99_ms": None, "callback_max_ms": None,
                "callback_timed_from": None, "callbacks_timed_from_entry": 0}
    entry = r["from_entry"]
    return {
        "callbacks": r["count"],
        "callback_p50_ms": round(r["p50_s"] * 1e3, 4),
        "callback_p99_ms": round(r["p99_s"] * 1e3, 4),
        "callback_max_ms": round(r["max_s"] * 1e3, 4),
        "callback_timed_from": "portaudio" if entry == 0 else "native entry" if entry == r["count"] else "mixed",
        "callbacks_timed_from_entry": entry,
    }


def entry_stats(meter, path: str) -> dict:
    """``callback_path`` ("native" or "python") and, for native callbacks, the duration from native entry to
    exit alone (``callback_entry_{p50,p99,max}_ms``: what rtvoice's own code takes, without PortAudio's
    work between its timestamp and the call)."""
    out = {"callback_path": path}
    if meter is None:
        return out
    r = meter.reading()
    for q in ("p50", "p99", "max"):
        out[f"callback_entry_{q}_ms"] = round(r[f"{q}_s"] * 1e3, 4) if r["count"] else None
    return out


def within_goal(stats: dict) -> bool:
    """p99 and max within the goal (True when no callback ran)."""
    if not stats.get("callbacks"):
        return True
    return stats["callback_p99_ms"] < GOAL_P99_S * 1e3 and stats["callback_max_ms"] < GOAL_MAX_S * 1e3


def summary_line(label: str, stats: dict) -> str | None:
    """One line for the end-of-run report, or None when no callback ran."""
    if not stats.get("callbacks"):
        return None
    verdict = "within" if within_goal(stats) else "OVER"
    timed = "" if stats["callback_timed_from"] == "portaudio" else f", timed from {stats['callback_timed_from']}"
    path = stats.get("callback_path")
    label = f"{label} ({path})" if path else label
    return (f"{label} callback: {stats['callbacks']} calls, p50 {stats['callback_p50_ms']:.3f} ms, "
            f"p99 {stats['callback_p99_ms']:.3f} ms, max {stats['callback_max_ms']:.3f} ms ({verdict} the goal "
            f"p99 < {GOAL_P99_S * 1e3:g} ms, max < {GOAL_MAX_S * 1e3:g} ms{timed})")


def report_lines(stats: dict) -> list[str]:
    """Summary lines for the callbacks in a caption/dub run's stats (microphone, then speaker)."""
    lines = []
    for label, part in (("microphone", stats.get("source") or {}), ("speaker", stats.get("tts") or {})):
        line = summary_line(label, part)
        if line is not None:
            lines.append(line)
    return lines
