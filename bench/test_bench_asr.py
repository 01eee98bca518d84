"""Speech recognition: one utterance (7.1 s, LibriVox 0870) decoded by tiny.en int8 on 2 threads.

- rtvoice: WhisperRecognizer (rtvoice's log-mel, the encoder window padded by the measured rule: 1200
  frames here), greedy, word timestamps on;
- peer:faster-whisper: the same CTranslate2 model through faster-whisper (its own feature extractor, the
  30 s window), greedy, word timestamps on;
- peer:ctranslate2-30s-window: rtvoice's recognizer forced to Whisper's usual 30 s window (what the
  padding rule saves).

And the streaming final decode: the same utterance with its committed words forced as the decoder prefix
(rtvoice) against decoding it all again (peer:no-prefix).
"""

from __future__ import annotations

import pytest

from rtvoice.asr import WhisperConfig, WhisperRecognizer
from rtvoice.asr.whisper import FULL_WINDOW
from rtvoice.models import packaged_model


@pytest.fixture(scope="module")
def recognizer():
    return WhisperRecognizer(WhisperConfig(device="cpu", threads=2))


@pytest.fixture(scope="module")
def utterance(speech_recordings):
    r = speech_recordings[0]
    return r.load(), r.text


@pytest.mark.benchmark(group="asr-utterance-7s")
def test_rtvoice_short_window(benchmark, mark, recognizer, utterance):
    audio, _ = utterance
    mark("rtvoice", audio_s=round(len(audio) / 16000, 2))
    result = benchmark.pedantic(recognizer.transcribe, args=(audio,), rounds=5, warmup_rounds=1)
    benchmark.extra_info["window_frames"] = result.window_frames
    assert "Dashwood" in result.text and not result.fell_back


@pytest.mark.benchmark(group="asr-utterance-7s")
def test_ctranslate2_full_window(benchmark, mark, recognizer, utterance):
    audio, _ = utterance
    mark("peer:ctranslate2-30s-window", audio_s=round(len(audio) / 16000, 2))
    result = benchmark.pedantic(recognizer.transcribe, args=(audio,), kwargs={"window": FULL_WINDOW}, rounds=5,
                                warmup_rounds=1)
    assert "Dashwood" in result.text


@pytest.mark.benchmark(group="asr-utterance-7s")
def test_faster_whisper(benchmark, mark, utterance):
    faster_whisper = pytest.importorskip("faster_whisper")
    audio, _ = utterance
    model = faster_whisper.WhisperModel(str(packaged_model("whisper-tiny.en-ct2").directory), device="cpu",
                                        compute_type="int8", cpu_threads=2)
    mark("peer:faster-whisper", audio_s=round(len(audio) / 16000, 2))

    def run():
        segments, _ = model.transcribe(audio, beam_size=1, word_timestamps=True, condition_on_previous_text=False,
                                       vad_filter=False, without_timestamps=True)
        return " ".join(s.text for s in segments)

    text = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    assert "Dashwood" in text


@pytest.mark.benchmark(group="asr-final-with-prefix")
def test_final_with_committed_prefix(benchmark, mark, recognizer, utterance):
    audio, _ = utterance
    committed = recognizer.transcribe(audio, word_timestamps=False).tokens[:-4]  # all but the last words
    mark("rtvoice", prefix_tokens=len(committed))
    result = benchmark.pedantic(recognizer.transcribe, args=(audio,), kwargs={"prefix": committed}, rounds=5,
                                warmup_rounds=1)
    assert result.tokens[:len(committed)] == committed


@pytest.mark.benchmark(group="asr-final-with-prefix")
def test_final_without_prefix(benchmark, mark, recognizer, utterance):
    audio, _ = utterance
    mark("peer:no-prefix")
    benchmark.pedantic(recognizer.transcribe, args=(audio,), rounds=5, warmup_rounds=1)
