"""Voice casting: for each final caption, a dub voice of the source speaker's sex, held through a speaker's turn.

Per line, from the final's own 16 kHz audio (``CaptionEvent.audio``, kept when
``StreamingConfig.keep_final_audio``; a translated caption's audio is its source's):

- pitch: the median F0 of the voiced frames (:mod:`rtvoice.frontend.pitch`); under ``male_below_hz``
  (150) is male, over ``female_above_hz`` (180) female, between is the dead band;
- vocal tract: the median formant spacing dF (:mod:`rtvoice.frontend.formants`); under
  ``male_spacing_below_hz`` (1040) is male, over ``female_spacing_above_hz`` (1100) female, between the dead
  band. It is what catches a man who raises his voice into women's pitch (Kennedy's "ask not": F0 about
  245 Hz, dF about 965 Hz).

The line's evidence: male when the pitch says male or the tract says male; else female when either says
female; else (both in their dead bands) ambiguous. The cues are not symmetric: a median F0 under 150 Hz is
rare in a woman's speech (women speak around 190-220 Hz), while men raise theirs far into the women's range
when they speak up, and the vocal tract does not change with effort; so a low pitch and a long tract each
decide, a high pitch only where the tract does not say male. The tract cue counts only over at least
``min_formant_frames`` frames (1 s of voiced speech): on shorter lines the LPC formants are too noisy to
overrule the pitch (LJ Speech's 1.6 s LJ002-0035, 0.5 s voiced, gives dF 1021 Hz). A line with less than
``min_voiced_s`` of voiced speech has no evidence.

While the voice cast is male, a line whose only female evidence is its pitch counts as ambiguous: a man
speaking up reaches women's pitch, and on lines too short for the tract cue nothing else tells them apart.

Hysteresis (a voice must not flip inside a turn): the current voice is kept unless a line's evidence is for
the other sex, and then it switches only when that line starts a new turn (a pause of at least
``new_turn_pause_s`` since the previous line ended) or when ``switch_after_lines`` lines in a row (lines
without evidence in between do not break the run) said so. The first line is cast from its evidence, or if
ambiguous from its median F0 against the middle of the pitch dead band; a first line without voiced speech
gets ``first_sex``.

Wiring (the dub stage)::

    caster = VoiceCaster({"female": "ef_dora", "male": "em_alex"})
    speaker = caster.cast(event)                  # per final, translated or not
    engine.speak(text, tag=event, speaker=speaker)
    caster.report_line()                          # "casting: 14 line(s) ef_dora, 9 em_alex, 1 switch, ..."
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from rtvoice.errors import RtvoiceError
from rtvoice.frontend.formants import FormantConfig, formant_spacing
from rtvoice.frontend.pitch import PitchConfig, estimate_pitch

SEXES = ("female", "male")

# The catalogue's voice for each sex where a language has several (Kokoro v1.0's best-graded native ones).
PREFERRED_VOICES = {
    "es": {"female": "ef_dora", "male": "em_alex"},
    "pt": {"female": "pf_dora", "male": "pm_alex"},
    "en": {"female": "af_heart", "male": "am_michael"},
    "it": {"female": "if_sara", "male": "im_nicola"},
}


@dataclass(frozen=True)
class CastingConfig:
    """Thresholds (Hz, s) of the casting decision (module docstring)."""

    male_below_hz: float = 150.0
    female_above_hz: float = 180.0
    male_spacing_below_hz: float = 1040.0
    female_spacing_above_hz: float = 1100.0
    min_voiced_s: float = 0.4  # voiced speech a line needs to count as evidence
    min_formant_frames: int = 100  # voiced frames with four formants the tract cue needs (10 ms each)
    new_turn_pause_s: float = 1.0
    switch_after_lines: int = 2
    first_sex: str = "female"

    def __post_init__(self) -> None:
        if not 0 < self.male_below_hz <= self.female_above_hz:
            raise ValueError(f"need 0 < male_below_hz <= female_above_hz, got {self.male_below_hz}, "
                             f"{self.female_above_hz}")
        if not 0 < self.male_spacing_below_hz <= self.female_spacing_above_hz:
            raise ValueError(f"need 0 < male_spacing_below_hz <= female_spacing_above_hz, got "
                             f"{self.male_spacing_below_hz}, {self.female_spacing_above_hz}")
        if self.switch_after_lines < 1:
            raise ValueError(f"switch_after_lines must be >= 1, got {self.switch_after_lines}")
        if self.first_sex not in SEXES:
            raise ValueError(f"first_sex must be one of {SEXES}, got {self.first_sex!r}")

    @property
    def pitch_midpoint_hz(self) -> float:
        return (self.male_below_hz + self.female_above_hz) / 2


@dataclass(frozen=True)
class SexEvidence:
    """What one line's audio says. ``sex`` is None when it says nothing clear (see ``reason``)."""

    sex: str | None
    reason: str  # "pitch", "tract", "pitch and tract", "ambiguous", "too little voicing"
    median_f0_hz: float | None
    formant_spacing_hz: float | None  # measured even where too few frames for the decision
    voiced_s: float
    formant_frames: int = 0


