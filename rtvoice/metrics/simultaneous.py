"""Latency of a dubbed voice the way simultaneous speech translation measures it (SimulEval's speech-output
metrics), and the trend of the voice's lag over a feed.

A dubbed voice is a list of :class:`VoiceOutput`: each spoken line's first sample came out ``emitted_s``
seconds into the source (on the source's own clock, the capture clock of a live source: how much source had
been read by then) and lasts ``duration_s``. A listener hears the lines one after the other, so line k plays
over ``[start_k, end_k)`` with ``start_k = max(emitted_k, end_{k-1})`` and ``end_k = start_k + duration_k``
(SimulEval's speech-output intervals, ``SpeechOutputInstance.summarize``).

- **StartOffset** = ``emitted_0``: how far into the source the first output came out.
- **EndOffset** = ``end_last - source_end``: the end of the last output heard minus the end of the source.
  rtvoice takes the end of the source as the end of its last speech (the last caption's end), not the end
  of the file: trailing silence does not hide a voice that runs on.
- **ATD** (Average Token Delay, Kano et al. 2023, SimulEval's ``ATDScorer`` for speech in and speech out):
  outputs with the same ``emitted`` form one chunk c, read after the source chunk ``(emitted_{c-1},
  emitted_c]`` (``emitted_0`` = 0). Both sides are cut into pseudo-tokens of 300 ms (a shorter last one):
  the source chunk into tokens ending at ``emitted_{c-1} + 0.3, + 0.6, ..., emitted_c``; the output chunk's
  audio into tokens that play one after the other, token j of chunk c ending at
  ``T_j = max(emitted_c, T_{j-1}) + len_j``. With ``X_c``, ``Y_c`` the source and output tokens of the
  chunks before c, output token j (counted from 1 over the whole feed) in chunk c is matched with source
  token ``s_j = min(j - max(0, Y_c - X_c), X_c + x_c)`` (``x_c``: source tokens of chunk c), and

      ATD = mean_j (T_j - S_{s_j})

  where ``S_s`` is the end time of source token s (``S_0`` = 0). Computation-aware: ``emitted`` is the
  wall-clock moment the line's audio was out, recognition, translation and synthesis included (SimulEval's
  ``elapsed``), so the compute is in the delays themselves and no compute time is added per token.
  Computed in whole milliseconds, as SimulEval does, so that the 300 ms cut is exact.

- **Lag trend**: the least-squares slope of the voice's lag at each line start against the line's time in
  the feed, in seconds of lag per minute of feed (> 0: the voice falls further behind as the feed runs).
"""

from __future__ import annotations

from dataclasses import dataclass

TOKEN_S = 0.3  # SimulEval's pseudo-token for speech (300 ms)


@dataclass(frozen=True)
class VoiceOutput:
    """One spoken line: its first sample out ``emitted_s`` into the source, ``duration_s`` long (s)."""

    emitted_s: float
    duration_s: float


def play_intervals(outputs: list[VoiceOutput]) -> list[tuple[float, float]]:
    """(start, end) in seconds of each output as heard, each after the one before it."""
    intervals, end = [], float("-inf")
    for output in outputs:
        start = max(output.emitted_s, end)
        end = start + output.duration_s
        intervals.append((start, end))
    return intervals


def start_offset(outputs: list[VoiceOutput]) -> float | None:
    """StartOffset (s): how far into the source the first output came out; None without outputs."""
    return outputs[0].emitted_s if outputs else None


def end_offset(outputs: list[VoiceOutput], source_end_s: float) -> float | None:
    """EndOffset (s): end of the last output heard minus ``source_end_s``; None without outputs."""
    return play_intervals(outputs)[-1][1] - source_end_s if outputs else None


def _tokens(length_ms: int, token_ms: int) -> list[int]:
    whole, rest = divmod(length_ms, token_ms)
    return [token_ms] * whole + ([rest] if rest else [])


def average_token_delay(outputs: list[VoiceOutput], token_s: float = TOKEN_S) -> float | None:
    """ATD (s) of the outputs (module docstring); None without outputs. ``emitted_s`` must not decrease."""
    if not outputs:
        return None
    token_ms = int(round(token_s * 1000))
    chunks: list[list[int]] = []  # [emitted ms, audio ms]
    for output in outputs:
        emitted, audio = int(round(output.emitted_s * 1000)), int(round(output.duration_s * 1000))
        if chunks and emitted < chunks[-1][0]:
            raise ValueError("outputs must come in the order they were emitted")
        if chunks and emitted == chunks[-1][0]:
            chunks[-1][1] += audio
        else:
            chunks.append([emitted, audio])
    source_end, output_end = [0], [0]  # end (ms) of each token, index 0: nothing yet
    output_chunk = [0]  # chunk (from 1) of each output token
    source_count, output_count = [0], [0]  # tokens per chunk, index 0: before the first
    read = 0
    for c, (emitted, audio) in enumerate(chunks, 1):
        tokens = _tokens(emitted - read, token_ms)
        for length in tokens:
            source_end.append(source_end[-1] + length)
        source_count.append(len(tokens))
        read = emitted
        tokens = _tokens(audio, token_ms)
        for length in tokens:
            output_end.append(max(emitted, output_end[-1]) + length)
            output_chunk.append(c)
        output_count.append(len(tokens))
    delays = []
    for j in range(1, len(output_end)):
        c = output_chunk[j]
        before_x, before_y = sum(source_count[:c]), sum(output_count[:c])
        s = min(j - max(0, before_y - before_x), before_x + source_count[c])
        delays.append(output_end[j] - source_end[s])
    return sum(delays) / len(delays) / 1000 if delays else None


def lag_slope_s_per_min(times_s: list[float], lags_s: list[float]) -> float | None:
    """Least-squares slope of ``lags_s`` against ``times_s`` in s per minute; None for fewer than two
    distinct times."""
    n = len(times_s)
    if n != len(lags_s):
        raise ValueError("one lag per time")
    if n < 2:
        return None
    mean_t, mean_l = sum(times_s) / n, sum(lags_s) / n
    spread = sum((t - mean_t) ** 2 for t in times_s)
    if spread == 0:
        return None
    return 60.0 * sum((t - mean_t) * (lag - mean_l) for t, lag in zip(times_s, lags_s)) / spread


def simultaneous_figures(outputs: list[VoiceOutput], source_end_s: float | None,
                         line_times_s: list[float], line_lags_s: list[float]) -> dict:
    """The figures for --stats and the bench: StartOffset, EndOffset, ATD (s) and the lag trend (s/min)."""

    def rounded(value):
        return None if value is None else round(value, 4)

    return {"start_offset_s": rounded(start_offset(outputs)),
            "end_offset_s": rounded(end_offset(outputs, source_end_s)) if source_end_s is not None else None,
            "atd_s": rounded(average_token_delay(outputs)),
            "lag_slope_s_per_min": rounded(lag_slope_s_per_min(line_times_s, line_lags_s)),
            "outputs": len(outputs)}
