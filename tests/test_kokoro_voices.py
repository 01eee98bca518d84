"""The native Kokoro voices (npm kokoro-js, rtvoice.tts.kokoro_voices): installed and checked, listed by
`rtvoice voices`, chosen with --voice kokoro:NAME, and a line spoken by another speaker of the same voice.

References: the sha256 check against a copy of the installed voices with one file altered here; the
speakers' sex and language as the issue and Kokoro's release name them (ef_dora a Spanish woman, em_alex a
Spanish man, ...), not read from rtvoice's catalogue; audio read from the WAV file by soundfile.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rtvoice.errors import ModelError, RtvoiceError

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
# name -> (language, sex), as Kokoro v1.0's voice list gives them
KNOWN = {"ef_dora": ("es", "female"), "em_alex": ("es", "male"), "em_santa": ("es", "male"),
         "pf_dora": ("pt", "female"), "pm_alex": ("pt", "male"), "pm_santa": ("pt", "male"),
         "ff_siwis": ("fr", "female"), "if_sara": ("it", "female"), "im_nicola": ("it", "male"),
         "af_heart": ("en", "female"), "bm_george": ("en", "male")}


def rtvoice(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rtvoice", *args], capture_output=True, text=True,
                          env={**ENV, **(env or {})}, cwd=REPO, timeout=timeout)


@pytest.fixture(scope="module")
def spanish():
    from rtvoice.tts.kokoro import KokoroVoice
    from rtvoice.tts.voice import VoiceOptions

    return KokoroVoice("es", VoiceOptions(threads=2))


@pytest.fixture
def altered_voices(tmp_path):
    """A copy of the installed kokoro-js voices with one byte of em_alex.bin changed; RTVOICE_NPM_DIR for it."""
    from rtvoice.models import load_manifest, package_directory

    installed = package_directory(load_manifest("kokoro-v1-voices"))
    copy = tmp_path / "npm" / "kokoro-js"
    shutil.copytree(installed, copy)
    target = copy / "voices" / "em_alex.bin"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0x01
    target.write_bytes(bytes(data))
    return tmp_path / "npm"


def test_a_voice_file_failing_its_checksum_is_a_one_line_error(altered_voices, monkeypatch):
    from rtvoice.tts import kokoro_voices

    monkeypatch.setenv("RTVOICE_NPM_DIR", str(altered_voices))
    with pytest.raises(ModelError, match=r"^model 'kokoro-v1-voices': .*voices/em_alex\.bin has sha256 [0-9a-f]{64}, "
                                         r"the manifest expects") as error:
        kokoro_voices.load_style("em_alex")
    assert "\n" not in str(error.value)
    assert kokoro_voices.load_style("ef_dora").shape == (510, 256)  # the files left alone still load

    result = rtvoice("say", "--voice", "kokoro:em_alex", "Hola.", "--wav", str(altered_voices / "x.wav"),
                     env={"RTVOICE_NPM_DIR": str(altered_voices)})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "em_alex.bin has sha256" in result.stderr, result.stderr


def test_voices_not_installed_say_how_to_install_them(tmp_path, monkeypatch):
    from rtvoice.tts import kokoro_voices

    monkeypatch.setenv("RTVOICE_NPM_DIR", str(tmp_path))
    with pytest.raises(ModelError, match=r"npm package kokoro-js 1\.2\.1, which is not installed in .*: `make build`"):
        kokoro_voices.load_style("pf_dora")


def test_rtvoice_voices_lists_every_language_with_sex_and_state():
    import json

    result = rtvoice("voices", "--json")
    assert result.returncode == 0, result.stderr
    listed = {v["voice"]: v for v in json.loads(result.stdout)["voices"]}
    for name, (language, sex) in KNOWN.items():
        entry = listed[f"kokoro:{name}"]
        assert (entry["language"], entry["sex"], entry["state"], entry["speaks"]) == (language, sex, "verified", True)
        assert entry["license"].startswith("Apache-2.0") and entry["package"] == "npm:kokoro-js 1.2.1"
    defaults = {v["language"]: name for name, v in listed.items() if v["default"]}
    assert defaults == {"en": "en_US-joe-medium", "es": "kokoro:ef_dora", "pt": "kokoro:pf_dora",
                        "fr": "kokoro:ff_siwis", "it": "kokoro:if_sara"}
    assert listed["kokoro:jm_kumo"]["language"] == "ja" and not listed["kokoro:jm_kumo"]["speaks"]

    lines = rtvoice("voices", "--language", "it").stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["kokoro:if_sara", "kokoro:im_nicola"]
    assert " female " in lines[0] and " male " in lines[1]


def test_the_default_spanish_and_portuguese_voices_are_native():
    from rtvoice.tts.kokoro import KokoroVoice
    from rtvoice.tts.voice import VoiceOptions

    for language in ("es", "pt"):
        voice = KokoroVoice(language, VoiceOptions(threads=1, warmup=False))
        assert KNOWN[voice.speaker][0] == language, voice.speaker


def collect(engine_voice, lines, prepare=None):
    """Speak ``lines`` ((text, speaker) pairs) through a TtsEngine; (audio per line, stats)."""
    from rtvoice.tts import CallbackSink, TtsEngine

    audio = {}
    engine = TtsEngine(engine_voice, sinks=[CallbackSink(lambda u, s, o: audio.setdefault(u.id, []).append(s))])
    with engine:
        if prepare:
            assert engine.prepare_first_piece(prepare[0], speaker=prepare[1])
        for text, speaker in lines:
            engine.speak(text, speaker=speaker).wait(120)
        stats = engine.stats()
    return [np.concatenate(audio[i]) for i in range(len(lines))], stats


def test_a_line_spoken_by_another_speaker_of_the_same_voice(spanish):
    text = "Buenas tardes a todos."
    (dora, alex), stats = collect(spanish, [(text, None), (text, "em_alex")])
    assert [line["speaker"] for line in stats["lines"]] == [None, "em_alex"]
    for audio in (dora, alex):
        assert len(audio) > 0.5 * spanish.sample_rate and np.sqrt(np.mean(audio ** 2)) > 0.02
    assert len(dora) != len(alex) or not np.allclose(dora, alex)  # another style vector, another voice
    assert stats["voice"] == "kokoro-82m-es-ef_dora"


def test_a_prepared_first_piece_is_kept_for_its_speaker(spanish):
    """The piece prepared for em_alex is not played for the voice's own speaker, only for em_alex."""
    text = "Hola, buenos días."
    _, stats = collect(spanish, [(text, None), (text, "em_alex")], prepare=(text, "em_alex"))
    assert [line["prepared_first_piece"] for line in stats["lines"]] == [False, True]


