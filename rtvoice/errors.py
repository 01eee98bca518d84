"""Errors rtvoice reports to users as one clear line (the CLI prints them without a traceback)."""


class RtvoiceError(Exception):
    """Base class: a problem the user can fix (bad input, missing device, missing model)."""


class AudioFormatError(RtvoiceError, ValueError):
    """Audio that cannot be used as given (unreadable file, wrong declared format, empty input)."""


class DeviceError(RtvoiceError):
    """An audio device that does not exist or stopped working."""


class DeviceLostError(DeviceError):
    """The input device went away while capturing (unplugged, its PulseAudio source unloaded, or it stopped
    delivering audio). The CLI still writes everything captured so far and exits with ``exit_code``."""

    exit_code = 3


class ModelError(RtvoiceError):
    """A model file that is missing, unreadable or does not match its manifest."""


class FeedError(RtvoiceError):
    """A network feed (SRT, RTMP, RTSP, HLS, UDP) that cannot be read: it never started within its connect
    timeout, it has no audio track, or FFmpeg is missing (rtvoice.audio.network)."""


class ProgramError(RtvoiceError):
    """A video programme captions cannot be muxed into (not a file, not video, an unknown container) or a
    GStreamer without the elements the mux needs (rtvoice.captions.program)."""
