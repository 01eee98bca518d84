"""The streaming policy's settings (:class:`StreamingConfig`) and what it counts (:class:`StreamingStats`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from rtvoice.asr.window import FULL_WINDOW_FRAMES, HOP, SAMPLE_RATE
from rtvoice.metrics.percentiles import Reservoir

CONTEXTS = ("none", "text", "audio", "both")
COMMIT_BOUNDARIES = ("auto", "all", "newest")
SCHEDULES = ("fixed", "compute")


@dataclass(frozen=True)
class StreamingConfig:
    """Streaming policy settings (seconds are stream seconds of audio)."""

    partial_interval_s: float = 0.3  # decode the growing segment again after this much new audio
    min_partial_audio_s: float = 0.3  # no partial decode on less audio than this
    # LocalAgreement-n: how many consecutive hypotheses must agree before tokens are committed, and what
    # each segment's decodes are given from the speech before it: "none"; "text": the preceding committed
    # text as the prompt (Whisper's condition_on_previous_text); "audio": the last context_audio_s of the
    # preceding speech, its committed words forced as the decoder prefix; "both". Reset after a
    # hallucination or a pause > context_reset_s. Measured together (docs/asr.md, "Context across
    # segments"; dev_long and speech_more/long, 1062 words, with the VAD's level stage): agreement 2 with
    # context "both" made 1 + 67 errors and committed words p50 0.41-0.43 s after they were spoken (compute
    # not counted); agreement 3 without context 3 + 74, p50 0.69-0.74 s; agreement 2 without context 6 + 82
    # (without context, hypotheses of a segment's first 1.5 s agree on wrong openings: "How do you marry
    # the more" for "Had he married a more"; the previous text and audio settle them).
    agreement: int = 2
    min_commit_audio_s: float = 0.0  # no commit while the segment holds less audio than this
    # Where a commit may end: "all": every agreeing hypothesis shows the next word begin; "newest": the
    # newest does, and an older one may end with the word when each of its tokens has at least
    # min_word_probability in both (a word at the very end of a decode is often still a guess). Measured on
    # the compute-free clock (docs/asr.md, "Sooner commits"): "newest" at 0.5 commits p50 0.29 s after the
    # word against 0.40-0.42 s, with 1 + 73 errors against 1 + 75 on dev_long and speech_more/long, and
    # 88 + 111 against 98 + 109 on two reshufflings of the clips nobody tuned on.
    # "auto": "newest" for English-only models, "all" for multilingual ones (the threshold was measured on
    # English only; with Whisper base on FLEURS pt, streaming WER went from 17% to 25% in a fresh-clone run).
    commit_boundary: str = "auto"
    min_word_probability: float = 0.5
    context: str = "both"
    max_previous_tokens: int = 96  # text context: at most this many tokens of earlier finals
    context_audio_s: float = 3.0  # audio context: whole words of the previous final within this many seconds
    context_reset_s: float = 10.0  # a pause longer than this (s) starts without context
    # A partial that still hears nothing after its audio context once the segment holds this much audio (s)
    # is decoded again without it, as a final is at once (Whisper may end the text at a change of voice: on
    # speech_more/long, 19 partials in a row gave only the context words).
    context_retry_s: float = 1.0
    # With token probabilities (commit_boundary "newest"), partials retry sooner, once the segment holds this
    # much audio (s); until it holds context_retry_s, words are committed from such retries only where every
    # token has at least min_word_probability in each agreeing hypothesis. Alone, Whisper agrees with itself
    # on wrong openings ("How do you marry the" for "Had he married a", at p 0.38-0.46); a segment whose
    # early retries are unsure commits as it would without them. At or above context_retry_s: no sooner
    # retries.
    sure_retry_s: float = 0.6
    # Once the committed words an open segment's decodes start with span more than this (s), the decodes
    # start later, at the first committed word within context_audio_s of the last one: the words before it
    # are frozen (given as the text prompt, not decoded again), so a decode's audio and forced tokens stay
    # bounded however long the segment (CTranslate2 forces a token as dearly as it generates one). 0: every
    # decode covers the whole segment.
    freeze_committed_s: float = 4.0
    prepare_finals: bool = True  # decode a final while the endpointer waits out the silence (module docstring)
    # Prepare it as soon as the VAD has told that the silence lasts pad_after, not at the next decode point in
    # the silence (up to partial_interval_s later): the decode points stay where they were, one in that
    # silence is not decoded while it lasts, and speech that resumes is decoded there as before.
    prepare_on_silence: bool = True
    # A prepared final that looks hallucinated is decoded again on the 30 s window at once, in the silence, as
    # the end would decode it: not after the end, where that retry made the slowest finals. Speech that
    # resumes wastes it (counted in fallbacks).
    prepare_fallback: bool = True
    # Live decode points (StreamingRecognizer.partial): "fixed": the latest point reached is decoded; "compute":
    # a partial yields when only silence came since the last decode, or when a trailing silence has begun and
    # the final prepared in it would be due before the partial's decode ends (at the last one's compute time):
    # a slower CPU then costs a partial, not a late final (scheduler.ComputeAwareGate). Files read as fast as
    # possible decode every point either way.
    schedule: str = "fixed"
    max_segment_s: float = 28.0  # longer segments are split at a committed word (Whisper sees 30 s at most)
    history_s: float = 3.0  # audio kept before a segment starts (a VAD reports speech starts late)
    partial_word_times: bool = False  # align words for partials too (one more decoder pass each)
    # Language detection (WhisperConfig(language="auto")): a final's language is detected on at least this
    # much audio (s) (measured on FLEURS: on the first 1 s of a clip 23 of 28 detections were wrong, on
    # the first 2 s 19; on whole clips none), and N finals in a row in one language lock the stream to it (0: never lock).
    min_detect_audio_s: float = 1.0
    language_lock: int = 0
    keep_final_audio: bool = False  # finals carry their audio (CaptionEvent.audio)
    # partials carry the segment's audio so far (with keep_final_audio: a stage that cuts lines from committed
    # words casts their voice from it, rtvoice.pipeline.units)
    partial_audio: bool = False

    def __post_init__(self):
        if self.min_detect_audio_s < 0:
            raise ValueError(f"min_detect_audio_s must be >= 0, got {self.min_detect_audio_s}")
        if self.language_lock < 0:
            raise ValueError(f"language_lock must be >= 0 finals, got {self.language_lock}")
        if self.partial_interval_s <= 0:
            raise ValueError(f"partial_interval_s must be > 0, got {self.partial_interval_s}")
        if self.min_partial_audio_s < 0:
            raise ValueError(f"min_partial_audio_s must be >= 0, got {self.min_partial_audio_s}")
        if self.agreement < 2:
            raise ValueError(f"agreement must be >= 2 hypotheses, got {self.agreement}")
        if not 1.0 <= self.max_segment_s <= FULL_WINDOW_FRAMES * HOP / SAMPLE_RATE - 1.0:
            raise ValueError(f"max_segment_s must be within 1..29 s, got {self.max_segment_s}")
        if self.history_s < 0:
            raise ValueError(f"history_s must be >= 0, got {self.history_s}")
        if self.max_previous_tokens < 0:
            raise ValueError(f"max_previous_tokens must be >= 0, got {self.max_previous_tokens}")
        if self.context not in CONTEXTS:
            raise ValueError(f"context must be one of {', '.join(CONTEXTS)}, got {self.context!r}")
        if not 0 <= self.context_audio_s <= 10:
            raise ValueError(f"context_audio_s must be within 0..10 s, got {self.context_audio_s}")
        if self.context_reset_s < 0:
            raise ValueError(f"context_reset_s must be >= 0, got {self.context_reset_s}")
        if self.context_retry_s < 0:
            raise ValueError(f"context_retry_s must be >= 0, got {self.context_retry_s}")
        if self.sure_retry_s < 0:
            raise ValueError(f"sure_retry_s must be >= 0, got {self.sure_retry_s}")
        if self.freeze_committed_s < 0:
            raise ValueError(f"freeze_committed_s must be >= 0, got {self.freeze_committed_s}")
        if self.commit_boundary not in COMMIT_BOUNDARIES:
            raise ValueError(f"commit_boundary must be one of {', '.join(COMMIT_BOUNDARIES)}, "
                             f"got {self.commit_boundary!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not 0.0 <= self.min_word_probability <= 1.0:
            raise ValueError(f"min_word_probability must be within 0..1, got {self.min_word_probability}")

    @property
    def text_context(self) -> bool:
        return self.context in ("text", "both") and self.max_previous_tokens > 0

    @property
    def audio_context(self) -> bool:
        return self.context in ("audio", "both") and self.context_audio_s > 0


@dataclass
class StreamingStats:
    segments: int = 0
    partial_decodes: int = 0
    skipped_partials: int = 0  # partial decodes not run because the caller was behind
    discarded_partials: int = 0  # partial hypotheses that looked hallucinated
    finals: int = 0
    forced_splits: int = 0
    context_resets: int = 0  # context from earlier speech dropped (a hallucination or a long pause)
    context_retries: int = 0  # decodes repeated without their audio context (nothing heard after it)
    fallbacks: int = 0  # decodes repeated on the full 30 s window
    prepared_finals: int = 0  # finals decoded while the endpointer waited, and emitted as they were
    prepared_unused: int = 0  # finals prepared in a silence that was not the end (speech resumed)
    silent_partials: int = 0  # decode points not decoded: silence after a prepared final
    freezes: int = 0  # times committed words were frozen and the decodes of a segment began later
    partials_yielded: int = 0  # live partial decodes not run for the final (StreamingConfig.schedule "compute")
    # Language detection: finals per language decoded; finals in another language than the final before;
    # finals decoded again from scratch because their committed words were decoded in the stream's (other)
    # language; the language the stream was locked to (or None).
    languages: dict = field(default_factory=dict)
    language_changes: int = 0
    language_redecodes: int = 0
    language_locked: str | None = None
    # Seconds per decode; bounded on long runs (a uniform sample past 4096, ``.total`` stays exact).
    partial_decode_s: Reservoir = field(default_factory=Reservoir)
    final_decode_s: Reservoir = field(default_factory=Reservoir)

    def summary(self) -> dict:
        def pct(values, q):
            return round(float(np.percentile(values, q)), 4) if values else None

        d = {f.name: getattr(self, f.name) for f in fields(self)
             if f.name not in ("partial_decode_s", "final_decode_s")}
        d["partial_decode_s_p50"] = pct(self.partial_decode_s, 50)
        d["partial_decode_s_p95"] = pct(self.partial_decode_s, 95)
        d["final_decode_s_p50"] = pct(self.final_decode_s, 50)
        d["final_decode_s_p95"] = pct(self.final_decode_s, 95)
        return d
