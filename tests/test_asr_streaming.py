"""The streaming policy: LocalAgreement commits, partial/final captions, overload, long segments, and
streaming accuracy against offline decoding of the same audio by the same model."""

from __future__ import annotations

import numpy as np
import pytest
from asr_support import silence_segments, stream_segment, wer, whisper

from rtvoice.asr import StreamingConfig, StreamingRecognizer
from rtvoice.asr.streaming import agreed_prefix
from rtvoice.metrics.text import normalize_english

SR = 16000


@pytest.fixture(scope="module")
def rec():
    return whisper()


def _tokens(rec, text):
    return rec.tokenizer.encode(text)


def test_agreed_prefix_stops_at_a_word_both_hypotheses_finished(rec):
    a = _tokens(rec, " He was not an ill disposed")
    b = _tokens(rec, " He was not an ill-disposed young")
    n = agreed_prefix([a, b], 0, rec.tokenizer.starts_word)
    # "ill" is followed by " disposed" in one hypothesis and "-" in the other: only "He was not an" is agreed.
    assert rec.tokenizer.decode(a[:n]) == " He was not an"
    # A word at the end of a hypothesis may still be growing: it is not committed.
    c = _tokens(rec, " He was not")
    d = _tokens(rec, " He was not")
    assert rec.tokenizer.decode(c[:agreed_prefix([c, d], 0, rec.tokenizer.starts_word)]) == " He was"
    # Never shorter than what is already committed.
    assert agreed_prefix([a, _tokens(rec, " She")], 2, rec.tokenizer.starts_word) == 2


def test_a_word_the_older_hypothesis_ends_with_is_committed_when_both_are_sure_of_it(rec):
    starts = rec.tokenizer.starts_word
    older = _tokens(rec, " He was not an ill")
    newer = _tokens(rec, " He was not an ill disposed")
    sure = [[0.9] * len(older), [0.9] * len(newer)]
    text = lambda n: rec.tokenizer.decode(newer[:n])  # noqa: E731
    # "all": the older hypothesis shows no word after "ill", so "ill" may still be growing.
    assert text(agreed_prefix([older, newer], 0, starts)) == " He was not an"
    # "newest": the newer one shows the next word begin, and both are sure of "ill".
    assert text(agreed_prefix([older, newer], 0, starts, "newest", sure, 0.5)) == " He was not an ill"
    unsure = [[0.9] * (len(older) - 1) + [0.3], [0.9] * len(newer)]
    assert text(agreed_prefix([older, newer], 0, starts, "newest", unsure, 0.5)) == " He was not an"
    assert text(agreed_prefix([older, newer], 0, starts, "newest", None, 0.5)) == " He was not an"  # unknown
    # The newest must show the boundary itself: a word at the end of both may still be growing.
    assert text(agreed_prefix([older, older], 0, starts, "newest", [sure[0], sure[0]], 0.5)) == " He was not an"
    # A word the newer hypothesis continues ("ill" + "-") is not a whole word in it.
    hyphen = _tokens(rec, " He was not an ill-disposed")
    assert rec.tokenizer.decode(hyphen[:agreed_prefix([older, hyphen], 0, starts, "newest",
                                                      [sure[0], [0.9] * len(hyphen)], 0.5)]) == " He was not an"


def test_every_token_commits_only_the_words_both_hypotheses_are_sure_of(rec):
    """Opening words decoded without context: agreement alone is not enough, each token needs the probability."""
    starts = rec.tokenizer.starts_word
    older = _tokens(rec, " How do you marry the")
    newer = _tokens(rec, " How do you marry the more")
    text = lambda n: rec.tokenizer.decode(newer[:n])  # noqa: E731
    sure = [[0.9] * len(older), [0.9] * len(newer)]
    assert text(agreed_prefix([older, newer], 0, starts, "newest", sure, 0.5, every_token=True)) == text(len(older))
    # "do" unsure in the newer one: only "How" is committed, though both hypotheses show "do you marry".
    unsure = [[0.9] * len(older), [0.9, 0.38] + [0.9] * (len(newer) - 2)]
    assert text(agreed_prefix([older, newer], 0, starts, "newest", unsure, 0.5)) == text(len(older))
    assert text(agreed_prefix([older, newer], 0, starts, "newest", unsure, 0.5, every_token=True)) == " How"
    assert agreed_prefix([older, newer], 0, starts, "all", unsure, 0.5, every_token=True) == 1  # any boundary
    # Unknown probabilities: nothing new; what is committed stays.
    assert agreed_prefix([older, newer], 2, starts, "newest", None, 0.5, every_token=True) == 2
    # Forced (committed) tokens carry no probability (NaN): only the new ones are checked.
    forced = [[float("nan")] * 2 + p[2:] for p in sure]
    assert text(agreed_prefix([older, newer], 2, starts, "newest", forced, 0.5, every_token=True)) == text(len(older))


