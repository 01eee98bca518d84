"""Streaming synthesis: text in, short audio chunks out, the first one early.

Text is cut into blocks at sentence ends (phonemised one block at a time), blocks into sentences
(espeak-ng, as Piper does), and long sentences into pieces at clauses or words (:func:`plan_pieces`):
the first piece of an utterance is kept short so that its encoder run is cheap. Each piece is then
vocoded in windows of growing length (``first_chunk_frames`` doubling up to ``max_chunk_frames``):
flow and decoder windows carry enough context that the joined windows equal the whole-piece output
(see :mod:`rtvoice.tts.voice`), so chunk joins inside a piece have no seam at all.

Where a sentence is cut into pieces, the join is made in the pause the voice leaves at a piece's end:
each side's silence is shortened to a natural phrase pause and faded over a few milliseconds, so no
click is possible. Between sentences the voice's own pauses are kept as they are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from rtvoice.tts.text import plan_pieces, sayable, text_blocks
from rtvoice.tts.voice import PiperVoiceModel

log = logging.getLogger("rtvoice.tts")


def soft_limit(audio: np.ndarray, knee: float = 0.85) -> np.ndarray:
    """In place: samples beyond ``knee`` are bent smoothly (tanh) towards, never past, full scale.

    Memoryless, so windowed output stays exactly continuous; below the knee audio is untouched."""
    over = np.abs(audio) > knee
    if over.any():
        x = audio[over]
        audio[over] = np.sign(x) * (knee + (1.0 - knee) * np.tanh((np.abs(x) - knee) / (1.0 - knee)))
    return audio


@dataclass(frozen=True)
class SynthesisOptions:
    """What to say it with and how to cut it.

    Args:
        speaker: speaker name or index for multi-speaker voices (None: the voice's default).
        speed: speaking rate (> 1 faster); divides the voice's length_scale.
        noise_scale, noise_w: VITS sampling noise (None: the voice's config values; 0 is deterministic).
        volume: gain on top of the voice's calibrated level; peaks beyond 0.85 are soft-limited.
        normalize: apply the voice's calibrated gain (raw VITS output peaks around 0.5).
        first_piece_phonemes: longest first piece of an utterance (bounds time to first audio).
        max_piece_phonemes: longest later piece (bounds encoder cost and memory).
        first_chunk_frames: first vocoder window (frames of ``hop`` samples, 256 = 11.6 ms at 22.05 kHz).
        max_chunk_frames: longest vocoder window.
        ramp_ahead_s: once this much audio is ahead of real time (counted from the first chunk), later
            pieces start with ``max_chunk_frames`` windows instead of the short-first ramp.
        join_pause_s: pause kept where a sentence is cut into pieces.
        fade_s: fade applied at such joins.
        block_chars: text phonemised at a time.
    """

    speaker: int | str | None = None
    speed: float = 1.0
    noise_scale: float | None = None
    noise_w: float | None = None
    volume: float = 1.0
    normalize: bool = True
    first_piece_phonemes: int = 72
    max_piece_phonemes: int = 400
    first_chunk_frames: int = 16
    max_chunk_frames: int = 256
    ramp_ahead_s: float = 1.5
    join_pause_s: float = 0.12
    fade_s: float = 0.004
    block_chars: int = 1000

    def __post_init__(self) -> None:
        if not 0.1 <= self.speed <= 10:
            raise ValueError(f"speed must be within 0.1..10, got {self.speed}")
        for name in ("noise_scale", "noise_w"):
            v = getattr(self, name)
            if v is not None and not 0 <= v <= 2:
                raise ValueError(f"{name} must be within 0..2, got {v}")
        if not 0 <= self.volume <= 10:
            raise ValueError(f"volume must be within 0..10, got {self.volume}")
        if not 8 <= self.first_piece_phonemes <= self.max_piece_phonemes <= 2000:
            raise ValueError("need 8 <= first_piece_phonemes <= max_piece_phonemes <= 2000")
        if not 1 <= self.first_chunk_frames <= self.max_chunk_frames:
            raise ValueError("need 1 <= first_chunk_frames <= max_chunk_frames")
        if self.ramp_ahead_s < 0:
            raise ValueError("ramp_ahead_s must be >= 0")
        if not 0 <= self.join_pause_s <= 2 or not 0 <= self.fade_s <= 0.05:
            raise ValueError("join_pause_s must be within 0..2 s and fade_s within 0..0.05 s")
        if self.block_chars < 16:
            raise ValueError("block_chars must be >= 16")


@dataclass
class Chunk:
    """A piece of synthesised audio (float32 mono at the voice's rate)."""

    samples: np.ndarray
    sentence: int  # sentence index within the utterance
    piece: int  # piece index within the sentence
    first_of_piece: bool
    last_of_piece: bool
    compute_s: float = 0.0  # synthesis time spent on this chunk


@dataclass
class SynthesisReport:
    """What one call of :meth:`Synthesizer.stream` did (filled in as it runs)."""

    skipped: str = ""  # distinct characters skipped
    skipped_count: int = 0
    unknown_phonemes: list = field(default_factory=list)
    sentences: int = 0
    pieces: int = 0
    samples: int = 0
    compute_s: float = 0.0
    prepared_first_piece: bool = False  # the first piece was synthesised ahead (rtvoice.tts.prepared)


class Synthesizer:
    """Streams a voice's audio for text, chunk by chunk (single-threaded; see TtsEngine for threads)."""

    def __init__(self, voice: PiperVoiceModel, options: SynthesisOptions | None = None) -> None:
        self.voice = voice
        self.options = options or SynthesisOptions()
        self.sid = voice.speaker_id(self.options.speaker)
        c = voice.config
        o = self.options
        self.scales = (
            float(c.noise_scale if o.noise_scale is None else o.noise_scale),
            float(c.length_scale) / o.speed,
            float(c.noise_w_scale if o.noise_w is None else o.noise_w),
        )
        self.gain = (voice.gain if o.normalize else 1.0) * o.volume
        # pause threshold at piece joins: -40 dB relative to the output level (raw VITS speech peaks ~0.5)
        self._silence = 0.01 * self.gain

    # ------------------------------------------------------------------ pieces
    def prepare(self, text: str, report: SynthesisReport | None = None) -> Iterator[tuple[int, int, int, list[int]]]:
        """(sentence index, piece index, pieces in the sentence, phoneme ids) for text, lazily, block by block."""
        report = report if report is not None else SynthesisReport()
        o, v = self.options, self.voice
        clean = sayable(text, v.config.espeak_voice, v.config.phoneme_type.value, v.config.phoneme_id_map)
        report.skipped, report.skipped_count = clean.skipped, clean.skipped_count
        if clean.skipped_count:
            shown = " ".join(repr(ch) for ch in clean.skipped[:12]) + (" ..." if len(clean.skipped) > 12 else "")
            log.warning("skipped %d character(s) the voice cannot say: %s", clean.skipped_count, shown)
        first = True
        sentence_index = 0
        for block in text_blocks(clean.text, o.block_chars):
            for phonemes in v.phonemize(block):
                limit = o.first_piece_phonemes if first else o.max_piece_phonemes
                pieces = []
                for piece in plan_pieces(phonemes, limit, o.max_piece_phonemes):
                    ids, unknown = v.phoneme_ids(piece)
                    report.unknown_phonemes.extend(unknown)
                    if len(ids) > 3 and any(p not in " ,.;:!?" for p in piece):  # more than BOS/PAD/EOS
                        pieces.append(ids)
                for piece_index, ids in enumerate(pieces):
                    report.pieces += 1
                    yield sentence_index, piece_index, len(pieces), ids
                if pieces:
                    first = False
                    sentence_index += 1
                    report.sentences = sentence_index
        if report.unknown_phonemes:
            log.debug("phonemes missing from the voice's id map: %s", sorted(set(report.unknown_phonemes)))

    # ------------------------------------------------------------------ audio
    def windows(self, frames: int, first: int | None = None) -> list[tuple[int, int]]:
        """Vocoder windows [start, stop) for a piece of ``frames`` frames: ``first`` (default
        ``first_chunk_frames``) long, then doubling up to ``max_chunk_frames``."""
        o = self.options
        out, start, size = [], 0, first or o.first_chunk_frames
        while start < frames:
            stop = min(frames, start + size)
            if frames - stop < o.first_chunk_frames:  # no tiny last window: the tail trim needs room
                stop = frames
            out.append((start, stop))
            start, size = stop, min(size * 2, o.max_chunk_frames)
        return out

    def piece_audio(self, ids: list[int], first_window: int | None = None,
                    speedup: float = 1.0) -> Iterator[tuple[np.ndarray, bool]]:
        """Raw audio of one piece, window by window, with a last-window flag. Joined, the windows are
        the whole-piece output. ``first_window`` frames (default ``first_chunk_frames``) come first;
        ``speedup`` speeds the voice up beyond ``options.speed`` (a multiplier)."""
        v = self.voice
        scales = (self.scales[0], self.scales[1] / speedup, self.scales[2])
        if not v.streaming:
            audio = v.synthesize_whole(ids, scales, self.sid)
            step = self.options.max_chunk_frames * v.hop
            starts = list(range(0, len(audio), step)) or [0]
            for i, start in enumerate(starts):
                yield audio[start:start + step], i == len(starts) - 1
            return
        enc = v.encode(ids, scales, self.sid)
        ctx = v.options.decoder_context
        z = None  # (1, channels, frames), filled up to z_to
        z_to = 0
        windows = self.windows(enc.frames, first_window)
        for i, (start, stop) in enumerate(windows):
            need = min(enc.frames, stop + ctx)
            if need > z_to:
                # after the first window, run the flow two windows further than needed: fewer, longer
                # flow runs (each recomputes flow_context frames either side)
                ahead = need if i == 0 else min(enc.frames, need + 2 * (stop - start))
                new = v.flow_window(enc, z_to, ahead)
                if z is None:
                    z = np.empty((1, new.shape[1], enc.frames), np.float32)
                z[:, :, z_to:ahead] = new
                z_to = ahead
            yield v.decode_window(enc, z, start, stop), i == len(windows) - 1

    def stream(self, text: str, report: SynthesisReport | None = None,
               cancelled: Callable[[], bool] | None = None, speedup: float = 1.0) -> Iterator[Chunk]:
        """Audio chunks for ``text``; empty or unsayable text yields nothing. ``speedup``: a speed-up for this
        text on top of ``options.speed`` (e.g. a dubbing voice catching up with the speaker)."""
        report = report if report is not None else SynthesisReport()
        rate = self.voice.sample_rate
        keep = int(self.options.join_pause_s * rate)
        fade_n = max(1, int(self.options.fade_s * rate))
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade_n, dtype=np.float32))).astype(np.float32)
        gain = np.float32(self.gain)
        t0 = time.perf_counter()
        t_first = None
        for sentence, piece, n_pieces, ids in self.prepare(text, report):
            first = True
            # Audio ahead of a listener who started at the first chunk: once the voice is well ahead,
            # the next piece starts with long windows (less context recomputed) instead of the ramp.
            ahead = 0.0 if t_first is None else report.samples / rate - (time.perf_counter() - t_first)
            first_window = self.options.max_chunk_frames if ahead >= self.options.ramp_ahead_s else None
            for raw, last in self.piece_audio(ids, first_window, speedup):
                audio = raw * gain
                if first and piece > 0:
                    audio = self._trim_head(audio, keep // 3, ramp)
                if last and piece < n_pieces - 1:
                    audio = self._trim_tail(audio, keep - keep // 3, ramp)
                soft_limit(audio)
                spent = time.perf_counter() - t0
                report.compute_s += spent
                report.samples += len(audio)
                if t_first is None:
                    t_first = time.perf_counter()
                yield Chunk(audio, sentence, piece, first, last, spent)
                if cancelled is not None and cancelled():
                    return
                t0 = time.perf_counter()
                first = False

    def _trim_head(self, audio: np.ndarray, keep: int, ramp: np.ndarray) -> np.ndarray:
        loud = np.flatnonzero(np.abs(audio) > self._silence)
        onset = int(loud[0]) if loud.size else len(audio)
        start = max(0, onset - keep)
        if start == 0:
            return audio
        out = audio[start:].copy()
        n = min(len(ramp), len(out))
        out[:n] *= ramp[:n]
        return out

    def _trim_tail(self, audio: np.ndarray, keep: int, ramp: np.ndarray) -> np.ndarray:
        loud = np.flatnonzero(np.abs(audio) > self._silence)
        offset = int(loud[-1]) + 1 if loud.size else 0
        stop = min(len(audio), offset + keep)
        if stop == len(audio):
            return audio
        out = audio[:stop].copy()
        n = min(len(ramp), len(out))
        out[len(out) - n:] *= ramp[::-1][:n] if n == len(ramp) else ramp[::-1][len(ramp) - n:]
        return out


def synthesize(voice: PiperVoiceModel, text: str, options: SynthesisOptions | None = None) -> np.ndarray:
    """Whole audio for text (convenience: joins :meth:`Synthesizer.stream`)."""
    chunks = [c.samples for c in Synthesizer(voice, options).stream(text)]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