def sex_evidence(audio, config: CastingConfig = CastingConfig(), pitch: PitchConfig = PitchConfig(),
                 formants: FormantConfig = FormantConfig()) -> SexEvidence:
    """The evidence of a line's audio (16 kHz float32 mono) for the speaker's sex (module docstring)."""
    if audio is None or len(audio) == 0:
        return SexEvidence(None, "too little voicing", None, None, 0.0)
    track = estimate_pitch(audio, pitch)
    f0 = track.median_hz
    if track.voiced_s < config.min_voiced_s:
        return SexEvidence(None, "too little voicing", f0, None, track.voiced_s)
    spacing = formant_spacing(audio, track.times_s[track.voiced], formants)
    df = spacing.median_hz
    by_pitch = "male" if f0 < config.male_below_hz else "female" if f0 > config.female_above_hz else None
    by_tract = (None if spacing.frames < config.min_formant_frames else "male" if df < config.male_spacing_below_hz
                else "female" if df > config.female_spacing_above_hz else None)
    if "male" in (by_pitch, by_tract):
        sex = "male"
    elif "female" in (by_pitch, by_tract):
        sex = "female"
    else:
        sex = None
    if sex is None:
        reason = "ambiguous"
    elif by_pitch == by_tract == sex:
        reason = "pitch and tract"
    else:
        reason = "tract" if by_tract == sex else "pitch"
    return SexEvidence(sex, reason, f0, df, track.voiced_s, spacing.frames)


class VoiceCaster:
    """Picks, per final caption, the voice of the source speaker's sex from ``voices_by_sex`` (module docstring).

    Args:
        voices_by_sex: {"female": voice name, "male": voice name}, voices of the dub's language.
        config: the decision's thresholds and hysteresis.
    """

    def __init__(self, voices_by_sex: Mapping[str, str], config: CastingConfig = CastingConfig()) -> None:
        missing = [sex for sex in SEXES if not voices_by_sex.get(sex)]
        if missing:
            raise RtvoiceError(f"voice casting needs a voice of each sex; none given for {', '.join(missing)}")
        self.voices = {sex: voices_by_sex[sex] for sex in SEXES}
        self.config = config
        self.current: str | None = None  # the sex cast now
        self._run = 0  # lines in a row whose evidence was for the other sex
        self._previous_end: float | None = None
        self.lines = {sex: 0 for sex in SEXES}
        self.switches = 0
        self.too_little_voicing = 0
        self.ambiguous = 0
        self.last_evidence: SexEvidence | None = None
        self._lock = threading.Lock()

    def cast(self, event) -> str:
        """The voice name for a final caption (a CaptionEvent, or a TranslatedCaption: its source's audio)."""
        source = getattr(event, "source", None) or event
        evidence = sex_evidence(audio_of(event), self.config)
        return self.cast_evidence(evidence, getattr(source, "start", None), getattr(source, "end", None))

    def cast_evidence(self, evidence: SexEvidence, start: float | None = None, end: float | None = None) -> str:
        """The voice for a line with this evidence spanning stream seconds start..end (None: unknown)."""
        with self._lock:
            self.last_evidence = evidence
            new_turn = (self._previous_end is not None and start is not None
                        and start - self._previous_end >= self.config.new_turn_pause_s)
            if end is not None:
                self._previous_end = end
            if self.current == "male" and evidence.sex == "female" and evidence.reason == "pitch":
                # A man who speaks up reaches a woman's pitch; only his vocal tract tells: pitch alone does not
                # unseat a male voice (Kennedy's short lines: F0 about 245 Hz, too little voicing for the tract).
                evidence = SexEvidence(None, "ambiguous", evidence.median_f0_hz, evidence.formant_spacing_hz,
                                       evidence.voiced_s, evidence.formant_frames)
            self.too_little_voicing += evidence.reason == "too little voicing"
            self.ambiguous += evidence.reason == "ambiguous"
            if self.current is None:
                self.current = evidence.sex or self._first_guess(evidence)
            elif evidence.sex == self.current:
                self._run = 0
            elif evidence.sex is not None:
                self._run += 1
                if new_turn or self._run >= self.config.switch_after_lines:
                    self.current, self._run = evidence.sex, 0
                    self.switches += 1
            self.lines[self.current] += 1
            return self.voices[self.current]

    def _first_guess(self, evidence: SexEvidence) -> str:
        if evidence.median_f0_hz is None or evidence.reason == "too little voicing":
            return self.config.first_sex
        return "male" if evidence.median_f0_hz < self.config.pitch_midpoint_hz else "female"

    def stats(self) -> dict:
        with self._lock:
            return {"casting_voices": dict(self.voices),
                    "casting_lines": {self.voices[sex]: n for sex, n in self.lines.items()},
                    "casting_switches": self.switches,
                    "casting_too_little_voicing": self.too_little_voicing,
                    "casting_ambiguous": self.ambiguous}

    def report_line(self) -> str:
        s = self.stats()
        cast = ", ".join(f"{n} line(s) {name}" for name, n in s["casting_lines"].items())
        return (f"casting: {cast}; {s['casting_switches']} switch(es); {s['casting_ambiguous']} ambiguous and "
                f"{s['casting_too_little_voicing']} with too little voiced speech kept the voice")