def test_the_newest_boundary_commits_words_sooner(rec, speech_recordings):
    """Words are committed at an earlier decode point, on real utterances, and the finals stay right."""
    chosen = speech_recordings[0:2] + speech_recordings[5:7]

    def commit_points(config):
        """For each utterance, the decode point (index) at which each of its words was committed."""
        points, finals = [], []
        for r in chosen:
            events, _ = stream_segment(rec, r.load(), config)
            at = []
            for k, e in enumerate(events[:-1]):
                at += [k] * max(0, len(e.committed.split()) - len(at))
            at += [len(events) - 1] * max(0, len(events[-1].text.split()) - len(at))  # the rest by the final
            points.append(at)
            finals.append(events[-1].text)
        return points, wer([r.text for r in chosen], finals)

    strict, strict_wer = commit_points(StreamingConfig(commit_boundary="all"))
    sooner, sooner_wer = commit_points(StreamingConfig(commit_boundary="newest", min_word_probability=0.5))
    pairs = [(a, b) for s, n in zip(strict, sooner) for a, b in zip(s, n)]
    earlier = sum(b < a for a, b in pairs)
    later = sum(b > a for a, b in pairs)
    assert earlier >= 5 and earlier >= 3 * later, (earlier, later, len(pairs))
    assert sooner_wer <= strict_wer + 0.05, (sooner_wer, strict_wer)


def test_closing_punctuation_ends_a_word_but_a_hyphen_does_not(rec):
    tok = rec.tokenizer
    assert tok.starts_word(tok.encode(" word")[0])
    assert tok.starts_word(tok.encode(".")[0]) and tok.starts_word(tok.encode(",")[0])
    assert not tok.starts_word(tok.encode("-")[0])
    assert not tok.starts_word(tok.encode("'t")[0])


def test_split_words_groups_punctuation_and_subwords(rec):
    tok = rec.tokenizer
    tokens = tok.encode(' He said: "cold-hearted, isn\'t it?" (Yes.)')
    words = [w.text for w in tok.split_words(tokens)]
    assert words == [" He", " said:", ' "cold-hearted,', " isn't", ' it?"', " (Yes.)"]


@pytest.fixture(scope="module")
def streamed(rec, speech_recordings):
    """Four utterances (two readers) streamed as one segment each, 0.1 s chunks."""
    chosen = speech_recordings[0:2] + speech_recordings[5:7]
    return {r.id: stream_segment(rec, r.load())[0] for r in chosen}


def test_partials_then_one_final(streamed):
    for events in streamed.values():
        kinds = [e.kind for e in events]
        assert kinds[-1] == "final" and kinds.count("final") == 1
        assert kinds.count("partial") >= 3
        final = events[-1]
        assert final.words and final.start <= final.words[0].start and final.end == final.words[-1].end
        assert [e.emitted_at for e in events] == sorted(e.emitted_at for e in events)


def test_committed_text_never_changes(streamed):
    for events in streamed.values():
        final = events[-1]
        committed = ""
        for e in events:
            assert e.text.startswith(committed), (committed, e.text)
            assert e.text == (e.committed + " " + e.unstable).strip() or e.text == e.committed + e.unstable
            committed = e.committed
        assert final.text.startswith(committed)
        # Words do get committed before the end of speech.
        assert max(len(e.committed.split()) for e in events[:-1]) >= 3


def test_streaming_matches_offline(rec, streamed, speech_recordings):
    by_id = {r.id: r for r in speech_recordings}
    refs = [by_id[i].text for i in streamed]
    offline = [rec.transcribe(by_id[i].load(), word_timestamps=False).text for i in streamed]
    stream = [events[-1].text for events in streamed.values()]
    # 45 words: one word is 2.2 points (the 1.10x goal is checked on all eleven in the slow test below).
    # Here the streamed 0870 loses its opening "And", which Whisper drops on the first seconds of audio.
    assert wer(refs, stream) <= wer(refs, offline) + 0.05


