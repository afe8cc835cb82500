"""The JSON request bodies of the API, one schema per body (``app/web/query.py`` loads them and the
OpenAPI document describes them from the same classes). Field names are the JSON names, so a loaded body
has the keys a client sent. A schema checks the shape (types, lengths, required fields); what a value
means (a known event, a field of the form) stays with the service that uses it.

Central's shapes are kept: unknown fields are ignored unless a body lists what may be changed (PATCH),
where a typo must not pass as "nothing to change"."""

from __future__ import annotations

from typing import cast

from marshmallow import RAISE, fields

from app.exports.options import KNOWN as EXPORT_OPTIONS
from app.response import columns
from app.web.query import BodySchema, BodyText, Count, Flag, Id, Object, Texts

# Free-form values (export options, mapping documents, activity cells) may be any JSON; a service reads them.
Any_ = fields.Raw

MAX_PEM = 64 * 1024  # an RSA-8192 PEM is under 7 KB
MAX_URL = 2000
MAX_COMMENT = 10_000
MAX_ENTITIES = 50_000


class _Listed(BodySchema):
    """A body that takes only the fields it lists."""

    class Meta:
        unknown = RAISE


class Login(BodySchema):
    email = BodyText(required=True)
    password = BodyText(required=True)
    code = BodyText()  # the TOTP code of a person with two-factor on (two_factor.second_step)


class PasswordChange(BodySchema):
    old = BodyText(required=True)
    new = BodyText(required=True)


class NewUser(BodySchema):
    email = BodyText(required=True)
    password = BodyText(allow_none=True)
    displayName = BodyText(allow_none=True)
    organisationId = Id(allow_none=True)
    isAdmin = Flag(allow_none=True)


class NewOrganisation(BodySchema):
    code = BodyText(required=True)
    name = BodyText(allow_none=True)


class NewProject(BodySchema):
    """pyodk and Central scripts send only ``{"name"}``: the organisation is then the caller's own."""

    name = BodyText(required=True)
    description = BodyText(allow_none=True, max_length=MAX_COMMENT)
    countries = Texts(allow_none=True, max_items=300, max_length=100)
    organisationId = Id(allow_none=True)


class ProjectChanges(_Listed):
    name = BodyText()
    description = BodyText(max_length=MAX_COMMENT)
    countries = Texts(max_items=300, max_length=100)
    indicatorsIncludeReceived = Flag()
    archived = Flag()


class Partner(BodySchema):
    organisationId = Id(required=True)
    shareClass = BodyText(max_length=32)  # classification.check_share refuses a class below the data's


class NewAppUser(BodySchema):
    displayName = BodyText(required=True)
    forms = Texts(allow_none=True, max_items=10_000)
    attributes = Object(allow_none=True)  # app_users.clean_attributes checks names and values


class AppUserChanges(BodySchema):
    attributes = Object(required=True)  # app_users.clean_attributes checks names and values


class NewProjectKey(BodySchema):
    passphrase = BodyText(required=True)
    hint = BodyText(allow_none=True)
    privateKeyPem = BodyText(allow_none=True, max_length=MAX_PEM)


class Decryption(BodySchema):
    privateKey = BodyText(allow_none=True, max_length=MAX_PEM)
    passphrase = BodyText(allow_none=True)


class SensitiveGrant(_Listed):
    maySeeSensitive = Flag(required=True)


class NewHub(BodySchema):
    name = BodyText(required=True)
    shareClass = BodyText(max_length=32)  # classification.check_share refuses a class below the data's


class QualitySettings(_Listed):
    minInterviewMinutes = Any_(allow_none=True)  # a number of minutes; the service checks its range
    duplicateKeyFields = Texts(allow_none=True)
    enabledFlags = Texts(allow_none=True)


class SubjectRequest(_Listed):
    instanceId = BodyText()
    identifier = BodyText()
    delete = Flag()
    purge = Flag()