def test_an_unknown_speaker_is_a_clear_error_before_anything_is_queued(spanish):
    from rtvoice.tts import TtsEngine, load_voice

    engine = TtsEngine(spanish)
    try:
        with pytest.raises(ModelError, match=r"^Kokoro has no speaker 'em_nobody' \(speakers: af_alloy, "):
            engine.speak("Hola.", speaker="em_nobody")
        assert engine.stats()["utterances"] == 0
    finally:
        engine.close()
    piper = TtsEngine(load_voice())
    try:
        with pytest.raises(RtvoiceError, match=r"cannot change speaker per line \(a Kokoro voice can\)"):
            piper.speak("Hello.", speaker="em_alex")
    finally:
        piper.close()


def test_say_with_a_kokoro_voice_writes_it(tmp_path):
    wav = tmp_path / "pt.wav"
    result = rtvoice("say", "--voice", "kokoro:pm_alex", "Bom dia a todos.", "--wav", str(wav), "--threads", "2")
    assert result.returncode == 0, result.stderr
    assert "voice kokoro-82m-pt-pm_alex on CPU" in result.stderr
    assert "pm_alex: Brazilian Portuguese, male" in result.stderr
    audio, rate = sf.read(wav, dtype="float32")
    assert rate == 24000 and 0.5 < len(audio) / rate < 5 and np.sqrt(np.mean(audio ** 2)) > 0.02

    unknown = rtvoice("say", "--voice", "kokoro:nobody", "Hi.", "--wav", str(tmp_path / "x.wav"))
    assert unknown.returncode == 2 and unknown.stderr.startswith("rtvoice: error: Kokoro has no speaker 'nobody'")
    assert unknown.stderr.strip().count("\n") == 0


def test_rtvoice_models_checks_the_npm_voices_and_names_the_install_step(tmp_path):
    import json

    listed = {m["name"]: m for m in json.loads(rtvoice("models", "--json").stdout)["models"]}
    npm = listed["kokoro-v1-voices"]
    assert (npm["registry"], npm["installed_version"], npm["sha256"]) == ("npm", "1.2.1", "verified")
    assert len(npm["files"]) == 55 and set(npm["files"].values()) == {"verified"}

    result = rtvoice("models", env={"RTVOICE_NPM_DIR": str(tmp_path)})
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if line.startswith("kokoro-v1-voices "))
    assert "npm:kokoro-js 1.2.1" in line and "missing" in line
    assert "npm package kokoro-js 1.2.1, which is not installed" in result.stderr and "make build" in result.stderr
