"""Query arguments read through marshmallow schemas, so junk is a 400 that names the argument, never a
500 from ``int("abc")`` or from a number the database cannot hold.

Views declare what they read as a schema and call :func:`parse`; unknown arguments are ignored (clients
add their own, such as cache busters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from flask import current_app, request
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields

from app.errors import InvalidJSONError, InvalidValueError, MissingFieldError

# The largest value an INTEGER column (every id) holds on PostgreSQL; SQLite would take more, so the
# limit is applied here for both.
MAX_DB_INT = 2**31 - 1


class Count(fields.Integer):
    """A whole number from 0 to ``MAX_DB_INT``, written with ASCII digits only: Python's ``int()``
    would accept "²"-like digits, spaces, signs and underscores that no client means."""

    def __init__(self, *, minimum: int = 0, maximum: int = MAX_DB_INT, **kwargs: Any) -> None:
        super().__init__(strict=False, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        text = str(value)
        if not (text.isascii() and text.isdigit()):
            raise ValidationError(f"must be a whole number from {self.minimum} to {self.maximum}.")
        number = int(text)
        if not self.minimum <= number <= self.maximum:
            raise ValidationError(f"must be a whole number from {self.minimum} to {self.maximum}.")
        return number


class Text(fields.String):
    """Free text from the query string, bounded (a NUL never gets here: ``app/web/guards.py``)."""

    def __init__(self, *, max_length: int = 1000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs))
        if len(text) > self.max_length:
            raise ValidationError(f"must be at most {self.max_length} characters.")
        return text


class QuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE


def parse(schema: Schema, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``args`` (default: this request's query string) loaded by ``schema``; empty values count as
    absent. Junk is an :class:`InvalidValueError` naming each argument and what it must be."""
    source = request.args if args is None else args
    present = {k: v for k, v in source.items() if v not in (None, "")}
    try:
        return dict(schema.load(present))
    except ValidationError as err:
        messages = err.normalized_messages()
        problems = "; ".join(
            f"{name} {' '.join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))}"
            for name, msgs in messages.items()
        )
        raise InvalidValueError(
            f"The query string is not valid: {problems}", details={"arguments": messages}
        ) from err


# JSON request bodies: the same approach as query arguments. A view declares the schema of its body with
# ``@accepts(Schema)`` (the OpenAPI document reads the declaration) and loads it with :func:`load_body` where
# it reads it, so the checks of who may ask still come before what was sent.

MAX_TEXT = 1000  # a name, label, comment or passphrase; longer fields say their own limit


class BodyText(fields.String):
    """A JSON string of bounded length without NUL (PostgreSQL's text cannot hold one; SQLite's would)."""

    def __init__(self, *, max_length: int = MAX_TEXT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str):  # fields.String would turn bytes into text; JSON has none
            raise ValidationError("must be a text (JSON string).")
        if len(value) > self.max_length:
            raise ValidationError(f"must be at most {self.max_length} characters.")
        if "\x00" in value:
            raise ValidationError("must not contain a NUL character.")
        if self.required and value == "":  # an empty text is no answer to a required field
            raise ValidationError(REQUIRED)
        return value


class Flag(fields.Boolean):
    """JSON ``true`` or ``false`` only: marshmallow's Boolean would take "no" or 0 as false."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("must be true or false.")
        return value


class Id(Count):
    """A row id in a JSON body: a JSON number (digits in a text are a different value in JSON)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(minimum=1, **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"must be a whole number (JSON) from {self.minimum} to {self.maximum}.")
        return super()._deserialize(value, attr, data, **kwargs)


class Texts(fields.List):
    """A JSON array of bounded texts."""

    def __init__(self, *, max_items: int = 1000, max_length: int = MAX_TEXT, **kwargs: Any) -> None:
        super().__init__(BodyText(max_length=max_length), **kwargs)
        self.max_items = max_items

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Any:
        if isinstance(value, list) and len(value) > self.max_items:
            raise ValidationError(f"must have at most {self.max_items} items.")
        return super()._deserialize(value, attr, data, **kwargs)


class Object(fields.Dict):
    """A JSON object whose inside a service checks (a mapping document, classes by field)."""


class BodySchema(Schema):
    """A JSON body. Unknown fields are ignored, as Central does (clients send what they send to Central);
    bodies that refuse them say ``unknown = RAISE``. ``bare_list``: a body that may also be sent as a bare
    JSON array, which is loaded as this field."""

    bare_list: str | None = None

    class Meta:
        unknown = EXCLUDE


def accepts(schema: type[BodySchema]) -> Any:
    """Declare the JSON body a view reads (``load_body()`` loads it; the OpenAPI document describes it)."""

    def mark(view: Any) -> Any:
        view.body_schema = schema
        return view

    return mark


def returns(schema: type[Schema], *, many: bool = False) -> Any:
    """Declare the JSON a view answers with (a list of them: ``many``) for the OpenAPI document; the
    view makes it with that schema (``app/web/api/serialise.py``)."""

    def mark(view: Any) -> Any:
        view.response_schema = (schema, many)
        return view

    return mark


