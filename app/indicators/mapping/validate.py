"""Checks a mapping document against its form and the catalogue before it is used.

Errors make the mapping unusable (unknown question or canonical field, a code that is not in the list,
a question whose type cannot fill the field); warnings point at data that will be recoded to a fallback
or otherwise needs a person's eye (a choice with no recoding becomes ``unknown`` and is queued for
review, never silently dropped).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.indicators.answers import to_number
from app.indicators.catalog import Catalog
from app.indicators.expressions import is_answered
from app.indicators.fields import CanonicalField, canonical_key
from app.indicators.mapping.document import (
    DERIVATIONS,
    TRANSFORMS,
    FieldRule,
    MappingDocument,
    MappingFormatError,
    QuestionIndex,
)
from app.indicators.mapping.messages import N_, parts
from forms.schema import Field, FormSchema

ERROR = "error"
WARNING = "warning"

# Which question types can fill which canonical types (calculates are strings, so strings fit most).
COMPATIBLE: Mapping[str, frozenset[str]] = {
    "code": frozenset({"select1", "string"}),
    "codes": frozenset({"select", "select1", "string"}),
    "int": frozenset({"int", "decimal", "string"}),
    "decimal": frozenset({"decimal", "int", "string"}),
    "date": frozenset({"date", "dateTime", "string"}),
    "bool": frozenset({"boolean", "select1", "string"}),
    "text": frozenset({"string", "select1", "select", "int", "decimal", "date", "dateTime", "barcode"}),
}


@dataclass(frozen=True)
class MappingProblem:
    severity: str
    where: str
    message: str  # English, as the API sends it

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The problem for the API and the admin: ``messageTemplate`` and ``messageParams`` let the admin
        show ``message`` in the reader's language (``form_mapping.html``)."""
        template, params = parts(self.message)
        return {
            "severity": self.severity,
            "where": self.where,
            "message": str(self.message),
            "messageTemplate": template,
            "messageParams": params,
        }


def validate_mapping(
    doc: MappingDocument | Mapping[str, Any],
    schema: FormSchema,
    catalog: Catalog,
    *,
    via_tables: Collection[str] = (),
) -> list[MappingProblem]:
    """Every problem in ``doc`` for this form version; an empty list means it can be used as is.
    ``via_tables`` names the lookup tables normalisation will have (a ``via`` naming another table
    could never apply, so it is an error)."""
    if not isinstance(doc, MappingDocument):
        try:
            doc = MappingDocument.from_dict(doc)
        except MappingFormatError as exc:
            return [MappingProblem(ERROR, exc.key or "document", exc.message)]
    return _Checker(doc, schema, catalog, via_tables).run()