@pytest.mark.slow
def test_streaming_wer_on_dev_long_within_10_percent_of_offline(rec, dev_long, speech_recordings):
    """All eleven utterances as one stream (dev_long, known segments, the previous final as prompt) against
    offline decoding of each utterance: the goal is streaming WER <= 1.10 x offline WER."""
    audio = dev_long.load()
    segments = silence_segments(audio)
    assert len(segments) == len(speech_recordings)
    s = StreamingRecognizer(rec, StreamingConfig())
    finals = []
    for start, end in segments:
        s.start_segment(max(0, start - 3200))  # a VAD reports a little of the pause before the speech
        for i in range(max(0, start - 3200), min(len(audio), end + 4800), 1600):
            finals += [e for e in s.accept_audio(audio[i:i + 1600], i) if e.is_final]
        finals += s.end_segment(min(len(audio), end + 4800))
    refs = [r.text for r in speech_recordings]
    offline = [rec.transcribe(r.load(), word_timestamps=False).text for r in speech_recordings]
    stream = [e.text for e in finals]
    assert len(stream) == len(refs)
    assert wer(refs, stream) <= 1.10 * wer(refs, offline) + 0.005, (wer(refs, stream), wer(refs, offline))
    # Word times are stream times: every final lies within its segment.
    for (start, end), e in zip(segments, finals):
        assert start / SR - 0.3 <= e.words[0].start and e.words[-1].end <= end / SR + 0.35


def test_overload_skips_partials_never_finals(rec, speech_recordings):
    audio = speech_recordings[0].load()
    s = StreamingRecognizer(rec, StreamingConfig(partial_interval_s=0.3))
    events = s.start_segment(0)
    for i in range(0, len(audio), 1600):
        events += s.accept_audio(audio[i:i + 1600], i, decode=False)
        behind = (i // 1600) % 4 != 0  # the caller is behind three times out of four
        events += s.partial(decode=not behind)
    events += s.end_segment(len(audio))
    assert s.stats.skipped_partials > 0
    assert s.stats.partial_decodes < len(audio) / SR / 0.3 - 2
    assert events[-1].is_final and s.stats.finals == 1
    # Fewer, further-apart hypotheses may commit a little less well (here Whisper drops the opening "and"
    # on 2.1 s and 3.3 s of audio, and both agree), but the final stays close to offline decoding.
    offline = rec.transcribe(audio, word_timestamps=False)
    assert wer([offline.text], [events[-1].text]) <= 0.1


def test_segment_may_start_in_the_past(rec, speech_recordings):
    """A VAD reports a speech start after the fact: audio before it is kept (history_s)."""
    audio = speech_recordings[6].load()
    lead = np.zeros(SR, np.float32)
    stream = np.concatenate([lead, audio])
    s = StreamingRecognizer(rec, StreamingConfig())
    for i in range(0, SR + 8000, 1600):  # 1.5 s arrive before the segment is opened
        s.accept_audio(stream[i:i + 1600], i)
    s.start_segment(SR - 1600)
    events = []
    for i in range(SR + 8000, len(stream), 1600):
        events += s.accept_audio(stream[i:i + 1600], i)
    events += s.end_segment(len(stream))
    final = events[-1]
    assert normalize_english(final.text) == normalize_english(speech_recordings[6].text)
    assert 0.9 <= final.words[0].start <= 1.4
    assert final.start == final.words[0].start


def test_long_segment_is_split_at_committed_words(rec, dev_long, speech_recordings):
    """A segment longer than max_segment_s becomes several finals, cut after committed words, none lost."""
    audio = dev_long.load()[: 12 * SR]  # the first two utterances and the pause between them as one segment
    events, s = stream_segment(rec, audio, StreamingConfig(max_segment_s=6.0))
    finals = [e for e in events if e.is_final]
    assert s.stats.forced_splits >= 1 and len(finals) >= 2
    assert finals[0].forced
    text = " ".join(e.text for e in finals)
    reference = speech_recordings[0].text + " " + speech_recordings[1].text
    assert wer([reference], [text]) <= 0.2, text
    ends = [e.end for e in finals]
    assert ends == sorted(ends)
    assert len({e.segment for e in finals}) == len(finals)


def test_config_validation():
    with pytest.raises(ValueError):
        StreamingConfig(partial_interval_s=0)
    with pytest.raises(ValueError):
        StreamingConfig(agreement=1)
    with pytest.raises(ValueError):
        StreamingConfig(max_segment_s=40)


def test_event_dict_is_json_ready(streamed):
    import json

    final = next(iter(streamed.values()))[-1]
    d = json.loads(json.dumps(final.to_dict()))
    assert d["kind"] == "final" and d["words"][0]["text"] and "probability" in d["words"][0]
    assert set(d) >= {"kind", "text", "start", "end", "words", "emitted_at", "latency"}
