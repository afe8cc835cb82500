"""``$filter``: a small tokenizer and recursive-descent parser for the part of OData's expression
language ODK Central supports (comparisons ``eq ne lt le gt ge``, ``and or not``, parentheses, the
functions ``year month day hour minute second now``) into a tree the service turns into a bound SQL
expression. Nothing here builds SQL text: literals stay Python values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
FUNCTIONS = ("year", "month", "day", "hour", "minute", "second", "now")


class FilterSyntaxError(ValueError):
    """The expression is not valid OData; ``position`` is the 0-based character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


class FilterUnsupportedError(ValueError):
    """Valid OData, but a feature Ruta (like Central) does not offer."""


@dataclass(frozen=True)
class Member:
    path: str  # e.g. "__system/submissionDate"
    position: int


@dataclass(frozen=True)
class Literal:
    value: Any  # str, int, float, bool, None, date or aware datetime


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    operand: Expr


Expr = Member | Literal | Call | Compare | BoolOp | Not

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<member>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FilterSyntaxError(f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


def _datetime(text: str, pos: int) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise FilterSyntaxError(f"{text} is not a valid date and time", pos) from err
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def keyword(self, *words: str) -> str | None:
        if self.tok.kind == "member" and self.tok.text in words:
            word = self.tok.text
            self.i += 1
            return word
        return None

    def expect(self, kind: str, what: str) -> _Tok:
        if self.tok.kind != kind:
            raise FilterSyntaxError(f"expected {what}, found {self.tok.text or 'the end'}", self.tok.pos)
        tok = self.tok
        self.i += 1
        return tok

    def parse(self) -> Expr:
        expr = self.or_expr()
        if self.tok.kind != "end":
            raise FilterSyntaxError(f"unexpected {self.tok.text!r}", self.tok.pos)
        return expr

    def or_expr(self) -> Expr:
        left = self.and_expr()
        while self.keyword("or"):
            left = BoolOp("or", left, self.and_expr())
        return left

    def and_expr(self) -> Expr:
        left = self.not_expr()
        while self.keyword("and"):
            left = BoolOp("and", left, self.not_expr())
        return left

    def not_expr(self) -> Expr:
        if self.keyword("not"):
            return Not(self.not_expr())
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.operand()
        op = self.keyword(*COMPARISONS)
        if op is not None:
            return Compare(op, left, self.operand())
        if self.tok.kind == "member" and self.tok.text in ("add", "sub", "mul", "div", "mod", "has", "in"):
            raise FilterUnsupportedError(f"the operator {self.tok.text!r} is not supported")
        return left

    def operand(self) -> Expr:
        tok = self.tok
        if tok.kind == "lparen":
            self.i += 1
            inner = self.or_expr()
            self.expect("rparen", "')'")
            return inner
        self.i += 1
        if tok.kind == "string":
            return Literal(tok.text[1:-1].replace("''", "'"))
        if tok.kind == "datetime":
            return Literal(_datetime(tok.text, tok.pos))
        if tok.kind == "date":
            try:
                return Literal(date.fromisoformat(tok.text))
            except ValueError as err:
                raise FilterSyntaxError(f"{tok.text} is not a valid date", tok.pos) from err
        if tok.kind == "number":
            return Literal(float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text))
        if tok.kind == "member":
            words = {"true": True, "false": False, "null": None}
            if tok.text in words:
                return Literal(words[tok.text])
            if self.tok.kind == "lparen":
                return self.call(tok)
            return Member(tok.text, tok.pos)
        self.i -= 1
        raise FilterSyntaxError(f"expected a value, found {tok.text or 'the end'}", tok.pos)

    def call(self, name: _Tok) -> Expr:
        if name.text not in FUNCTIONS:
            raise FilterUnsupportedError(f"the function {name.text}() is not supported")
        self.expect("lparen", "'('")
        args: list[Expr] = []
        if self.tok.kind != "rparen":
            args.append(self.or_expr())
            while self.tok.kind == "comma":
                self.i += 1
                args.append(self.or_expr())
        self.expect("rparen", "')'")
        expected = 0 if name.text == "now" else 1
        if len(args) != expected:
            raise FilterSyntaxError(f"{name.text}() takes {expected} argument(s)", name.pos)
        return Call(name.text, tuple(args))


def parse_filter(text: str) -> Expr:
    """Parse ``text``; raises :class:`FilterSyntaxError` or :class:`FilterUnsupportedError`."""
    if not text.strip():
        raise FilterSyntaxError("the expression is empty", 0)
    return _Parser(text).parse()


def as_datetime(value: Any) -> datetime | None:
    """A literal compared with a timestamp: dates are midnight UTC, naive times are UTC, strings parse
    as ISO 8601 (what a spreadsheet user types in quotes)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, str):
        try:
            return as_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None
