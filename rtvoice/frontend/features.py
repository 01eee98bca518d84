"""Speech features computed by the native core.

- :class:`Fbank` and :class:`Mfcc` follow Kaldi (option names and defaults as in kaldi-native-fbank,
  except ``dither`` which defaults to 0 so results are deterministic).
- :class:`WhisperLogMel` is OpenAI Whisper's log-mel spectrogram (16 kHz, n_fft 400, hop 160).

All take float32 mono samples at the configured sample rate (Kaldi features expect the usual int16
scale if they are to match Kaldi tools numerically; any scale works).
"""

from __future__ import annotations

from rtvoice._core import (
    Fbank,
    FbankOptions,
    FrameExtractionOptions,
    Framer,
    MelBanksOptions,
    Mfcc,
    MfccOptions,
    WhisperLogMel,
    kaldi_mel_filters,
    slaney_mel_filters,
)

__all__ = [
    "Fbank",
    "FbankOptions",
    "FrameExtractionOptions",
    "Framer",
    "MelBanksOptions",
    "Mfcc",
    "MfccOptions",
    "WhisperLogMel",
    "kaldi_mel_filters",
    "slaney_mel_filters",
    "fbank_options",
    "mfcc_options",
]

_FRAME_FIELDS = (
    "samp_freq",
    "frame_shift_ms",
    "frame_length_ms",
    "dither",
    "preemph_coeff",
    "remove_dc_offset",
    "window_type",
    "round_to_power_of_two",
    "blackman_coeff",
    "snip_edges",
)
_MEL_FIELDS = {"num_bins": "num_bins", "num_mel_bins": "num_bins", "low_freq": "low_freq", "high_freq": "high_freq"}


def _apply(opts, fields: dict) -> None:
    for name, value in fields.items():
        if name in _FRAME_FIELDS or name == "sample_rate":
            setattr(opts.frame_opts, "samp_freq" if name == "sample_rate" else name, value)
        elif name in _MEL_FIELDS:
            setattr(opts.mel_opts, _MEL_FIELDS[name], value)
        elif hasattr(opts, name) and name not in ("frame_opts", "mel_opts"):
            setattr(opts, name, value)
        else:
            raise TypeError(f"unknown option {name!r} for {type(opts).__name__}")
    opts.validate()


def fbank_options(**fields) -> FbankOptions:
    """FbankOptions from flat keyword arguments (``sample_rate`` in Hz, ``num_mel_bins``, ``frame_shift_ms``...)."""
    opts = FbankOptions()
    _apply(opts, fields)
    return opts


def mfcc_options(**fields) -> MfccOptions:
    """MfccOptions from flat keyword arguments (``num_ceps``, ``cepstral_lifter``, ``num_mel_bins``...)."""
    opts = MfccOptions()
    _apply(opts, fields)
    return opts
