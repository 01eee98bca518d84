"""rtvoice's Piper voice against piper-tts itself: same phonemes, same ids, same audio."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from tts_helpers import LONG, SENTENCES, SHORT, deterministic, piper_audio, piper_voice, voice

from rtvoice.errors import ModelError
from rtvoice.tts import SynthesisOptions, Synthesizer, VoiceOptions, load_voice, synthesize
from rtvoice.tts.synthesis import soft_limit


def test_phoneme_ids_are_pipers():
    v, p = voice(), piper_voice()
    text = " ".join(SENTENCES) + " It cost $5.50, didn't it?"
    ours = [ids for _, _, _, ids in Synthesizer(v, SynthesisOptions(first_piece_phonemes=2000,
                                                                     max_piece_phonemes=2000)).prepare(text)]
    theirs = [p.phonemes_to_ids(ph) for ph in p.phonemize(text)]
    assert ours == theirs


@pytest.mark.parametrize("text", [SHORT, SENTENCES[1], " ".join(SENTENCES[:3])])
def test_audio_matches_piper_with_noise_off(text):
    """Deterministic scales: our windowed sessions reproduce Piper's whole-sentence output (sentences
    not cut into pieces here)."""
    ours = synthesize(voice(), text, deterministic(first_piece_phonemes=2000, max_piece_phonemes=2000))
    theirs = piper_audio(text, noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)
    assert len(ours) == len(theirs)
    assert np.max(np.abs(ours - theirs)) < 1e-3
    assert np.sqrt(np.mean(theirs ** 2)) > 0.02  # real speech, not two silences


def test_whole_graph_mode_matches_piper():
    ours = synthesize(voice(streaming=False), SHORT, deterministic())
    theirs = piper_audio(SHORT, noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)
    assert not voice(streaming=False).streaming
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_graph_split_into_three_stages_and_checked_at_load():
    v = voice()
    assert v.streaming
    assert v.streaming_check["max_abs_diff"] < 1e-4
    assert v.split.flow_outputs == v.split.decoder_inputs  # one-speaker voice: the decoder takes z only


def test_windows_join_without_seams():
    """Many small windows inside one piece give the whole-piece output: joins have no seam at all."""
    v = voice()
    syn = Synthesizer(v, deterministic(first_chunk_frames=5, max_chunk_frames=9, first_piece_phonemes=2000,
                                       max_piece_phonemes=2000))
    (_, _, _, ids), = list(syn.prepare(SENTENCES[1]))
    windows = [a for a, _ in syn.piece_audio(ids)]
    assert len(windows) > 20
    whole = v.synthesize_whole(ids, syn.scales)
    np.testing.assert_allclose(np.concatenate(windows), whole, atol=1e-4)


def test_long_sentence_is_cut_at_a_pause_without_clicks():
    v = voice()
    syn = Synthesizer(v, deterministic(first_piece_phonemes=60))
    chunks = list(syn.stream(LONG))
    pieces = {c.piece for c in chunks}
    assert len(pieces) >= 2 and {c.sentence for c in chunks} == {0}
    audio = np.concatenate([c.samples for c in chunks])
    jumps = np.abs(np.diff(audio))
    typical = np.percentile(jumps, 99)
    rate = v.sample_rate
    pos = 0
    for c in chunks:
        if pos and c.first_of_piece:  # a join between two pieces of the sentence
            assert jumps[pos - 1] <= typical, "click at a piece join"
            around = audio[pos - int(0.005 * rate):pos + int(0.005 * rate)]
            assert np.sqrt(np.mean(around ** 2)) < 0.01, "join not in a pause"
        pos += len(c.samples)
    # each piece, joined from its windows, is exactly the model's output for that piece (no seams inside)
    for _, piece, _, ids in syn.prepare(LONG):
        ours = np.concatenate([c.samples for c in chunks if c.piece == piece])
        whole = v.synthesize_whole(ids, syn.scales)
        core = slice(int(0.1 * rate), len(ours) - int(0.15 * rate))  # away from the trimmed pauses
        assert abs(len(ours) - len(whole)) < int(0.4 * rate)
        lead = int(np.argmax(np.abs(whole) > syn._silence)) - int(np.argmax(np.abs(ours) > syn._silence))
        np.testing.assert_allclose(ours[core], whole[core.start + lead:core.stop + lead], atol=1e-4)


def test_first_piece_is_short_and_later_ones_long():
    syn = Synthesizer(voice(), SynthesisOptions(first_piece_phonemes=40, max_piece_phonemes=400))
    pieces = list(syn.prepare(LONG + " " + LONG))
    first_len = (len(pieces[0][3]) - 3) // 2
    assert first_len <= 40
    assert pieces[0][0] == 0 and pieces[-1][0] == 1
    assert len([p for p in pieces if p[0] == 1]) == 1  # the second sentence is not cut at all


def test_speed_and_volume():
    v = voice()
    normal = synthesize(v, SENTENCES[0], deterministic())
    fast = synthesize(v, SENTENCES[0], deterministic(speed=2.0))
    assert 0.45 < len(fast) / len(normal) < 0.7  # durations are rounded up per phoneme
    theirs = piper_audio(SENTENCES[0], length_scale=0.5, noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)
    np.testing.assert_allclose(fast, theirs, atol=1e-3)
    loud = synthesize(v, SENTENCES[0], SynthesisOptions(noise_scale=0.0, noise_w=0.0))
    assert 0.5 < np.max(np.abs(loud)) < 1.0  # calibrated gain: near full scale, soft-limited
    np.testing.assert_allclose(loud, soft_limit(normal * v.gain), atol=1e-3)
    rms = np.sqrt(np.mean(loud ** 2))
    assert 0.05 < rms < 0.15  # about -20 dBFS


# ----------------------------------------------------------------------------- voice files
def test_missing_voice_file_names_it(tmp_path):
    with pytest.raises(ModelError, match="nothere.onnx"):
        load_voice(tmp_path / "nothere.onnx")


def test_missing_config_names_it(tmp_path):
    model = tmp_path / "v.onnx"
    os.symlink(voice().model_path, model)
    with pytest.raises(ModelError, match=r"v\.onnx\.json"):
        load_voice(model)


def test_not_an_onnx_file_names_it(tmp_path):
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"\x00\x01 definitely not protobuf" * 100)
    (tmp_path / "broken.onnx.json").write_text(voice().config_path.read_text())
    with pytest.raises(ModelError, match="broken.onnx"):
        load_voice(model)


@pytest.mark.parametrize("change", [{"num_speakers": 4}, {"num_symbols": 100}, {"audio": {}}, "not json"])
def test_mismatched_config_names_it(tmp_path, change):
    model = tmp_path / "v.onnx"
    os.symlink(voice().model_path, model)
    data = json.loads(voice().config_path.read_text())
    if isinstance(change, dict):
        data.update(change)
        text = json.dumps(data)
    else:
        text = "{" + change
    (tmp_path / "v.onnx.json").write_text(text)
    with pytest.raises(ModelError, match=r"v\.onnx\.json"):
        load_voice(model, VoiceOptions(providers="cpu", warmup=False))


def _two_speaker_voice(tmp_path):
    """The default voice given a ``sid`` input: speaker k speaks 1 + 0.25 k times slower (length scale)."""
    import onnx
    from onnx import TensorProto, helper

    graph = onnx.load(str(voice().model_path))
    g = graph.graph
    for tensor in g.initializer:  # this export named its phoneme embedding "sid": free the name
        if tensor.name == "sid":
            tensor.name = "phoneme_embedding"
    for node in g.node:
        node.input[:] = ["phoneme_embedding" if name == "sid" else name for name in node.input]
    g.input.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
    for node in g.node:
        for i, name in enumerate(node.input):
            if name == "scales":
                node.input[i] = "scales_by_speaker"
    g.initializer.extend([
        helper.make_tensor("spk_step", TensorProto.FLOAT, [3], [0.0, 0.25, 0.0]),
        helper.make_tensor("spk_one", TensorProto.FLOAT, [3], [1.0, 1.0, 1.0]),
    ])
    g.node.extend([
        helper.make_node("Cast", ["sid"], ["sid_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["sid_f", "spk_step"], ["spk_delta"]),
        helper.make_node("Add", ["spk_delta", "spk_one"], ["spk_factor"]),
        helper.make_node("Mul", ["scales", "spk_factor"], ["scales_by_speaker"]),
    ])
    path = tmp_path / "two.onnx"
    onnx.save(graph, str(path))
    data = json.loads(voice().config_path.read_text())
    data.update(num_speakers=2, speaker_id_map={"ann": 0, "bob": 1})
    (tmp_path / "two.onnx.json").write_text(json.dumps(data))
    return path


@pytest.mark.slow
def test_multi_speaker_voice_gets_sid(tmp_path):
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    path = _two_speaker_voice(tmp_path)
    v = load_voice(path, VoiceOptions(providers="cpu"))
    assert v.num_speakers == 2 and v.speaker_id("bob") == 1
    with pytest.raises(ModelError, match="no speaker 'eve'"):
        v.speaker_id("eve")
    ann = synthesize(v, SHORT, deterministic(speaker="ann"))
    bob = synthesize(v, SHORT, deterministic(speaker="bob"))
    assert 1.08 < len(bob) / len(ann) < 1.4  # durations are rounded up per phoneme
    reference = PiperVoice.load(str(path))
    theirs = np.concatenate([c.audio_float_array for c in reference.synthesize(
        SHORT, SynthesisConfig(speaker_id=1, noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False))])
    assert len(theirs) == len(bob)
    assert np.max(np.abs(theirs - bob)) < 1e-3


def test_soft_limit_is_identity_below_the_knee_and_stays_within_full_scale():
    x = np.linspace(-3, 3, 6001, dtype=np.float32)
    y = soft_limit(x.copy())
    quiet = np.abs(x) <= 0.85
    np.testing.assert_array_equal(y[quiet], x[quiet])
    assert np.all(np.abs(y) <= 1.0) and np.all(np.diff(y) >= 0)  # monotonic: no folding
    assert np.all(np.abs(y[np.abs(x) <= 1.0]) < 0.97)  # full-scale peaks are bent, not clipped
    assert np.max(np.abs(np.diff(y))) <= np.max(np.abs(np.diff(x))) + 1e-7  # no jump at the knee