def load_body() -> dict[str, Any]:
    """This request's JSON body loaded by its view's declared schema: a 400 naming each field that is
    wrong (400.3 when only required fields are missing), or 400.2 when the body is not a JSON object."""
    view = current_app.view_functions[str(request.endpoint)]
    schema_class: type[BodySchema] = cast(Any, view).body_schema
    try:
        data = request.get_json(silent=True, force=True)
    except RecursionError:  # nested past the decoder's limit: no body any endpoint takes
        data = None
    if isinstance(data, list) and schema_class.bare_list:
        data = {schema_class.bare_list: data}
    if not isinstance(data, dict):
        raise InvalidJSONError(
            "The request body must be a JSON object"
            + (f" (or a JSON array of {schema_class.bare_list})." if schema_class.bare_list else ".")
        )
    try:
        return dict(schema_class().load(data))
    except ValidationError as err:
        # A misspelt (unknown) field's name is the client's text: bounded before it is echoed.
        messages = {str(name)[:100]: msgs for name, msgs in err.normalized_messages().items()}
        problems = "; ".join(f"{name} {_flat(msgs)}" for name, msgs in messages.items())
        first = sorted(messages)[0]
        details = {"field": first, "fields": messages}
        if all(_flat(m) == REQUIRED for m in messages.values()):
            raise MissingFieldError(f"The request body is missing: {problems}", details=details) from err
        raise InvalidValueError(f"The request body is not valid: {problems}", details=details) from err
    except RecursionError as err:  # a deep value in a free-form field
        raise InvalidJSONError("The request body is nested too deeply.") from err


REQUIRED = "is required."
# marshmallow's wording, rephrased to follow the field's name ("name is required.")
_REPHRASED = {
    "Missing data for required field.": REQUIRED,
    "Unknown field.": "is not a field of this request.",
    "Field may not be null.": "must not be null.",
    "Not a valid list.": "must be a list.",
    "Not a valid mapping type.": "must be a JSON object.",
    "Not a valid string.": "must be a text (JSON string).",
    "Invalid input type.": "must be a JSON object.",
    "Invalid type.": "must be a JSON object.",
}


def _flat(messages: Any) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{k} {_flat(v)}" for k, v in messages.items())
    if isinstance(messages, list):
        return " ".join(_flat(m) for m in messages)
    return _REPHRASED.get(str(messages), str(messages))


def json_schema(schema_class: type[Schema], components: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema (OpenAPI 3.1) of a body or response schema, registered in ``components`` by its
    name; the reference to it is returned. The document is made from the classes that load the bodies
    and make the responses. Every field of a response is always present."""
    name = schema_class.__name__
    if name not in components:
        components[name] = {}  # registered first: a schema may nest itself
        schema = schema_class()
        body = isinstance(schema, BodySchema)
        properties = {key: _field_schema(field, components) for key, field in schema.fields.items()}
        out: dict[str, Any] = {"type": "object", "properties": properties}
        if schema_class.__doc__ and schema_class.__doc__ not in (BodySchema.__doc__, Schema.__doc__):
            out["description"] = " ".join(schema_class.__doc__.split())
        required = sorted(key for key, field in schema.fields.items() if field.required or not body)
        if required:
            out["required"] = required
        out["additionalProperties"] = schema.unknown != RAISE if body else True
        components[name] = out
    return {"$ref": f"#/components/schemas/{name}"}


def _field_schema(field: fields.Field, components: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any]
    if isinstance(field, fields.Constant):
        return {"const": field.constant}
    if isinstance(field, fields.Nested):
        nested = field.nested
        assert isinstance(nested, type) and issubclass(nested, Schema)
        out = json_schema(nested, components)
    elif isinstance(field, fields.List):
        out = {"type": "array", "items": _field_schema(field.inner, components)}
        if isinstance(field, Texts):
            out["maxItems"] = field.max_items
    elif isinstance(field, fields.Dict):
        out = {"type": "object"}
    elif isinstance(field, BodyText | Text):
        out = {"type": "string", "maxLength": field.max_length}
    elif isinstance(field, Count):
        out = {"type": "integer", "minimum": field.minimum, "maximum": field.maximum}
    elif isinstance(field, fields.Integer):
        out = {"type": "integer"}
    elif isinstance(field, fields.String):
        out = {"type": "string"}
    elif isinstance(field, fields.Boolean):
        out = {"type": "boolean"}
    elif getattr(field, "json_schema", None) is not None:  # a field that says its own (a timestamp)
        out = dict(field.json_schema)  # type: ignore[attr-defined]
    else:  # Raw: any JSON value, read by the service
        return {}
    if field.allow_none and "type" in out:
        out["type"] = [out["type"], "null"]
    elif field.allow_none:
        out = {"anyOf": [out, {"type": "null"}]}
    return out
