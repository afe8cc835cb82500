"""Suggesting the canonical code for one choice of a form's list, from its labels and value.

Partners number their choices ("1", "2", "3") and label them in their own language, so the label is the
main evidence: "Feminino" -> ``f``, "Venezolana" -> ``VEN``, "En tránsito" -> ``in_transit``. A value that
is already a code ("f", "VEN") is evidence too; when the two disagree the label wins with low confidence,
because partners reuse value codes across lists while the label is what the respondent heard.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.indicators.codes import CodeList
from app.indicators.lookups import COMMON, Lookups
from app.indicators.text import find_phrase, words
from forms.schema import Choice

# Confidence of each kind of evidence (0..1); a person confirms anything below 1.
BOTH_AGREE = 1.0
LABEL_LOOKUP = 0.95
LABEL_COMMON = 0.85
VALUE_IS_CODE = 0.8
LABEL_CONTAINS = 0.7
CONFLICT = 0.6
# Variants shorter than this are not searched inside longer labels ("no" would match everything).
MIN_CONTAINED = 4


@dataclass(frozen=True)
class ChoiceMatch:
    """The suggested code (None when nothing matched) and why."""

    code: str | None
    confidence: float
    reason: str


def match_choice(choice: Choice, codelist: CodeList, lookups: Lookups) -> ChoiceMatch:
    labels = [(lang or "default", text) for lang, text in choice.labels.items() if text and text.strip()]
    from_label = _exact_label(labels, codelist, lookups)
    from_value = codelist.find(choice.value) or _variant_code(codelist, lookups, choice.value)
    if from_label is not None:
        code, confidence, reason = from_label
        if from_value == code:
            return ChoiceMatch(code, BOTH_AGREE, f"{reason}; the value {choice.value!r} agrees")
        if from_value is not None:
            return ChoiceMatch(
                code, CONFLICT, f"{reason}, but the value {choice.value!r} suggests {from_value!r}"
            )
        return ChoiceMatch(code, confidence, reason)
    if from_value is not None:
        return ChoiceMatch(
            from_value, VALUE_IS_CODE, f"the value {choice.value!r} is the code {from_value!r}"
        )
    contained = _contained(labels, codelist, lookups)
    if contained is not None:
        return contained
    shown = ", ".join(f"{t!r}" for _, t in labels) or "no label"
    return ChoiceMatch(None, 0.0, f"value {choice.value!r} ({shown}) matches no code of {codelist.name!r}")


def _variant_code(codelist: CodeList, lookups: Lookups, text: str) -> str | None:
    variant = lookups.variant(codelist.name, text)
    return variant.code if variant else None


def _exact_label(
    labels: list[tuple[str, str]], codelist: CodeList, lookups: Lookups
) -> tuple[str, float, str] | None:
    hits: dict[str, tuple[float, str]] = {}
    for lang, text in labels:
        variant = lookups.variant(codelist.name, text)
        code = codelist.find(text)
        if code is not None:
            hits.setdefault(code, (LABEL_LOOKUP, f"label {text!r} ({lang}) is the code"))
        elif variant is not None:
            confidence = LABEL_COMMON if variant.source == COMMON else LABEL_LOOKUP
            hits.setdefault(
                variant.code,
                (confidence, f"label {text!r} ({lang}) is a known {variant.source} for {variant.code!r}"),
            )
    if len(hits) != 1:
        return None  # nothing, or the languages disagree: leave it to the containment search or a person
    ((code, (confidence, reason)),) = hits.items()
    return code, confidence, reason


def _contained(labels: list[tuple[str, str]], codelist: CodeList, lookups: Lookups) -> ChoiceMatch | None:
    """The longest known variant found inside a label ("Nacionalidad venezolana" -> VEN)."""
    best: tuple[int, str, str] | None = None
    codes: set[str] = set()
    for folded, variant in lookups.variants.get(codelist.name, {}).items():
        if len(folded) < MIN_CONTAINED:
            continue
        phrase = tuple(folded.split())
        for lang, text in labels:
            if find_phrase(words(text), phrase):
                size = len(folded)
                if best is None or size > best[0]:
                    best, codes = (
                        (size, variant.code, f"label {text!r} ({lang}) contains {folded!r}"),
                        {variant.code},
                    )
                elif size == best[0]:
                    codes.add(variant.code)
    if best is None or len(codes) != 1:
        return None
    return ChoiceMatch(best[1], LABEL_CONTAINS, f"{best[2]}, a known variant for {best[1]!r}")
