"""Per-form mappings onto the canonical record: the document, its validation, and suggestions.

:func:`suggest_mapping` proposes a first document from a form's HXL tags and labels; a person confirms
it; :func:`validate_mapping` checks a document against the form and the catalogue before it is used.
"""

from app.indicators.mapping.document import (
    ChoiceRecode,
    DerivedRule,
    FieldRule,
    FormRef,
    MappingDocument,
    MappingFormatError,
    QuestionIndex,
    Unmapped,
)
from app.indicators.mapping.suggest import suggest_mapping
from app.indicators.mapping.validate import ERROR, WARNING, MappingProblem, validate_mapping

__all__ = [
    "ERROR",
    "WARNING",
    "ChoiceRecode",
    "DerivedRule",
    "FieldRule",
    "FormRef",
    "MappingDocument",
    "MappingFormatError",
    "MappingProblem",
    "QuestionIndex",
    "Unmapped",
    "suggest_mapping",
    "validate_mapping",
]
