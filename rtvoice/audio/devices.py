"""Audio devices as PortAudio (through sounddevice) sees them."""

from __future__ import annotations

from dataclasses import dataclass

from rtvoice.errors import DeviceError


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float  # Hz


def _sounddevice():
    try:
        import sounddevice
    except OSError as error:  # PortAudio library missing
        raise DeviceError(f"PortAudio is not available ({error}); install libportaudio2") from error
    return sounddevice


def list_devices() -> list[DeviceInfo]:
    sd = _sounddevice()
    return [
        DeviceInfo(i, d["name"], d["max_input_channels"], d["max_output_channels"], d["default_samplerate"])
        for i, d in enumerate(sd.query_devices())
    ]


def resolve_device(spec: str | int | None, kind: str) -> int | None:
    """Device index for a name (case-insensitive substring) or index; None means the default device.

    Args:
        spec: device index, name or name fragment; None for the system default.
        kind: "input" or "output".
    """
    if spec is None:
        return None
    devices = list_devices()
    channels_of = (lambda d: d.max_input_channels) if kind == "input" else (lambda d: d.max_output_channels)
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        index = int(spec)
        if 0 <= index < len(devices) and channels_of(devices[index]) > 0:
            return index
        raise DeviceError(f"no {kind} device with index {index} (see `rtvoice devices`)")
    matches = [d for d in devices if spec.lower() in d.name.lower() and channels_of(d) > 0]
    if not matches:
        names = ", ".join(repr(d.name) for d in devices if channels_of(d) > 0) or "none"
        raise DeviceError(f"no {kind} device matches {spec!r}; {kind} devices: {names}")
    exact = [d for d in matches if d.name.lower() == spec.lower()]
    return (exact or matches)[0].index
