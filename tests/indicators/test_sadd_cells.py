"""Whose persons make up a record's sex x age-band grid (issue 16 item 6), on hand-built records."""

from __future__ import annotations

from app.indicators.facts import StoredRecord, sadd_cells
from app.indicators.mapping.document import CountRule


def test_counts_win_over_the_roster() -> None:
    item = StoredRecord({"respondent.sex_gender": "f"}, [{"sex_gender": "m", "age_band": "18_59"}], True)
    counts = [
        (CountRule("a", "f", "0_4"), 2),
        (CountRule("b", "m", None), 3),
        (CountRule("c", "x", "5_11"), None),
    ]
    assert sadd_cells(item, counts) == {("f", "0_4"): 2, ("m", "unknown"): 3}


def test_the_roster_lists_everyone() -> None:
    persons = [
        {"sex_gender": "f", "age_band": "18_59"},
        {"sex_gender": "f", "age_band": "0_4"},
        {"sex_gender": None},
    ]
    item = StoredRecord({"respondent.sex_gender": "m", "context.group_size": 9}, persons, True)
    assert sadd_cells(item, []) == {("f", "18_59"): 1, ("f", "0_4"): 1, ("u", "unknown"): 1}


def test_without_roster_the_respondent_and_the_rest_of_the_group_unknown() -> None:
    record = {"respondent.sex_gender": "m", "respondent.age_band": "60_plus", "context.group_size": 4}
    assert sadd_cells(StoredRecord(record, [], False), []) == {("m", "60_plus"): 1, ("u", "unknown"): 3}
    alone = {"respondent.sex_gender": "x", "respondent.age_band": "bogus"}
    assert sadd_cells(StoredRecord(alone, [], False), []) == {("x", "unknown"): 1}
