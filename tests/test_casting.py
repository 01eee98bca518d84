"""Voice casting on real speakers of published sex, and its hysteresis.

Clips (speech_more), with their measured evidence, all far from the thresholds (pitch dead band 150-180 Hz,
formant-spacing dead band 1040-1100 Hz over at least 100 frames):
- LJ001-0025 (LJ Speech, a woman): median F0 239 Hz, dF 1116 Hz -> female;
- LJ001-0005 (same woman): F0 237 Hz, dF 1139 Hz -> female;
- jfk (J. F. Kennedy, speaking up): F0 246 Hz, a woman's pitch, but dF 966 Hz over 316 frames -> male;
- 1089-134686-0000 (LibriSpeech reader 1089, M): F0 95 Hz, dF 961 Hz -> male.
"""

from __future__ import annotations

import numpy as np
import pytest

from rtvoice.asr.streaming import CaptionEvent
from rtvoice.captions.translated import TranslatedCaption
from rtvoice.errors import RtvoiceError
from rtvoice.pipeline.casting import CastingConfig, SexEvidence, VoiceCaster, casting_table, sex_evidence, voices_by_sex

VOICES = {"female": "ef_dora", "male": "em_alex"}
CLIPS = ["LJ001-0025", "LJ001-0005", "jfk", "1089-134686-0000"]


@pytest.fixture(scope="module")
def audio(more_speech_recordings):
    by_id = {r.id: r for r in more_speech_recordings}
    return {clip: by_id[clip].load() for clip in CLIPS}


def final(audio, start: float, segment: int = 0) -> CaptionEvent:
    end = start + len(audio) / 16000
    return CaptionEvent("final", segment, "words", "words", "", start, end, audio=audio)


@pytest.mark.parametrize("clip, voice", [("LJ001-0025", "ef_dora"), ("LJ001-0005", "ef_dora"),
                                         ("jfk", "em_alex"), ("1089-134686-0000", "em_alex")])
def test_a_speaker_of_known_sex_gets_a_voice_of_that_sex(audio, clip, voice):
    assert VoiceCaster(VOICES).cast(final(audio[clip], 0.0)) == voice


def test_kennedy_is_cast_male_by_his_vocal_tract_not_his_pitch(audio):
    evidence = sex_evidence(audio["jfk"])
    assert evidence.median_f0_hz > 200 and evidence.formant_spacing_hz < 1000
    assert (evidence.sex, evidence.reason) == ("male", "tract")


def test_a_translated_caption_is_cast_from_its_source_audio(audio):
    source = final(audio["jfk"], 0.0)
    translated = TranslatedCaption(source, "y así", "es", "en", 0.0, 0.0)
    assert VoiceCaster(VOICES).cast(translated) == "em_alex"


def test_a_clear_other_line_inside_a_turn_needs_a_second_one(audio):
    """Short pauses (0.3 s: one turn): one male line amid female ones does not flip; two in a row do."""
    caster = VoiceCaster(VOICES)
    t = 0.0
    cast = []
    for clip in ["LJ001-0025", "jfk", "LJ001-0005", "1089-134686-0000", "jfk", "LJ001-0025"]:
        event = final(audio[clip], t)
        cast.append(caster.cast(event))
        t = event.end + 0.3
    assert cast == ["ef_dora", "ef_dora", "ef_dora", "ef_dora", "em_alex", "em_alex"]
    assert caster.switches == 1 and caster.lines == {"female": 4, "male": 2}


def test_a_clear_other_line_after_a_pause_starts_a_new_turn(audio):
    caster = VoiceCaster(VOICES)
    first = final(audio["LJ001-0025"], 0.0)
    assert caster.cast(first) == "ef_dora"
    assert caster.cast(final(audio["jfk"], first.end + 1.5)) == "em_alex"
    assert caster.switches == 1


