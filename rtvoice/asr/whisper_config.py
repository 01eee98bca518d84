"""Which Whisper model to run and how (:class:`WhisperConfig`), and the checks of a model directory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rtvoice.asr.checks import HallucinationChecks
from rtvoice.asr.window import WindowRule
from rtvoice.errors import ModelError

DEFAULT_MODEL = "whisper-tiny.en-ct2"
MULTILINGUAL_MODEL = "whisper-base-ct2"  # the packaged model for any --language but English
DEVICES = ("auto", "cpu", "cuda")
AUTO = "auto"  # --language auto: the multilingual model detects the language (see WhisperRecognizer.transcribe)
TASKS = ("transcribe", "translate")  # translate: Whisper's own any-language → English task


@dataclass(frozen=True)
class WhisperConfig:
    """Which Whisper model to run and how.

    model_dir: a CTranslate2 Whisper directory (model.bin, config.json, tokenizer.json); None for the packaged
        default (whisper-tiny.en-ct2, sha256-verified).
    device: auto (CUDA when CTranslate2 sees a GPU), cpu or cuda.
    compute_type: CTranslate2 compute type; None for int8 on CPU and float16 on CUDA.
    threads: CPU threads for the encoder (0: CTranslate2's default).
    decoder_threads: CPU threads for the decoder (generation, word alignment, language detection), a second
        instance of the model; None: the encoder's instance and threads; "auto" (the default): a one-thread
        second instance if it decodes faster than the encoder's instance on this CPU, timed once per process
        when the model loads (``WhisperRecognizer.decoder_choice``). A decoder step is a few small matrix
        products: on an AVX-512 EPYC a second thread slows them down, on an AVX2-only one it speeds them up
        (docs/asr.md "Threads"); the encoder's large products gain from it on both.
    beam_size: 1 for greedy decoding.
    language: language code for multilingual models (English-only models ignore it), or "auto": the
        multilingual model detects the language of each window it decodes (see ``transcribe``).
    min_language_probability: with detection, a most probable language below this probability does not
        replace the caller's usual language (a short or unclear window keeps the language of the stream).
    window: padding rule for the encoder window.
    checks: hallucination checks that trigger the full-window fallback.
    """

    model_dir: Path | None = None
    device: str = "auto"
    compute_type: str | None = None
    threads: int = 0
    decoder_threads: int | str | None = AUTO
    beam_size: int = 1
    language: str = "en"
    window: WindowRule = WindowRule()
    checks: HallucinationChecks = HallucinationChecks()
    no_speech_threshold: float = 0.6  # with avg log-prob below min_avg_logprob: silence, no text
    min_language_probability: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.min_language_probability <= 1.0:
            raise ValueError(f"min_language_probability must be within 0..1, got {self.min_language_probability}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")
        if not (self.decoder_threads is None or self.decoder_threads == AUTO
                or (isinstance(self.decoder_threads, int) and self.decoder_threads >= 0)):
            raise ValueError(f"decoder_threads must be >= 0, None or {AUTO!r}, got {self.decoder_threads!r}")
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        if self.model_dir is not None:
            object.__setattr__(self, "model_dir", Path(self.model_dir))


def resolve_device(device: str) -> str:
    """'auto' becomes 'cuda' when CTranslate2 sees a CUDA GPU, else 'cpu'."""
    import ctranslate2

    if device == "auto":
        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
        raise ModelError("--device cuda: CTranslate2 sees no CUDA GPU (use --device cpu or auto)")
    return device


def check_model_dir(path: Path) -> dict:
    """Check that `path` looks like a CTranslate2 Whisper model (model.bin, config.json, vocabulary for
    CTranslate2, tokenizer.json for the text); returns its config.json."""
    if not path.is_dir():
        raise ModelError(f"ASR model directory {path} does not exist")
    missing = [name for name in ("model.bin", "config.json", "tokenizer.json") if not (path / name).is_file()]
    if not any((path / name).is_file() for name in ("vocabulary.txt", "vocabulary.json")):
        missing.append("vocabulary.txt")
    if missing:
        raise ModelError(f"{path} is not a CTranslate2 Whisper model: missing {', '.join(missing)}")
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path / 'config.json'} is not valid JSON ({error})") from error
    if not isinstance(config, dict) or "suppress_ids" not in config:
        raise ModelError(f"{path / 'config.json'} is not a CTranslate2 Whisper config (no suppress_ids)")
    return config
