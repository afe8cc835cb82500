"""Edit chains: the current version is decided by deprecatedID links, whatever the arrival order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.chain import Fork, Version, group_chains, resolve_chain


def v(instance_id: str, deprecated_id: str | None = None, order: int = 0) -> Version:
    return Version(instance_id, deprecated_id, order)


def test_a_single_version_is_its_own_root_and_tip() -> None:
    r = resolve_chain([v("a")])
    assert (r.root_id, r.current_id, r.missing_ids, r.forks, r.lineage) == ("a", "a", (), (), ("a",))


def test_linear_edits() -> None:
    r = resolve_chain([v("a", None, 1), v("b", "a", 2), v("c", "b", 3)])
    assert (r.root_id, r.current_id, r.lineage) == ("a", "c", ("a", "b", "c"))


def test_an_edit_arriving_before_the_version_it_replaces() -> None:
    # c (edit of b) arrived first, then the original a, then b: c is still current.
    r = resolve_chain([v("c", "b", 1), v("a", None, 2), v("b", "a", 3)])
    assert (r.root_id, r.current_id) == ("a", "c")
    assert r.missing_ids == ()


def test_an_edit_whose_original_has_not_arrived() -> None:
    r = resolve_chain([v("b", "a", 1)])
    assert (r.root_id, r.current_id, r.missing_ids, r.lineage) == ("a", "b", ("a",), ("a", "b"))


def test_a_fork_picks_the_longest_branch_not_the_latest_arrival() -> None:
    versions = [v("a", None, 1), v("x", "a", 2), v("y", "x", 3), v("b", "a", 4)]
    r = resolve_chain(versions)
    assert r.current_id == "y"
    assert r.forks == (Fork("a", ("b", "x")),)


def test_a_fork_of_equal_length_is_broken_by_instance_id() -> None:
    r = resolve_chain([v("a", None, 1), v("uuid:zz", "a", 2), v("uuid:bb", "a", 3)])
    assert r.current_id == "uuid:bb"
    r2 = resolve_chain([v("a", None, 9), v("uuid:zz", "a", 1), v("uuid:bb", "a", 5)])
    assert r2.current_id == "uuid:bb"


def test_identical_duplicates_are_one_version_conflicting_ones_an_error() -> None:
    assert resolve_chain([v("a"), v("a"), v("b", "a"), v("b", "a", 5)]).current_id == "b"
    with pytest.raises(ValueError, match="different deprecatedIDs"):
        resolve_chain([v("b", "a"), v("b", "c")])


def test_unrelated_records_are_refused() -> None:
    with pytest.raises(ValueError, match="more than one record"):
        resolve_chain([v("a"), v("b")])
    with pytest.raises(ValueError, match="no versions"):
        resolve_chain([])


def test_cycles_terminate_and_are_reported() -> None:
    r = resolve_chain([v("a", "b"), v("b", "a")])
    assert r.cycle == ("a", "b")
    assert (r.root_id, r.current_id) == ("a", "b")
    self_loop = resolve_chain([v("a", "a")])
    assert (self_loop.root_id, self_loop.current_id, self_loop.cycle) == ("a", "a", ("a",))


def test_group_chains_joins_records_through_missing_links() -> None:
    versions = [v("a"), v("c", "b"), v("x"), v("y", "x"), v("b", "a")]
    assert group_chains(versions) == [{"a", "b", "c"}, {"x", "y"}]
    assert group_chains([v("c", "b")]) == [{"b", "c"}]


@st.composite
def chains(draw: st.DrawFn) -> list[Version]:
    """One record's versions: a random tree of edits, with some versions not (yet) arrived."""
    n = draw(st.integers(min_value=1, max_value=12))
    ids = [f"uuid:{i:02d}-{draw(st.sampled_from('abc'))}" for i in range(n)]
    versions = [Version(ids[0], None, 0)]
    for i in range(1, n):
        versions.append(Version(ids[i], ids[draw(st.integers(0, i - 1))], i))
    # Drop versions that have not arrived, but keep the record connected: only the root may go, and
    # only when something refers to it.
    if n > 1 and draw(st.booleans()):
        versions = versions[1:]
    return versions


# No example database: the property is cheap to re-explore, and the repository stays clean.
@settings(database=None)
@given(chains(), st.data())
def test_resolution_is_the_same_for_every_arrival_order(versions: list[Version], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(versions))
    # Arrival order is also what received_order records: renumber it to match the shuffle.
    renumbered = [Version(x.instance_id, x.deprecated_id, i) for i, x in enumerate(shuffled)]
    assert resolve_chain(renumbered) == resolve_chain(versions)
    assert group_chains(renumbered) == group_chains(versions)


@settings(database=None)
@given(chains())
def test_the_current_version_is_a_present_tip_at_maximum_depth(versions: list[Version]) -> None:
    r = resolve_chain(versions)
    present = {x.instance_id for x in versions}
    replaced = {x.deprecated_id for x in versions}
    assert r.current_id in present and r.current_id not in replaced
    assert r.lineage[0] == r.root_id and r.lineage[-1] == r.current_id
    assert len(r.missing_ids) <= 1
    assert r.cycle == ()
    parent = {x.instance_id: x.deprecated_id for x in versions}

    def depth(node: str) -> int:
        steps = 0
        while parent.get(node) is not None:
            node = parent[node]  # type: ignore[assignment]
            steps += 1
        return steps

    tips = present - replaced
    assert depth(r.current_id) == len(r.lineage) - 1 == max(depth(t) for t in tips)
    assert r.current_id == min(t for t in tips if depth(t) == depth(r.current_id))


def test_conflicting_edits_are_the_later_edits_of_one_version() -> None:
    from sync.chain import Conflict, conflicting_edits

    versions = [
        v("uuid:a", None, 1),
        v("uuid:b", "uuid:a", 3),  # arrived second: the conflict, although its id sorts first
        v("uuid:c", "uuid:a", 2),
        v("uuid:d", "uuid:c", 4),  # an edit of an edit: no conflict
    ]
    assert conflicting_edits(versions) == (Conflict("uuid:b", "uuid:a", "uuid:c"),)
    assert conflicting_edits(list(reversed(versions))) == (Conflict("uuid:b", "uuid:a", "uuid:c"),)
    assert conflicting_edits([versions[0], versions[2], versions[3]]) == ()