class _Checker:
    def __init__(
        self, doc: MappingDocument, schema: FormSchema, catalog: Catalog, via_tables: Collection[str] = ()
    ) -> None:
        self.via_tables = frozenset(via_tables)
        self.doc = doc
        self.schema = schema
        self.catalog = catalog
        self.index = QuestionIndex(schema)
        self.problems: list[MappingProblem] = []

    def error(self, where: str, message: str) -> None:
        self.problems.append(MappingProblem(ERROR, where, message))

    def warn(self, where: str, message: str) -> None:
        self.problems.append(MappingProblem(WARNING, where, message))

    def run(self) -> list[MappingProblem]:
        if self.doc.form.id != self.schema.form_id:
            self.warn(
                "form.id",
                N_(
                    "mapping is for %(mapping)s, the form is %(form)s",
                    mapping=repr(self.doc.form.id),
                    form=repr(self.schema.form_id),
                ),
            )
        if self.doc.form.version and self.schema.version and self.doc.form.version != self.schema.version:
            self.warn(
                "form.version",
                N_(
                    "mapping is for version %(mapping)s, the form is %(form)s",
                    mapping=self.doc.form.version,
                    form=self.schema.version,
                ),
            )
        resolved = self.check_rules()
        self.check_targets(resolved)
        self.check_choices(resolved)
        self.check_roster(resolved)
        self.check_counts()
        self.check_defaults()
        self.check_derived()
        for key in self.doc.drop:
            question, why = self.index.find(key)
            if question is None:
                self.error(f"drop.{key}", why)
        return self.problems

    def check_rules(self) -> list[tuple[FieldRule, Field, CanonicalField]]:
        resolved: list[tuple[FieldRule, Field, CanonicalField]] = []
        for key, rule in self.doc.fields.items():
            where = f"fields.{key}"
            question, why = self.index.find(key)
            if question is None:
                self.error(where, why)
                continue
            if rule.drop:
                if rule.to:
                    self.error(where, N_("a rule either maps a question or drops it"))
                continue
            if not rule.to:
                self.error(where, N_("maps to nothing: give `to` or `drop: true`"))
                continue
            if rule.transform is not None and rule.transform not in TRANSFORMS:
                self.error(
                    where,
                    N_(
                        "unknown transform %(name)s (one of %(known)s)",
                        name=repr(rule.transform),
                        known=", ".join(sorted(TRANSFORMS)),
                    ),
                )
            if rule.via is not None and rule.via not in self.via_tables:
                self.error(
                    where,
                    N_(
                        "lookup table %(table)s is not available, so the lookup could never apply; "
                        "recode the choices or map the answer directly",
                        table=repr(rule.via),
                    ),
                )
            for key in (rule.to, *rule.also):
                target = self.catalog.fields.get(key)
                if target is None:
                    self.error(where, N_("unknown canonical field %(key)s", key=repr(key)))
                    continue
                one = replace(rule, to=key, also=())
                self.check_type(where, one, question, target)
                self.check_shape(where, one, question, target)
                resolved.append((one, question, target))
        return resolved

    def check_type(self, where: str, rule: FieldRule, question: Field, target: CanonicalField) -> None:
        if rule.via is not None:
            return  # a lookup table turns the answer into the canonical value, whatever its type
        if question.type not in COMPATIBLE[target.type]:
            self.error(
                where,
                N_(
                    "a %(question)s question cannot fill %(type)s field %(key)s",
                    question=question.type,
                    type=target.type,
                    key=repr(target.key),
                ),
            )

    def check_shape(self, where: str, rule: FieldRule, question: Field, target: CanonicalField) -> None:
        if target.is_member and question.repeat is None:
            self.error(
                where,
                N_("member field %(key)s needs a question inside the roster repeat", key=repr(target.key)),
            )
        if not target.is_member and question.repeat is not None and not target.multi:
            self.error(
                where,
                N_("a question in a repeat has several answers; %(key)s holds one", key=repr(target.key)),
            )
        if rule.multi and not target.multi:
            self.error(where, N_("multi: %(key)s holds a single value", key=repr(target.key)))
        if rule.rank is not None and (target.ranked is None or not 1 <= rule.rank <= target.ranked):
            self.error(
                where, N_("rank %(rank)s is not allowed for %(key)s", rank=rule.rank, key=repr(target.key))
            )
        if target.coded and question.choice_list is None and question.type == "string" and rule.via is None:
            self.warn(
                where,
                N_("free text is recoded only where it equals a code; other answers become the fallback"),
            )

    def check_targets(self, resolved: list[tuple[FieldRule, Field, CanonicalField]]) -> None:
        rosters = {q.repeat for _, q, t in resolved if t.is_member}
        if len(rosters) > 1:
            self.error(
                "fields",
                N_(
                    "member fields come from several repeats %(repeats)s",
                    repeats=sorted(r or "" for r in rosters),
                ),
            )
        seen: dict[str, str] = {}
        ranks: set[tuple[str, int]] = set()
        for rule, question, target in resolved:
            if rule.rank is not None:
                if (target.key, rule.rank) in ranks:
                    self.error(
                        f"fields.{rule.question}",
                        N_("rank %(rank)s of %(key)s is mapped twice", rank=rule.rank, key=repr(target.key)),
                    )
                ranks.add((target.key, rule.rank))
            elif not target.multi and target.key in seen:
                self.warn(
                    f"fields.{rule.question}",
                    N_(
                        "%(key)s is also filled by %(other)s; the first answer wins",
                        key=repr(target.key),
                        other=repr(seen[target.key]),
                    ),
                )
            seen.setdefault(target.key, question.path)

    def check_choices(self, resolved: list[tuple[FieldRule, Field, CanonicalField]]) -> None:
        targets: dict[str, list[CanonicalField]] = {}
        recoded: dict[str, list[CanonicalField]] = {}  # coded and text fields: recodes apply to both
        for rule, question, target in resolved:
            if question.choice_list and rule.via is None:
                recoded.setdefault(question.choice_list, []).append(target)
                if target.codelist:
                    targets.setdefault(question.choice_list, []).append(target)
        lookups = self.catalog.lookups
        for list_name, recodes in self.doc.choices.items():
            where = f"choices.{list_name}"
            if list_name not in self.schema.choices:
                self.error(where, N_("the form has no choice list %(list)s", list=repr(list_name)))
                continue
            if recodes and list_name not in recoded:
                self.error(
                    where,
                    N_(
                        "no mapped question answers from %(list)s, so these recodings could never apply",
                        list=repr(list_name),
                    ),
                )
            choices = {c.value: c for c in self.schema.choices[list_name]}
            for value, recode in recodes.items():
                if value not in choices:
                    self.error(
                        f"{where}.{value}",
                        N_("the list has no choice %(value)s; the recoding cannot apply", value=repr(value)),
                    )
                    continue
                choice = choices[value]
                said = lookups.nonresponse_code(value, *choice.labels.values())
                for key in recode.fields:
                    if key not in {t.key for t in recoded.get(list_name, [])}:
                        self.error(
                            f"{where}.{value}", N_("%(key)s is not filled from this list", key=repr(key))
                        )
                for target in recoded.get(list_name, []):
                    code = recode.code_for(target.key)
                    if said is not None and is_answered(code):
                        self.error(
                            f"{where}.{value}",
                            N_(
                                "%(value)s is a non-substantive answer (%(said)s); recode it to "
                                "%(said_quoted)s or leave it, never to the answer %(code)s (%(key)s)",
                                value=repr(value),
                                said=said,
                                said_quoted=repr(said),
                                code=repr(code),
                                key=target.key,
                            ),
                        )
                    if target.type in {"int", "decimal"} and to_number(code) is None:
                        self.error(
                            f"{where}.{value}",
                            N_("%(code)s is not a number (%(key)s)", code=repr(code), key=target.key),
                        )
                    if target.codelist is None:
                        continue
                    codelist = self.catalog.codelists[target.codelist]
                    if not codelist.is_code(code):
                        self.error(
                            f"{where}.{value}",
                            N_(
                                "%(code)s is not a code of %(list)s (%(key)s)",
                                code=repr(code),
                                list=repr(codelist.name),
                                key=target.key,
                            ),
                        )
        warned: set[tuple[str, str, str]] = set()
        for list_name, fields in targets.items():
            recodes = self.doc.choices.get(list_name, {})
            for choice in self.schema.choices.get(list_name, []):
                if choice.value in recodes:
                    continue
                for target in fields:
                    codelist = self.catalog.codelists[target.codelist or ""]
                    if (
                        codelist.find(choice.value) is not None
                        or (list_name, choice.value, codelist.name) in warned
                    ):
                        continue
                    warned.add((list_name, choice.value, codelist.name))
                    fallback = codelist.unmapped or "missing"
                    self.warn(
                        f"choices.{list_name}.{choice.value}",
                        N_(
                            "no recoding to %(list)s; answers become %(fallback)s (queued for review)",
                            list=repr(codelist.name),
                            fallback=repr(fallback),
                        ),
                    )

    def check_roster(self, resolved: list[tuple[FieldRule, Field, CanonicalField]]) -> None:
        if self.doc.roster_includes_respondent is None and any(t.is_member for _, _, t in resolved):
            self.warn(
                "roster_includes_respondent",
                N_(
                    "say whether the roster lists the respondent too (true) or only the others (false); "
                    "read as false: persons are the respondent plus the roster"
                ),
            )

    def check_counts(self) -> None:
        sexes = self.catalog.codelists["sex_gender"]
        bands = self.catalog.codelists["age_band"]
        for key, rule in self.doc.counts.items():
            where = f"counts.{key}"
            question, why = self.index.find(key)
            if question is None:
                self.error(where, why)
                continue
            if question.type not in {"int", "decimal", "string"}:
                self.error(where, N_("a %(type)s question cannot hold a count", type=question.type))
            if not sexes.is_code(rule.sex):
                self.error(where, N_("sex %(sex)s is not a code of 'sex_gender'", sex=repr(rule.sex)))
            if rule.age_band is not None and not bands.is_code(rule.age_band):
                self.error(
                    where, N_("age_band %(band)s is not a code of 'age_band'", band=repr(rule.age_band))
                )

    def check_defaults(self) -> None:
        for name, value in self.doc.defaults.items():
            where = f"defaults.{name}"
            key = self.catalog.resolve(name)
            if key is None:
                self.error(where, N_("unknown or ambiguous canonical field %(name)s", name=repr(name)))
                continue
            target = self.catalog.fields[key]
            if target.is_member:
                self.error(where, N_("a default applies to the record, not to roster persons"))
            elif target.codelist is not None:
                codelist = self.catalog.codelists[target.codelist]
                values = value if isinstance(value, list) else [value]
                bad = [v for v in values if not codelist.is_code(v)]
                if bad:
                    self.error(
                        where, N_("%(bad)s not in code list %(list)s", bad=bad, list=repr(codelist.name))
                    )
            elif target.type in {"int", "decimal"} and (
                not isinstance(value, int | float) or isinstance(value, bool)
            ):
                self.error(where, N_("%(key)s needs a number", key=repr(key)))

    def check_derived(self) -> None:
        for name, rule in self.doc.derived.items():
            where = f"derived.{name}"
            if name not in DERIVATIONS:
                self.error(
                    where, N_("unknown derivation (one of %(known)s)", known=", ".join(sorted(DERIVATIONS)))
                )
            elif name == "age_band":
                self.check_age_band(where, rule.params)
            elif name in {"fcs", "rcsi"}:
                self.check_score(where, name, rule.params)
            else:
                cutoff = rule.params.get("cutoff", [])
                scale = self.catalog.codelists["wg_scale"]
                if not isinstance(cutoff, list) or not all(scale.is_code(c) for c in cutoff):
                    self.error(f"{where}.cutoff", N_("must list wg_scale codes"))

    def check_age_band(self, where: str, params: Mapping[str, Any]) -> None:
        source = canonical_key(str(params.get("from", "members.age_years")))
        if source not in {"members.age_years", "respondent.age_years"}:
            self.error(
                f"{where}.from", N_("age bands derive from respondent.age_years or members[].age_years")
            )
        bins, labels = params.get("bins"), params.get("labels")
        numbers = isinstance(bins, list) and all(
            isinstance(b, int | float) and not isinstance(b, bool) for b in bins
        )
        if not numbers or not bins or list(bins) != sorted(set(bins)):
            self.error(f"{where}.bins", N_("must be increasing numbers"))
        elif not isinstance(labels, list) or len(labels) != len(bins):
            self.error(f"{where}.labels", N_("needs one label per bin"))
        else:
            band = self.catalog.codelists["age_band"]
            bad = [str(lab) for lab in labels if not band.is_code(str(lab))]
            if bad:
                self.error(f"{where}.labels", N_("%(bad)s not in code list 'age_band'", bad=bad))

    def check_score(self, where: str, name: str, params: Mapping[str, Any]) -> None:
        score = self.catalog.scores[name]
        items = params.get("items")
        if items is not None:
            if not isinstance(items, list) or len(items) != len(score.weights):
                self.error(
                    f"{where}.items",
                    N_("lists one question per item, in order: %(items)s", items=", ".join(score.weights)),
                )
            else:
                for item in items:
                    question, why = self.index.find(str(item))
                    if question is None:
                        self.error(f"{where}.items", why)
        weights = params.get("weights")
        if weights is not None and (
            not isinstance(weights, list)
            or len(weights) != len(score.weights)
            or not all(isinstance(w, int | float) and not isinstance(w, bool) for w in weights)
        ):
            self.error(f"{where}.weights", N_("needs %(count)s numbers", count=len(score.weights)))