def _listed(name: str, declared: dict[str, fields.Field]) -> type[BodySchema]:
    """A body of fields known only at import (the export options, the 5W columns) that takes only them."""
    return cast(type[BodySchema], _Listed.from_dict(declared, name=name))


_ENCRYPTION = {
    "passphrase": BodyText(allow_none=True),
    "privateKey": BodyText(allow_none=True, max_length=MAX_PEM),
}
# Export options are texts, booleans or lists in a body: the export's own parser reads what they mean.
_EXPORT_OPTIONS = {
    name: Any_(allow_none=True) for name in sorted(EXPORT_OPTIONS | {"shareClass", "riskCheck"})
}

# A synchronous export's options posted as a body (the query string's names), with a passphrase or a
# private key held for this request only.
ExportOptions = _listed("ExportOptions", {**_ENCRYPTION, **_EXPORT_OPTIONS})
# The same for an export run in the background, with its format.
ExportRequest = _listed(
    "ExportRequest", {"format": BodyText(max_length=20), **_ENCRYPTION, **_EXPORT_OPTIONS}
)


class NewWebhook(BodySchema):
    url = BodyText(required=True, max_length=MAX_URL)
    secret = BodyText(allow_none=True)
    events = Texts(allow_none=True, max_items=100)


class FormChanges(_Listed):
    state = BodyText(max_length=20)
    retentionDays = Count(allow_none=True, maximum=36_500)
    identifierField = BodyText(allow_none=True)
    sensitivity = BodyText(allow_none=True, max_length=40)
    fieldClasses = Object(allow_none=True)
    indicatorClass = BodyText(allow_none=True, max_length=40)
    quasiIdentifiers = Any_(allow_none=True)  # field paths, or objects with a path; the service reads them
    riskK = Any_(allow_none=True)
    riskThreshold = Any_(allow_none=True)


class Review(_Listed):
    reviewState = BodyText(required=True, max_length=40)
    comment = BodyText(allow_none=True, max_length=MAX_COMMENT)


class Comment(BodySchema):
    body = BodyText(required=True, max_length=MAX_COMMENT)


class MappingDocument(BodySchema):
    """An indicator mapping: the document itself, or ``{"document": ...}``. What ``document`` holds is
    read by the one mapping reader (``indicator_mappings.read_document``), which the admin uses too, so
    both refuse a bad one with the same message."""

    class Meta:
        unknown = "include"

    document = fields.Raw(allow_none=True)


class ActivityRows(BodySchema):
    """5W rows: ``{"rows": [...]}`` or the bare array."""

    bare_list = "rows"
    rows = fields.List(Object(), required=True)


# The cells of a held 5W row to change (the 5W column names).
ActivityChanges = _listed(
    "ActivityChanges", {name: Any_(allow_none=True) for name in sorted(columns.BY_NAME)}
)


class Acceptance(BodySchema):
    reason = BodyText(required=True, max_length=MAX_COMMENT)


class NewDataset(BodySchema):
    name = BodyText(required=True)
    approvalRequired = Flag(allow_none=True)
    ownerOnly = Flag(allow_none=True)


class DatasetChanges(BodySchema):
    approvalRequired = Flag(allow_none=True)
    ownerOnly = Flag(allow_none=True)
    matchAttributes = Texts(allow_none=True)  # entity_lists.set_match_attributes checks the names


class NewProperty(BodySchema):
    name = BodyText(required=True)


class EntityData(BodySchema):
    label = BodyText(allow_none=True)
    data = fields.Dict(keys=BodyText(), values=Any_(allow_none=True))
    uuid = BodyText(allow_none=True, max_length=100)


class NewEntities(EntityData):
    """One entity, or pyodk's ``create_many``: ``{"entities": [...], "source": {...}}``."""

    entities = fields.List(fields.Nested(EntityData))
    source = Object(allow_none=True)
