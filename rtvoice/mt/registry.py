"""What this install can translate: every pair rtvoice has a backend for, and whether it is installed.

``open_translator("en", "pt")`` gives a ready :class:`~rtvoice.mt.base.Translator`, or one clear error:
:class:`~rtvoice.mt.base.UnsupportedPairError` when no backend translates the pair (the message lists the
pairs that exist) and :class:`~rtvoice.mt.base.BackendMissingError` when its backend is not installed (the
message gives the install line).
"""

from __future__ import annotations

from dataclasses import dataclass

from rtvoice.mt import apertium, bergamot
from rtvoice.mt.base import LANGUAGE_NAMES, BackendMissingError, Pair, Translator, UnsupportedPairError


@dataclass(frozen=True)
class PairInfo:
    """One translation direction rtvoice knows, and its state on this machine."""

    pair: Pair
    backend: str
    quality: str
    installed: bool
    install: str  # what to install when it is not ('' when it is)


def _backends():
    """(backend name, quality, pairs, installed(pair) -> (ok, install line), factory(pair) -> Translator)."""
    return [
        (bergamot.BergamotTranslator.backend, bergamot.BergamotTranslator.quality, list(bergamot.DIRECTIONS),
         lambda pair: bergamot.installed(), bergamot.BergamotTranslator),
        (apertium.ApertiumTranslator.backend, apertium.ApertiumTranslator.quality, list(apertium.MODES),
         apertium.installed, apertium.ApertiumTranslator),
    ]


def known_pairs() -> list[PairInfo]:
    """Every pair rtvoice has a backend for, in backend order, installed or not."""
    infos = []
    for name, quality, pairs, is_installed, _ in _backends():
        for pair in pairs:
            ok, install = is_installed(pair)
            infos.append(PairInfo(pair, name, quality, ok, install))
    return infos


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def open_translator(source: str, target: str) -> Translator:
    """A translator for source→target (ISO 639-1 codes) from the first backend that has the pair."""
    try:
        pair = Pair(source, target)
    except ValueError as error:
        raise UnsupportedPairError(f"translation {source}→{target}: {error}") from error
    for _, _, pairs, is_installed, factory in _backends():
        if pair in pairs:
            ok, install = is_installed(pair)
            if not ok:
                raise BackendMissingError(f"translation {pair} needs a backend that is not installed: {install}")
            return factory(pair)
    have = ", ".join(str(info.pair) for info in known_pairs())
    raise UnsupportedPairError(f"no translation from {language_name(source)} ({source}) to "
                               f"{language_name(target)} ({target}); rtvoice translates {have} "
                               "(see `rtvoice languages`)")
