"""Whisper speech recognition through CTranslate2, fed with rtvoice's own log-mel features.

Only the audio present is encoded: CTranslate2's Whisper encoder accepts windows shorter than Whisper's
30 s (3000 frames), and its cost grows faster than linearly with the window (tiny.en int8, 2 threads:
~25 ms for 500 frames, ~55 ms for 1000, ~370 ms for 3000). Too little padding after the speech makes
Whisper hallucinate (it repeats the end of the utterance), so the window is the speech plus a margin of
padding, rounded up (:meth:`WindowRule.frames`); the rule and its measurement are in
``docs/asr.md``. A result that looks like a hallucination (repeated n-grams, too many words for the
audio, high gzip compression ratio, low average log-probability) is decoded again on the full 30 s
window when ``fallback`` is on.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np

from rtvoice.asr.checks import HallucinationChecks
from rtvoice.asr.tokenizer import WhisperTokenizer
from rtvoice.asr.transcript import DecodeRequest, Transcript, Word
from rtvoice.asr.whisper_config import (
    AUTO,
    DEFAULT_MODEL,
    DEVICES,
    MULTILINGUAL_MODEL,
    TASKS,
    WhisperConfig,
    check_model_dir,
    resolve_device,
)
from rtvoice.asr.window import (
    FULL_WINDOW,
    FULL_WINDOW_FRAMES,
    HOP,
    SAMPLE_RATE,
    SECONDS_PER_ENCODER_FRAME,
    WindowRule,
)
from rtvoice.asr.word_times import speech_onset, tidy_word_times
from rtvoice.errors import AudioFormatError, ModelError

# Re-exported: what other modules import from here.
__all__ = ["AUTO", "DEFAULT_MODEL", "DEVICES", "FULL_WINDOW", "FULL_WINDOW_FRAMES", "HOP", "MULTILINGUAL_MODEL",
           "SAMPLE_RATE", "SECONDS_PER_ENCODER_FRAME", "TASKS", "DecodeRequest", "HallucinationChecks",
           "Transcript", "WhisperConfig", "WhisperRecognizer", "WindowRule", "Word", "check_model_dir",
           "resolve_device"]

_DECODER_CHOICES: dict[tuple, dict] = {}  # decoder_threads="auto": timed once per model and thread count


def _cpu_device():
    import ctranslate2

    return ctranslate2.Device.cpu


def _token_probabilities(result, count: int, first: int = 0) -> list[float]:
    """Softmax probability of each of the first `count` tokens of a generation result at its own step; NaN
    before token `first` (the forced prefix, whose softmax over the vocabulary nobody reads)."""
    steps = result.logits[0][first:count]
    if not steps:
        return [float("nan")] * min(first, count)
    rows = [step if step.device == "cpu" else step.to_device(_cpu_device()) for step in steps]
    logits = np.stack([np.asarray(row, dtype=np.float32).reshape(-1) for row in rows]).astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    chosen = logits[np.arange(len(steps)), result.sequences_ids[0][first:first + len(steps)]]
    return [float("nan")] * first + np.exp(chosen - log_norm).tolist()


class WhisperRecognizer:
    """A loaded Whisper model: log-mel features → encoder → greedy/beam decoding → words with times.

    Thread-safe for one caller at a time (decodes are serialised); CTranslate2 releases the GIL while it runs.
    """

    def __init__(self, config: WhisperConfig = WhisperConfig()):
        import ctranslate2

        from rtvoice.frontend.features import WhisperLogMel

        self.config = config
        files = None  # model files handed to CTranslate2 from memory (a model joined from parts)
        if config.model_dir is None and config.language != "en":
            # not English (or auto): the packaged multilingual base model, its model.bin joined from two packages
            from rtvoice.models import packaged_parts

            model, weights = packaged_parts(MULTILINGUAL_MODEL)
            self.model_dir, self.model_name = model.directory, MULTILINGUAL_MODEL
            files = {"model.bin": weights, "config.json": model.path("config.json").read_bytes(),
                     "vocabulary.txt": model.path("vocabulary.txt").read_bytes()}
            model_config = json.loads(files["config.json"])
        elif config.model_dir is None:
            from rtvoice.models import packaged_model

            self.model_dir = packaged_model(DEFAULT_MODEL).directory
            self.model_name = DEFAULT_MODEL
            model_config = check_model_dir(self.model_dir)
        else:
            self.model_dir = config.model_dir
            self.model_name = str(config.model_dir)
            model_config = check_model_dir(self.model_dir)
        self.device = resolve_device(config.device)
        compute_type = config.compute_type or ("int8" if self.device == "cpu" else "float16")
        supported = ctranslate2.get_supported_compute_types(self.device)
        if compute_type not in supported and compute_type not in ("default", "auto"):
            raise ModelError(f"compute type {compute_type!r} is not supported on {self.device} "
                             f"(supported: {', '.join(sorted(supported))})")
        def load(threads: int):
            try:
                return ctranslate2.models.Whisper(
                    str(self.model_dir) if files is None else self.model_name, device=self.device,
                    compute_type=compute_type, intra_threads=threads, files=files)
            except (RuntimeError, ValueError, OSError) as error:
                raise ModelError(f"cannot load Whisper model from {self.model_dir}: {error}") from error

        self._model = load(config.threads)
        self.compute_type = self._model.compute_type
        self.n_mels = self._model.n_mels
        self.multilingual = self._model.is_multilingual
        self.detects_language = config.language == AUTO
        if self.detects_language and not self.multilingual:
            raise ModelError(f"--language auto needs a multilingual Whisper model; {self.model_name} is English-only "
                             "(leave out --asr-model for the packaged multilingual base)")
        self.tokenizer = WhisperTokenizer(self.model_dir / "tokenizer.json", self.multilingual,
                                          "en" if self.detects_language else config.language)
        self.has_alignment_heads = bool(model_config.get("alignment_heads"))
        self._mel = WhisperLogMel(self.n_mels)
        self._ct2 = ctranslate2
        self._lock = threading.Lock()
        # The decoder's own instance (CPU only: CUDA has no threads to choose). With "auto", decoder_choice
        # says what was timed and chosen (once per process: a later load reuses it).
        self._decoder, self.decoder_choice = self._model, None
        decoder_threads = 1 if config.decoder_threads == AUTO else config.decoder_threads
        if self.device == "cpu" and decoder_threads is not None and decoder_threads != config.threads:
            if config.decoder_threads != AUTO:
                self._decoder = load(decoder_threads)
            else:
                key = (self.model_name, self.device, compute_type, config.threads)
                choice = _DECODER_CHOICES.get(key)
                if choice is None or choice["separate"]:
                    self._decoder = load(decoder_threads)
                if choice is None:
                    choice = _DECODER_CHOICES[key] = self._time_decoders()
                if not choice["separate"]:
                    self._decoder = self._model
                self.decoder_choice = choice
        self.decodes = 0
        self.fallbacks = 0

    def _time_decoders(self, forced_tokens: int = 8, rounds: int = 3) -> dict:
        """Time one greedy decode (`forced_tokens` forced steps and one free one, on a 10 s window of
        encoded silence: the work of a typical partial decode) on the encoder's instance and on the one-thread
        instance, alternately, `rounds` times after a warm-up each; the separate instance is kept if its
        median is lower. Returns the medians (s) and the choice."""
        encoded = self.encode(np.zeros(2 * SAMPLE_RATE, dtype=np.float32), 1000)
        words = self.tokenizer.encode(" the" * forced_tokens)[:forced_tokens]
        prompt = self.tokenizer.prompt(words, language="en" if self.multilingual else None)
        times = {"shared_s": [], "separate_s": []}
        for round_ in range(rounds + 1):
            for name, model in (("shared_s", self._model), ("separate_s", self._decoder)):
                t0 = time.perf_counter()
                model.generate(encoded, [prompt], beam_size=1, max_length=len(prompt) + 1)
                if round_:
                    times[name].append(time.perf_counter() - t0)
        choice = {name: round(float(np.median(values)), 5) for name, values in times.items()}
        choice["separate"] = choice["separate_s"] < choice["shared_s"]
        return choice

    def describe(self) -> str:
        detection = ", language detected" if self.detects_language else ""
        decoder = ""
        if self.decoder_choice is not None:
            copy = "its own one-thread copy" if self.decoder_choice["separate"] else "the same copy"
            decoder = (f", decoder on {copy} (timed {self.decoder_choice['separate_s'] * 1e3:.0f} ms one-thread, "
                       f"{self.decoder_choice['shared_s'] * 1e3:.0f} ms shared)")
        return f"{self.model_name} on {self.device} ({self.compute_type}){detection}{decoder}"

    def _language_of(self, language: str | None) -> str | None:
        """The language a decode runs in: the given code, the configured one, or AUTO (detect)."""
        if not self.multilingual:
            return "en"
        return language or self.config.language

    def _detect(self, encoded, usual: str | None) -> tuple[str, float, str]:
        """(language to decode in, its probability, the most probable language) from an encoder output:
        the most probable language, unless it is below ``min_language_probability`` and there is a usual
        language, which then stays."""
        guesses = [(code[2:-2], float(p)) for code, p in self._decoder.detect_language(encoded)[0]]
        best, p_best = guesses[0]
        if usual is not None and best != usual and p_best < self.config.min_language_probability:
            return usual, dict(guesses).get(usual, 0.0), best
        return best, p_best, best

    # -- pieces ------------------------------------------------------------------------------------------
    def features(self, audio: np.ndarray, frames: int) -> np.ndarray:
        """Log-mel of `audio` followed by silence, `frames` frames long: float32 (1, n_mels, frames)."""
        padded = np.zeros(frames * HOP, dtype=np.float32)
        n = min(len(audio), len(padded))
        padded[:n] = audio[:n]
        return np.ascontiguousarray(self._mel.compute(padded)[None])

    def encode(self, audio: np.ndarray, frames: int):
        features = self._ct2.StorageView.from_array(self.features(audio, frames))
        return self._model.encode(features, to_cpu=False)

    def transcribe(
        self,
        audio: np.ndarray,
        prefix: list[int] = (),
        previous: list[int] = (),
        word_timestamps: bool = True,
        fallback: bool = True,
        window: WindowRule | None = None,
        language: str | None = None,
        usual_language: str | None = None,
        task: str = "transcribe",
        token_probabilities: bool = False,
    ) -> Transcript:
        """Decode one window of 16 kHz mono float32 audio (at most 30 s).

        Args:
            prefix: text tokens forced at the start of the result (already committed text).
            previous: text tokens of earlier speech, given as a prompt (conditioning).
            word_timestamps: align words to the audio (cross-attention DTW); times relative to the audio start.
            fallback: decode again on the full 30 s window if the result looks hallucinated.
            window: padding rule (default: the configured one).
            language: a language code, None (the configured language) or "auto": detect it on this window's
                encoder output (one decoder step; multilingual models only) and decode in it.
            usual_language: with "auto", the language of the stream so far: kept when the detection is
                unsure (below ``min_language_probability``), and the language of `prefix`, which is dropped
                (``prefix_dropped``) when another language is detected (it would be text in the wrong one).
            task: "transcribe", or "translate" (multilingual models: English text for any language).
            token_probabilities: fill ``Transcript.token_probs`` (CTranslate2 returns the vocabulary's logits
                for every step; their softmax is taken here for the steps after `prefix`).
        """
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise AudioFormatError(f"audio must be mono (1-D), got shape {audio.shape}")
        n = len(audio) // HOP
        if n > FULL_WINDOW_FRAMES:
            raise AudioFormatError(f"{len(audio) / SAMPLE_RATE:.2f} s of audio is longer than Whisper's 30 s window")
        rule = window or self.config.window
        language = self._language_of(language)
        with self._lock:
            result, encoded = self._decode(audio, n, rule.frames(n), list(prefix), list(previous), language,
                                           usual_language, task, token_probabilities)
            if fallback and result.problems and result.window_frames < FULL_WINDOW_FRAMES:
                # The retry keeps the language chosen on the first window (and its prefix decision).
                kept_prefix = [] if result.prefix_dropped else list(prefix)
                retry, encoded = self._decode(audio, n, FULL_WINDOW_FRAMES, kept_prefix, list(previous),
                                              result.language, None, task, token_probabilities)
                retry.language_probability, retry.detected = result.language_probability, result.detected
                retry.prefix_dropped = result.prefix_dropped
                retry.encode_s += result.encode_s
                retry.decode_s += result.decode_s
                retry.fell_back = True
                self.fallbacks += 1
                result = retry
            if word_timestamps and result.tokens and task == "transcribe":
                self._align(result, n, audio, encoded)
            self.decodes += 1
        return result

    def transcribe_batch(self, requests: list["DecodeRequest"]) -> list[Transcript]:
        """Decode several windows as one CTranslate2 batch (encoder and decoder): what :meth:`transcribe`
        gives for each, except that every window is padded to the longest window of the batch (more padding
        than the rule asks for, never less). A result that looks hallucinated is decoded again alone on the
        full window (when its request has ``fallback``); word times are aligned one request at a time."""
        if not requests:
            return []
        audios = [np.asarray(r.audio, dtype=np.float32) for r in requests]
        for audio in audios:
            if audio.ndim != 1:
                raise AudioFormatError(f"audio must be mono (1-D), got shape {audio.shape}")
            if len(audio) // HOP > FULL_WINDOW_FRAMES:
                raise AudioFormatError(f"{len(audio) / SAMPLE_RATE:.2f} s of audio is longer than Whisper's 30 s "
                                       f"window")
        if len(requests) == 1:
            r = requests[0]
            return [self.transcribe(audios[0], prefix=r.prefix, previous=r.previous,
                                    word_timestamps=r.word_timestamps, fallback=r.fallback)]
        ns = [len(a) // HOP for a in audios]
        frames = max(self.config.window.frames(n) for n in ns)
        with self._lock:
            t0 = time.perf_counter()
            features = np.concatenate([self.features(a, frames) for a in audios])
            encoded = np.asarray(self._model.encode(self._ct2.StorageView.from_array(features), to_cpu=True))
            languages, probabilities = [self._language_of(None)] * len(requests), [None] * len(requests)
            if languages[0] == AUTO:  # one detection per window, from the batch's encoder output
                detected = self._decoder.detect_language(self._ct2.StorageView.from_array(encoded))
                languages = [guesses[0][0][2:-2] for guesses in detected]
                probabilities = [float(guesses[0][1]) for guesses in detected]
            t1 = time.perf_counter()
            prompts = [self.tokenizer.prompt(list(r.prefix), list(r.previous), language=language)
                       for r, language in zip(requests, languages)]
            max_new = [int(12 + 8 * len(a) / SAMPLE_RATE) for a in audios]
            # CTranslate2 needs <|startoftranscript|> at the same position in every prompt of a batch; with text
            # context the previous-text prompts differ in length, so requests are decoded in groups by that
            # position (streams whose context has reached max_previous_tokens share one).
            groups: dict[int, list[int]] = {}
            for i, prompt in enumerate(prompts):
                groups.setdefault(prompt.index(self.tokenizer.sot), []).append(i)
            results: list = [None] * len(requests)
            for members in groups.values():
                rows = encoded if len(members) == len(requests) else np.ascontiguousarray(encoded[members])
                # One suppress_blank per group: only when no request forces a prefix (as transcribe does alone).
                decoded = self._decoder.generate(
                    self._ct2.StorageView.from_array(rows), [prompts[i] for i in members],
                    beam_size=self.config.beam_size,
                    max_length=max(len(prompts[i]) + max_new[i] for i in members), return_scores=True,
                    return_no_speech_prob=True, suppress_blank=not any(requests[i].prefix for i in members))
                for i, result in zip(members, decoded):
                    results[i] = result
            t2 = time.perf_counter()
            out = []
            for i, (r, audio, n, result) in enumerate(zip(requests, audios, ns, results)):
                share = 1 / len(requests)  # each request is charged its share of the batch's time
                transcript = self._transcript(result, list(r.prefix), len(audio) / SAMPLE_RATE, frames, max_new[i])
                transcript.encode_s, transcript.decode_s = (t1 - t0) * share, (t2 - t1) * share
                transcript.language, transcript.language_probability = languages[i], probabilities[i]
                transcript.detected = languages[i] if probabilities[i] is not None else None
                own = self._ct2.StorageView.from_array(np.ascontiguousarray(encoded[i:i + 1]))
                if r.fallback and transcript.problems and frames < FULL_WINDOW_FRAMES:
                    retry, own = self._decode(audio, n, FULL_WINDOW_FRAMES, list(r.prefix), list(r.previous),
                                              languages[i])
                    retry.language_probability, retry.detected = transcript.language_probability, transcript.detected
                    retry.encode_s += transcript.encode_s
                    retry.decode_s += transcript.decode_s
                    retry.fell_back = True
                    self.fallbacks += 1
                    transcript = retry
                if r.word_timestamps and transcript.tokens:
                    self._align(transcript, n, audio, own)
                self.decodes += 1
                out.append(transcript)
        return out

    def _decode(self, audio: np.ndarray, n: int, frames: int, prefix: list[int], previous: list[int],
                language: str | None = None, usual_language: str | None = None, task: str = "transcribe",
                token_probabilities: bool = False):
        """Encode a window of `frames` frames and decode it (in `language`; AUTO: detected, see
        ``transcribe``); returns (Transcript, encoder output)."""
        seconds = len(audio) / SAMPLE_RATE
        t0 = time.perf_counter()
        encoded = self.encode(audio, frames)
        probability = detected = None
        dropped = False
        if language == AUTO:
            language, probability, detected = self._detect(encoded, usual_language)
            if prefix and usual_language is not None and language != usual_language:
                prefix, dropped = [], True
        t1 = time.perf_counter()
        prompt = self.tokenizer.prompt(prefix, previous, language=language if self.multilingual else None, task=task)
        # A generous cap on the tokens for the audio present: a runaway repetition stops early.
        max_new = int(12 + 8 * seconds)
        result = self._decoder.generate(
            encoded, [prompt], beam_size=self.config.beam_size, max_length=len(prompt) + max_new,
            return_scores=True, return_no_speech_prob=True, suppress_blank=not prefix,
            return_logits_vocab=token_probabilities,
        )[0]
        t2 = time.perf_counter()
        transcript = self._transcript(result, prefix, seconds, frames, max_new)
        if token_probabilities:
            transcript.token_probs = _token_probabilities(result, len(transcript.tokens), len(prefix))
        transcript.encode_s, transcript.decode_s = t1 - t0, t2 - t1
        transcript.language, transcript.language_probability, transcript.detected = language, probability, detected
        transcript.prefix_dropped, transcript.task = dropped, task
        return transcript, encoded

    def _transcript(self, result, prefix: list[int], seconds: float, frames: int, max_new: int) -> Transcript:
        """A CTranslate2 generation result → Transcript, with the silence and hallucination checks."""
        tokens = [t for t in result.sequences_ids[0] if t < self.tokenizer.eot]
        truncated = len(tokens) - len(prefix) >= max_new - 1
        avg_logprob = float(result.scores[0]) if result.scores else 0.0
        text = self.tokenizer.decode(tokens)
        transcript = Transcript(
            tokens=tokens, text=text, words=[], avg_logprob=avg_logprob, no_speech_prob=float(result.no_speech_prob),
            audio_seconds=seconds, window_frames=frames,
        )
        checks = self.config.checks
        if (not prefix and transcript.no_speech_prob > self.config.no_speech_threshold
                and avg_logprob < checks.min_avg_logprob):
            transcript.tokens, transcript.text = [], ""
        else:
            transcript.problems = checks.problems(text, avg_logprob, seconds, truncated)
        return transcript

    def _align(self, transcript: Transcript, n: int, audio: np.ndarray, encoded) -> None:
        """Word start/end times (seconds from the audio start) and probabilities, from cross-attention DTW.

        DTW lets a word absorb the silence next to it (the first word starts at 0 however late the speech
        begins), so, as Whisper's own timing code does, words longer than twice the median word (0.7 s at
        most) are shortened at the start of the audio and around sentence ends, and the first word starts no
        earlier than the first 10 ms frame within 35 dB of the loudest one."""
        t0 = time.perf_counter()
        tokens = transcript.tokens
        words = self.tokenizer.split_words(tokens)
        if not words:
            return
        if not self.has_alignment_heads:
            # No alignment heads: spread words over the audio by their length (times are estimates).
            total = sum(len(w.text) for w in words)
            position = 0.0
            out = []
            for w in words:
                start = position
                position += transcript.audio_seconds * len(w.text) / total
                out.append(Word(w.text, start, position, float("nan")))
            transcript.words = out
            return
        sot = self.tokenizer.sot_sequence_for(transcript.language if self.multilingual else None)
        result = self._decoder.align(encoded, sot, [tokens + [self.tokenizer.eot]],
                                   max(n, 1))[0]
        pairs = np.asarray(result.alignments, dtype=np.int64).reshape(-1, 2)
        probs = np.asarray(result.text_token_probs, dtype=np.float64)
        # Time at which the path first reaches each text token (a jump in the token index).
        jumps = np.concatenate([[True], np.diff(pairs[:, 0]) != 0]) if len(pairs) else np.zeros(0, bool)
        token_start = pairs[jumps, 1] * SECONDS_PER_ENCODER_FRAME
        limit = transcript.audio_seconds
        out = []
        for w in words:
            start = float(token_start[w.first]) if w.first < len(token_start) else limit
            end = float(token_start[w.last]) if w.last < len(token_start) else limit
            start, end = min(start, limit), min(max(end, start), limit)
            p = float(np.mean(probs[w.first:w.last])) if w.last <= len(probs) and w.last > w.first else float("nan")
            out.append(Word(w.text, start, end, p))
        transcript.words = tidy_word_times(out, speech_onset(audio))
        transcript.align_s = time.perf_counter() - t0
