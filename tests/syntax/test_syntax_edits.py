"""tl_core.syntax.edits.EditLog: offsets mapped between a snapshot's text and the newest
text through the edits made since, checked against an oracle that tracks where each code
point of the newest text came from."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tl_core.syntax.edits import EditLog


@st.composite
def edited(draw):
    text = draw(st.text(alphabet="ab\n", min_size=0, max_size=40))
    origin: list[int | None] = list(range(len(text)))  # where each code point came from
    log = EditLog()
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(0, len(origin)))
        end = draw(st.integers(start, len(origin)))
        new = draw(st.integers(0, 4))
        origin[start:end] = [None] * new
        log.add(start, end, new)
    return text, origin, log


@given(edited())
def test_offsets_map_only_to_where_they_came_from(case):
    text, origin, log = case
    for offset, came_from in enumerate(origin):
        old = log.old_range(offset, offset)
        assert old is None or old == came_from
        if came_from is not None:
            new = log.to_new(came_from)
            assert new is None or new == offset
    for start in range(len(origin)):
        for end in range(start, len(origin)):
            old = log.old_range(start, end)
            if old is not None:  # every code point of the stretch stands unchanged
                assert origin[start:end + 1] == list(range(old, old + end - start + 1))


@given(edited())
def test_without_edits_every_offset_is_itself(case):
    text, _, _ = case
    log = EditLog()
    assert [log.old_range(i, i) for i in range(len(text) + 1)] == list(range(len(text) + 1))
    assert log.old_range(0, len(text)) == 0


def test_an_edit_before_shifts_and_one_on_the_stretch_hides_it():
    log = EditLog()
    log.add(2, 3, 5)  # "ab" + 5 code points replacing one + the rest: +4
    assert log.old_range(20, 20) == 16 and log.to_new(16) == 20
    assert log.old_range(1, 1) == 1 and log.old_range(4, 4) is None
    assert log.old_range(10, 12) == 6
    assert log.old_range(0, 2) is None  # touches the edit's start