def voice_sex(voice) -> str | None:
    """The sex of a catalogue voice: its ``sex`` attribute or key ("female"/"male", "f"/"m"), else from a
    Kokoro name's second letter (``ef_dora``: female, ``em_alex``: male); None when unknown."""
    sex = voice.get("sex") if isinstance(voice, Mapping) else getattr(voice, "sex", None)
    if isinstance(sex, str) and sex:
        sex = sex.lower()
        return {"f": "female", "m": "male"}.get(sex, sex if sex in SEXES else None)
    name = _field(voice, "name")
    if len(name) > 3 and name[2] == "_" and name[1] in "fm":
        return "female" if name[1] == "f" else "male"
    return None


def _field(voice, key: str) -> str:
    if isinstance(voice, str):
        return voice if key == "name" else ""
    value = voice.get(key) if isinstance(voice, Mapping) else getattr(voice, key, None)
    return value or ""


def voices_by_sex(language: str, voices: Iterable) -> dict[str, str] | None:
    """{"female": name, "male": name} for ``language`` from the catalogue's ``voices`` (objects or dicts with
    ``name``, ``language`` and optionally ``sex``), or None when the language lacks a voice of either sex.
    Where a sex has several, :data:`PREFERRED_VOICES`'s, else the first listed."""
    found: dict[str, list[str]] = {sex: [] for sex in SEXES}
    for voice in voices:
        lang = _field(voice, "language").lower()
        if lang != language and lang.split("-")[0] != language:
            continue
        sex = voice_sex(voice)
        if sex in found:
            found[sex].append(_field(voice, "name"))
    if not all(found.values()):
        return None
    preferred = PREFERRED_VOICES.get(language, {})
    return {sex: preferred[sex] if preferred.get(sex) in names else names[0] for sex, names in found.items()}


def casting_table(voice_flag: str | None, language: str, voices: Iterable) -> dict[str, str] | None:
    """What ``rtvoice dub --voice`` means for casting: the voices-by-sex table when the voice is cast per line
    (``--voice auto``, or no --voice where ``language`` has native voices of both sexes), else None (the
    voice is fixed: --voice NAME or FILE, or a language without both). RtvoiceError for ``--voice auto``
    where the language lacks a voice of either sex."""
    if voice_flag not in (None, "auto"):
        return None
    table = voices_by_sex(language, voices)
    if table is None and voice_flag == "auto":
        raise RtvoiceError(f"--voice auto needs native voices of both sexes for {language!r}; this install has "
                           f"none of one sex: give --voice NAME")
    return table


def audio_of(event) -> np.ndarray | None:
    """A final's own 16 kHz audio (a translated caption's: its source's); None when finals do not keep it."""
    source = getattr(event, "source", None) or event
    return getattr(source, "audio", None)
