"""Context across segments alone (rtvoice.asr.context.SegmentContext): which words of the last final a segment
gets as audio context, its text prompt, and when the context is dropped; sample arithmetic on real tokens
(test_asr_context.py streams real speech through the whole policy)."""

from __future__ import annotations

from asr_parts_support import timed_words, tokenizer, transcript

from rtvoice.asr.config import StreamingConfig
from rtvoice.asr.context import SegmentContext

SR = 16000


def context(**settings) -> SegmentContext:
    return SegmentContext(StreamingConfig(**settings), tokenizer())


FINAL = " he was not an ill disposed young man"  # 8 words, 0.5 s each from 10 s: ends at 14 s


def remembered(**settings):
    ctx = context(**settings)
    words = timed_words(FINAL, 10.0, 0.5)
    assert not ctx.remember(transcript(FINAL, words), tuple(words))
    return ctx, words


def test_a_segment_gets_the_whole_words_of_the_last_final_within_context_audio_s():
    ctx, words = remembered()
    assert not ctx.open(segment_start=int(14.5 * SR), audio_base=0)
    # Words starting within 3 s before 14.5 s: from 11.5 s on ("an", the 4th word, to "man").
    assert ctx.start == int(11.5 * SR)
    assert tokenizer().decode(ctx.tokens) == " an ill disposed young man"
    # The prompt is the previous text without the words forced as the audio context.
    assert tokenizer().decode(ctx.prompt(ctx.tokens)) == " he was not"
    assert tokenizer().decode(ctx.prompt([])) == FINAL
    # Audio no longer held is not context: words from 13 s on only.
    ctx.open(segment_start=int(14.5 * SR), audio_base=13 * SR)
    assert tokenizer().decode(ctx.tokens) == " young man"


def test_modes_and_limits():
    ctx, _ = remembered(context="text")
    ctx.open(int(14.5 * SR), 0)
    assert ctx.tokens == [] and ctx.start == int(14.5 * SR) and ctx.prompt([])
    ctx, _ = remembered(context="audio")
    ctx.open(int(14.5 * SR), 0)
    assert ctx.tokens and ctx.prompt(ctx.tokens) == [] and ctx.prompt_after([1, 2]) == [1, 2]
    ctx, _ = remembered(max_previous_tokens=3)
    assert len(ctx.previous) == 3 and tokenizer().decode(ctx.previous) == tokenizer().decode(
        tokenizer().encode(FINAL)[-3:])
    # Frozen words end the prompt, within max_previous_tokens.
    assert ctx.prompt_after([7, 8, 9, 10]) == [8, 9, 10]


def test_a_long_pause_or_a_hallucinated_final_drops_the_context():
    ctx, _ = remembered()
    assert ctx.open(segment_start=int(14.0 * SR + 10.0 * SR) + 1, audio_base=0)  # pause > context_reset_s
    assert (ctx.previous, ctx.tokens, ctx.last_speech_end) == ([], [], None)
    ctx, _ = remembered()
    assert not ctx.open(segment_start=int(24.0 * SR), audio_base=0)  # exactly context_reset_s: kept
    assert ctx.previous
    for bad in (dict(fell_back=True), dict(problems=["repeated 'ill'"])):
        ctx, words = remembered()
        assert ctx.remember(transcript(" ill ill ill", words[:3], **bad), tuple(words[:3]))
        assert (ctx.previous, ctx.last_words) == ([], [])


def test_words_that_do_not_match_the_tokens_give_no_audio_context():
    ctx = context()
    words = timed_words(FINAL, 10.0, 0.5)
    ctx.remember(transcript(FINAL, words[:-1]), tuple(words[:-1]))  # one word short
    ctx.open(int(14.5 * SR), 0)
    assert ctx.tokens == [] and ctx.prompt([])  # the text context stays


def test_audio_kept_between_segments_and_retry_points():
    ctx, _ = remembered()
    # history_s = 3 s, and back to the last final's first word (10 s), at most context_audio_s + context_reset_s.
    assert ctx.keep_from(audio_end=20 * SR) == 10 * SR
    assert ctx.keep_from(audio_end=40 * SR) == 27 * SR  # 13 s: a segment may still get context
    assert context(context="text").keep_from(audio_end=20 * SR) == 17 * SR
    assert context().retry_s(token_probabilities=False) == 1.0
    assert context().retry_s(token_probabilities=True) == 0.6
    assert context(sure_retry_s=2.0).retry_s(token_probabilities=True) == 1.0


def test_snapshot_tells_a_changed_context():
    ctx, _ = remembered()
    ctx.open(int(14.5 * SR), 0)
    snapshot = ctx.snapshot()
    assert ctx.unchanged_since(snapshot)
    ctx.drop_audio(int(14.5 * SR))
    assert not ctx.unchanged_since(snapshot) and ctx.start == int(14.5 * SR)
