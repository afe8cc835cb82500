"""Small-cell suppression: hand-worked tables, the dimension cap, and properties of random tables."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.indicators.suppression import (
    K_SENSITIVE,
    MIN_DENOMINATOR_SENSITIVE,
    PRIMARY,
    SECONDARY,
    SENSITIVE_BASE,
    TOTAL,
    Cell,
    DimensionError,
    K,
    SuppressedTable,
    Table,
    check_dimensions,
    display_value,
    relations,
    suppress,
)


def pct(key: tuple[str, ...], numerator: float, denominator: float, sensitive: bool = False) -> Cell:
    return Cell(key, numerator, denominator, int(denominator), sensitive)


def reasons(result: SuppressedTable) -> dict[tuple[str, ...], str | None]:
    return {key: o.reason for key, o in result.outcomes.items()}


def test_one_small_cell_takes_the_smallest_sibling_with_it() -> None:
    table = Table(
        ("sex",),
        (pct(("f",), 6, 12), pct(("m",), 3, 3), pct(("x",), 10, 20), pct((TOTAL,), 19, 35)),
    )
    assert reasons(suppress(table)) == {("f",): SECONDARY, ("m",): PRIMARY, ("x",): None, (TOTAL,): None}


def test_small_numerator_alone_suppresses_the_cell() -> None:
    result = suppress(Table(("d",), (pct(("a",), 3, 100), pct(("b",), 50, 100))))
    assert reasons(result) == {("a",): PRIMARY, ("b",): None}  # no published total: nothing to protect


def test_zero_counts_are_below_k_too() -> None:
    assert suppress(Table(("d",), (pct(("a",), 0, 40),))).outcomes[("a",)].reason == PRIMARY


def test_sensitive_cells_need_k10_and_a_base_of_30() -> None:
    table = Table(
        ("adm1",),
        (pct(("A",), 12, 25, True), pct(("B",), 9, 40, True), pct(("C",), 12, 40, True), pct(("D",), 12, 40)),
    )
    assert reasons(suppress(table)) == {("A",): SENSITIVE_BASE, ("B",): PRIMARY, ("C",): None, ("D",): None}


def test_a_suppressed_interior_cell_is_protected_in_both_directions() -> None:
    counts = {("a", "x"): 2, ("a", "y"): 20, ("b", "x"): 30, ("b", "y"): 40}
    table = count_table(counts)
    hidden = {key for key, o in suppress(table).outcomes.items() if o.suppressed}
    assert hidden == {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")}  # the classic rectangle


def test_a_total_with_a_single_child_goes_with_it() -> None:
    table = Table(("d",), (Cell(("a",), 3, None, 3), Cell((TOTAL,), 3, None, 3)))
    assert reasons(suppress(table)) == {("a",): PRIMARY, (TOTAL,): PRIMARY}
    table = Table(("d", "e"), (Cell(("a", "x"), 3, None, 3), Cell(("a", TOTAL), 9, None, 9)))
    assert reasons(suppress(table)) == {("a", "x"): PRIMARY, ("a", TOTAL): SECONDARY}


def test_published_percentages_are_exact_and_display_rounds() -> None:
    result = suppress(Table(("d",), (pct(("a",), 1, 3), pct(("b",), 10, 30), pct(("c",), 7, 70))))
    outcome = result.outcomes[("c",)]
    assert outcome.value == 7 / 70
    assert display_value(outcome) == "10.0%"
    assert display_value(result.outcomes[("a",)]) == ""
    assert result.outcomes[("a",)].numerator is None and result.outcomes[("a",)].n is None
    small = suppress(Table(("d",), (pct(("a",), 7, 20),))).outcomes[("a",)]
    assert small.small_base and display_value(small) == "30-40%"
    count = suppress(Table(("d",), (Cell(("a",), 12, None, 12),))).outcomes[("a",)]
    assert (count.value, display_value(count)) == (12, "12")


def test_dimension_cap_for_public_outputs() -> None:
    assert check_dimensions(["location.adm1_pcode", "respondent.sex_gender", "respondent.age_band"]) == (
        "sex",
        "age_band",
    )
    assert check_dimensions(
        ["location.site_code", "location.adm2_pcode", "respondent.sex_gender", "age_band"]
    ) == (
        "site/adm2",
        "sex",
        "age_band",
    )
    four = ["location.adm2_pcode", "respondent.nationality_iso3", "respondent.sex_gender", "members.age_band"]
    with pytest.raises(DimensionError, match="at most 3"):
        check_dimensions(four)
    assert len(check_dimensions([*four, "context.disability_wg_any"], public=False)) == 5
    with pytest.raises(DimensionError, match="admin 1"):
        check_dimensions(["location.site_code"], sensitive=True)


def test_table_keys_must_match_dimensions() -> None:
    with pytest.raises(ValueError, match="one key value per dimension"):
        Table(("a", "b"), (Cell(("x",), 1),))
    with pytest.raises(ValueError, match="unique"):
        Table(("a",), (Cell(("x",), 1), Cell(("x",), 2)))


# ------------------------------------------------------------------------------------ properties


def count_table(interior: dict[tuple[str, ...], int], sensitive: bool = False) -> Table:
    """Interior counts plus every margin (TOTAL in any subset of dimensions), as numerator = n."""
    return pct_table({k: (v, v) for k, v in interior.items()}, sensitive)


def pct_table(interior: dict[tuple[str, ...], tuple[int, int]], sensitive: bool = False) -> Table:
    dims = len(next(iter(interior)))
    sums: dict[tuple[str, ...], list[int]] = {}
    for key, (numerator, denominator) in interior.items():
        for mask in itertools.product((False, True), repeat=dims):
            margin = tuple(TOTAL if m else v for m, v in zip(mask, key, strict=True))
            acc = sums.setdefault(margin, [0, 0])
            acc[0] += numerator
            acc[1] += denominator
    cells = tuple(Cell(k, float(n), float(d), d, sensitive) for k, (n, d) in sorted(sums.items()))
    return Table(tuple(f"d{i}" for i in range(dims)), cells)


# Many small counts (the interesting case) and some large ones.
counts = st.one_of(st.integers(0, 12), st.integers(0, 60))


@st.composite
def tables(draw: st.DrawFn) -> Table:
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    keys = list(itertools.product(*[[f"v{i}" for i in range(size)] for size in sizes]))
    interior = {}
    for key in keys:
        denominator = draw(counts)
        interior[key] = (draw(st.integers(0, denominator)), denominator)
    return pct_table(interior, sensitive=draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(tables())
def test_no_published_cell_is_small(table: Table) -> None:
    for outcome in suppress(table).published():
        cell = outcome.cell
        k = K_SENSITIVE if cell.sensitive else K
        assert cell.n >= k and (cell.numerator or 0) >= k and (cell.denominator or 0) >= k
        if cell.sensitive:
            assert (cell.denominator or 0) >= MIN_DENOMINATOR_SENSITIVE


@settings(max_examples=300, deadline=None)
@given(tables())
def test_no_suppressed_cell_can_be_recovered_by_subtraction(table: Table) -> None:
    result = suppress(table)
    for total, children in relations(table):
        hidden = [c for c in children if result.outcomes[c].suppressed]
        if not result.outcomes[total].suppressed:
            # a published total with exactly one hidden child gives it away (counts and numerators alike)
            assert len(hidden) != 1
        else:
            # a hidden total with every child published is their sum
            assert hidden


@settings(max_examples=300, deadline=None)
@given(tables())
def test_published_percentages_equal_numerator_over_denominator(table: Table) -> None:
    for outcome in suppress(table).published():
        assert outcome.value == outcome.cell.numerator / outcome.cell.denominator  # type: ignore[operator]
        assert outcome.numerator == outcome.cell.numerator


@settings(max_examples=100, deadline=None)
@given(tables())
def test_suppression_is_deterministic_and_keeps_primary_cells(table: Table) -> None:
    first, second = suppress(table), suppress(table)
    assert reasons(first) == reasons(second)
    for key, reason in reasons(first).items():
        if reason in {PRIMARY, SENSITIVE_BASE}:
            assert first.outcomes[key].value is None