def test_ambiguous_and_unvoiced_lines_keep_the_voice(audio):
    caster = VoiceCaster(VOICES)
    first = final(audio["1089-134686-0000"], 0.0)
    assert caster.cast(first) == "em_alex"
    t = first.end + 2.0  # new turns, every one
    for samples in [np.zeros(16000, np.float32), audio["LJ001-0025"][:1600]]:  # silence; 0.1 s of a woman
        assert caster.cast(final(samples, t)) == "em_alex"
        t += 2.0
    ambiguous = SexEvidence(None, "ambiguous", 165.0, 1070.0, 2.0, 200)
    assert caster.cast_evidence(ambiguous, t, t + 2.0) == "em_alex"
    assert caster.cast(CaptionEvent("final", 9, "x", "x", "", t + 4, t + 5)) == "em_alex"  # no audio kept
    assert (caster.too_little_voicing, caster.ambiguous, caster.switches) == (3, 1, 0)
    assert "5 line(s) em_alex" in caster.report_line()


def test_the_first_line_without_voicing_gets_the_configured_sex():
    assert VoiceCaster(VOICES).cast(final(np.zeros(8000, np.float32), 0.0)) == "ef_dora"
    male_first = VoiceCaster(VOICES, CastingConfig(first_sex="male"))
    assert male_first.cast(final(np.zeros(8000, np.float32), 0.0)) == "em_alex"


CATALOGUE = [{"name": n, "language": lang} for n, lang in [
    ("af_bella", "en-us"), ("af_heart", "en-us"), ("am_adam", "en-us"), ("am_michael", "en-us"),
    ("ef_dora", "es"), ("em_alex", "es"), ("em_santa", "es"), ("pf_dora", "pt-br"), ("pm_alex", "pt-br"),
    ("ff_siwis", "fr")]]


def test_the_voice_table_of_a_language():
    assert voices_by_sex("es", CATALOGUE) == {"female": "ef_dora", "male": "em_alex"}
    assert voices_by_sex("pt", CATALOGUE) == {"female": "pf_dora", "male": "pm_alex"}
    assert voices_by_sex("en", CATALOGUE) == {"female": "af_heart", "male": "am_michael"}
    assert voices_by_sex("fr", CATALOGUE) is None  # only a woman's voice
    assert voices_by_sex("es", [{"name": "x1", "language": "es", "sex": "F"},
                                {"name": "x2", "language": "es", "sex": "male"}]) == {"female": "x1", "male": "x2"}


def test_what_the_voice_flag_means_for_casting():
    assert casting_table(None, "es", CATALOGUE) == {"female": "ef_dora", "male": "em_alex"}
    assert casting_table("auto", "pt", CATALOGUE) == {"female": "pf_dora", "male": "pm_alex"}
    assert casting_table("kokoro:ef_dora", "es", CATALOGUE) is None
    assert casting_table(None, "fr", CATALOGUE) is None
    with pytest.raises(RtvoiceError, match="both sexes"):
        casting_table("auto", "fr", CATALOGUE)
    with pytest.raises(RtvoiceError, match="male"):
        VoiceCaster({"female": "ef_dora"})


@pytest.mark.slow
@pytest.mark.parametrize("clip, language, voice", [("LJ001-0025", "es", "ef_dora"), ("jfk", "pt", "pm_alex")])
def test_the_dub_casts_a_voice_of_the_speakers_sex_by_default(tmp_path, more_speech_recordings, clip, language,
                                                              voice):
    """`rtvoice dub --translate-to es|pt` with no --voice: every line of LJ Speech (a woman) in the female native
    voice, every line of Kennedy (a man) in the male one (the evidence of each clip in the module docstring)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    path = next(r.path for r in more_speech_recordings if r.id == clip)
    stats_path = tmp_path / "stats.json"
    run = subprocess.run([sys.executable, "-m", "rtvoice", "dub", str(path), "--translate-to", language, "--wav",
                          str(tmp_path / "dub.wav"), "--stats", str(stats_path), "--quiet"],
                         env={**os.environ, "PYTHONPATH": str(repo) + os.pathsep + os.environ.get("PYTHONPATH", "")},
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "cast per speaker" in run.stderr and "casting:" in run.stderr
    stats = json.loads(stats_path.read_text())
    spoken = [line["speaker"] for line in stats["tts"]["lines"]]
    assert spoken and set(spoken) == {voice}, spoken
    assert stats["casting_lines"][voice] == len(spoken) and stats["casting_switches"] == 0
