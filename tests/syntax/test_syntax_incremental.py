"""The incremental parser re-parses only what changed and always equals a full parse."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tl_core.syntax import IncrementalParser, incremental, parse
from tl_core.syntax.incremental import STALE_MAX

from .test_syntax_properties import EXAMPLES, PIECES

PROGRAM = """fn a(x: float16[N]) -> float16[N] {
    let y = x * 2.0
    return y
}

fn b(x: float16[N]) -> float16[N] {
    return a(x) + 1.0
}

let v = ones([3])
print(b(v))
"""


def test_edit_inside_fn_reparses_one_chunk() -> None:
    inc = IncrementalParser()
    inc.parse(PROGRAM)
    edited = PROGRAM.replace("x * 2.0", "x * 3.0")
    result = inc.parse(edited)
    assert inc.reparsed == 1
    assert result == parse(edited)


def test_an_edit_in_a_long_file_resplits_only_around_it() -> None:
    """The chunks re-split after an edit are those from the one before the edit to where a
    boundary lines up with an old one again, not the rest of the file."""
    inc = IncrementalParser()
    text = PROGRAM.replace("fn a", "fn a0").replace("fn b", "fn b0") * 200  # 800 chunks
    inc.parse(text)
    assert inc.rescanned == 800
    at = len(text) // 2
    edited = text[:at] + "\n// note\n" + text[at:]
    assert inc.parse(edited) == parse(edited)
    assert 1 <= inc.rescanned <= 3 and inc.reparsed <= 2
    assert inc.parse(edited) is not None and inc.rescanned == 0


def test_unchanged_text_reparses_nothing() -> None:
    inc = IncrementalParser()
    first = inc.parse(PROGRAM)
    assert inc.parse(PROGRAM) == first
    assert inc.reparsed == 0


def test_lines_added_above_shift_later_items() -> None:
    inc = IncrementalParser()
    inc.parse(PROGRAM)
    edited = "// a new comment\n\n" + PROGRAM
    result = inc.parse(edited)
    assert result == parse(edited)
    assert inc.reparsed <= 1
    fn_b = result.program.items[1]
    assert (fn_b.span.line, fn_b.name_span.line) == (7, 7)


def test_error_message_positions_move_with_the_chunk() -> None:
    broken = "let z = 1\n\nfn f() {\n    g(1,\n}\n"
    inc = IncrementalParser()
    inc.parse(broken)
    edited = "let w = 0\n" + broken
    result = inc.parse(edited)
    assert result == parse(edited)
    assert [e.message for e in result.errors] == [
        "expected ')' to close the call started at 5:6, found '}'"]


def test_typing_a_program_character_by_character() -> None:
    inc = IncrementalParser()
    text = ""
    for ch in PROGRAM:
        text += ch
        assert inc.parse(text) == parse(text)


def test_deleting_a_program_from_the_top() -> None:
    inc = IncrementalParser()
    text = PROGRAM
    while text:
        text = text[3:]
        assert inc.parse(text) == parse(text)


big = "\n".join(EXAMPLES)
edit = st.tuples(st.floats(0, 1), st.integers(0, 40),
                 st.lists(st.sampled_from(PIECES), max_size=4).map("".join))


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(st.lists(edit, min_size=1, max_size=6))
def test_edit_sequences_on_a_large_file(edits) -> None:  # noqa: ANN001
    inc = IncrementalParser()
    text = big
    inc.parse(text)
    for where, cut, insert in edits:
        pos = int(where * len(text))
        text = text[:pos] + insert + text[pos + cut:]
        assert inc.parse(text) == parse(text)


def test_end_of_chunk_error_follows_the_next_word() -> None:
    # an unclosed call: at the end of the file "found end of file"; once a `fn` follows
    # at column 0 the same chunk says "found 'fn'"
    text = "let out = f(q, k\n"
    inc = IncrementalParser()
    first = inc.parse(text)
    assert first.errors[0].message.endswith("found end of file")
    edited = text + "fn"
    assert inc.parse(edited) == parse(edited)
    assert parse(edited).errors[0].message.endswith("found 'fn'")


BROKEN_FN = "fn f() {\n    g(1,\n}\n\n"


def test_the_same_item_twice_gets_two_trees_with_their_own_positions() -> None:
    text = "let a = 1\n\n" + BROKEN_FN * 3
    inc = IncrementalParser()
    result = inc.parse(text)
    assert inc.copied == 2  # parsed once, copied to the two other places
    assert result == parse(text)
    starts = [it.span.line for it in result.program.items]
    assert starts == [0, 2, 6, 10]
    assert [e.message for e in result.errors] == [
        f"expected ')' to close the call started at {line}:6, found '}}'" for line in (4, 8, 12)]
    edited = "// moved\n" + text
    again = inc.parse(edited)
    assert again == parse(edited)
    assert [it.span.line for it in again.program.items] == [1, 3, 7, 11]
    assert [e.message for e in again.errors] == [
        f"expected ')' to close the call started at {line}:6, found '}}'" for line in (5, 9, 13)]


def test_swapping_two_items_moves_their_trees_without_parsing() -> None:
    one = "fn one() -> int32 {\n    return 1\n}\n\n"
    two = "fn two() -> int32 {\n    return 2\n}\n\n"
    inc = IncrementalParser()
    inc.parse("let a = 1\n\n" + one + two + "let z = 2\n")
    swapped = "let a = 1\n\n" + two + one + "let z = 2\n"
    result = inc.parse(swapped)
    assert result == parse(swapped)
    assert (inc.reparsed, inc.copied) == (0, 0)
    assert [getattr(it, "name", None) for it in result.program.items][1:3] == ["two", "one"]


def test_a_tree_reads_the_positions_of_the_parsers_latest_text() -> None:
    # the contract of anchored spans (tl_core/syntax/span.py): the chunks after an edit
    # keep their trees, which now read the new positions
    inc = IncrementalParser()
    first = inc.parse(PROGRAM)
    last = first.program.items[-1]
    assert last.span.line == 10
    inc.parse("\n\n" + PROGRAM)
    assert last.span.line == 12
    # a full parse's trees never move
    fixed = parse(PROGRAM)
    inc.parse("\n" + PROGRAM)
    assert fixed.program.items[-1].span.line == 10


def test_undo_finds_the_previous_tree_without_parsing() -> None:
    inc = IncrementalParser()
    inc.parse(PROGRAM)
    edited = PROGRAM.replace("x * 2.0", "x * 2.5")
    inc.parse(edited)
    assert inc.reparsed == 1
    result = inc.parse(PROGRAM)  # undo
    assert (inc.reparsed, inc.copied) == (0, 0)
    assert result == parse(PROGRAM)


def test_typing_keeps_a_bounded_number_of_stale_chunk_parses() -> None:
    """Each keystroke parses the line being typed again; the parses no longer in the
    document stay for an undo, at most 2 * STALE_MAX of them, whatever the document's size
    (issue 18: they stayed until the cache held twice the document's chunks, ~2 MB per 400
    keystrokes on a 10,000-line file). The newest are kept: an undo still parses nothing."""
    inc = IncrementalParser()
    text = "".join(PROGRAM.replace("a(", f"a{i}(").replace("fn b", f"fn b{i}")
                   .replace("b(v", f"b{i}(v").replace("let v", f"let v{i}") for i in range(100))
    inc.parse(text)
    chunks = len(inc._entries)
    assert chunks == len(inc._by_text) == 400  # as many different chunks
    at = text.index("let v50")
    typed = "".join(f"let q{k} = softmax(v @ v, -1)\n" for k in range(16))  # ~500 keys
    for n in range(1, len(typed) + 1):
        before = text
        text = before[:at] + typed[n - 1] + before[at:]
        at += 1
        inc.parse(text)
        assert len(inc._by_text) <= len(inc._entries) + 2 * STALE_MAX, n
    assert len(inc._entries) > chunks
    assert inc.parse(before) == parse(before)  # undo the last keystroke
    assert (inc.reparsed, inc.copied) == (0, 0)


def test_an_edit_in_the_last_chunk_and_after_it() -> None:
    inc = IncrementalParser()
    for text in (PROGRAM, PROGRAM + "let w = 1", PROGRAM + "let w = 12\n", PROGRAM[:-1],
                 "", "fn", PROGRAM):
        assert inc.parse(text) == parse(text)


def test_a_tree_in_use_is_copied_not_moved_when_the_cache_holds_another_tuple_of_it() -> None:
    """The text cache may hold another tuple of a tree that the document uses (made when
    the chunk's next word changed); `in_use` compares the trees (anchors), not the tuples.
    Before, the `let n = 4` of line 2 was moved to the end of the file: its item read
    offset 338 where it stands at 18."""
    a, n = "let a = ones([2])\n", "let n = 4\n"
    rest = "a = zeros([5])\nfn f(y: float16[K]) -> float16[K] {\n    return y\n}\n"
    inc = IncrementalParser()
    for text in (a * 4 + n + rest + a * 13, a + n + a * 2 + n + rest + a * 12,
                 a + n + a * 2 + n + rest + a * 11 + n):
        assert inc.parse(text) == parse(text)


def test_a_message_quotes_where_its_tree_stands_after_the_cache_held_an_older_tuple() -> None:
    """A moved tree's message quotes its new place even when the tree comes back from the
    text cache, whose tuple of it still quoted an older one. Before, the last text said
    "started at 1:6" for the `(` at line 2 (hypothesis found it on a fresh Debian)."""
    a, p = "let a = ones([2])\n", "print(a\n"
    inc = IncrementalParser()
    for text in (p, a + p, p + a + p, a + p):
        assert inc.parse(text) == parse(text)
    line = 2
    assert [e.message for e in inc.parse(a + p).errors] == [
        f"expected ')' to close the call started at {line}:6, found end of file"]


LINES = ["let a = ones([2])", "let n = 4", "a = zeros([5])", "fn f(y: float16[K]) -> "
         "float16[K] {\n    return y\n}", "", "print(a", "n = n + 1"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(LINES), min_size=1, max_size=25),
       st.lists(st.tuples(st.integers(0, 30), st.integers(0, 2), st.sampled_from(LINES)),
                min_size=1, max_size=6))
def test_edit_sequences_of_repeated_lines(lines, edits) -> None:  # noqa: ANN001
    """Texts made of a few lines repeated (the same chunk text at many places), edited
    a line at a time: each parse equals a parse from scratch."""
    inc = IncrementalParser()
    inc.parse("\n".join(lines) + "\n")
    for at, how, line in edits:
        at = at % (len(lines) + 1)
        if how == 0:
            lines = lines[:at] + [line] + lines[at:]
        elif how == 1 and at < len(lines):
            lines = lines[:at] + lines[at + 1:]
        elif at < len(lines):
            lines = lines[:at] + [line] + lines[at + 1:]
        text = "\n".join(lines) + "\n"
        assert inc.parse(text) == parse(text)


def test_a_copy_of_a_moved_tree_quotes_its_own_place() -> None:
    """Found by test_edit_sequences_of_repeated_lines: `print(a` moved down 4 lines while
    the text cache kept its tuple from before, whose message quoted 2:6; typing `print(a`
    again at the top copied that tree (`_copy_entry`), and the copy said "started at 2:6"
    where a full parse says 1:6 (failed at b1c70cc)."""
    lines = ["let a = ones([2])", "print(a"]
    inc = IncrementalParser()
    inc.parse("\n".join(lines) + "\n")
    for at, line in [(8, LINES[3]), (0, LINES[3]), (0, "print(a")]:
        at %= len(lines) + 1
        lines = lines[:at] + [line] + lines[at:]
        text = "\n".join(lines) + "\n"
        assert inc.parse(text) == parse(text)


def test_pause_runs_between_the_steps_of_a_parse_and_changes_nothing() -> None:
    """`parse(text, pause)` calls `pause` between its steps (each chunk parsed, every
    1,024 chunks moved, and between the parts of the program's join, `_JOIN_EVERY` chunks
    at a time), so that a server can let a request have the interpreter during the re-parse
    that starts every analysis after an edit (issue 18: the re-parse and what follows it
    was one ~5-8 ms stretch; then its join alone held the interpreter 0.3-3 ms). The result
    is the parse without it; what `pause` sees before the join is a parser not yet moved
    to the text."""
    text = PROGRAM.replace("fn a", "fn a0").replace("fn b", "fn b0") * 800  # 3,200 chunks
    inc, plain = IncrementalParser(), IncrementalParser()
    calls: list[str | None] = []
    inc.parse(text, lambda: calls.append(inc._text))
    assert len(calls) >= 3200 and calls[:3200] == [None] * 3200  # each chunk of a first parse
    plain.parse(text)
    edited = text[:100] + "let q = 1\n" + text[100:]  # near the top: most chunks move
    calls.clear()
    assert inc.parse(edited, lambda: calls.append(inc._text)) == plain.parse(edited) \
        == parse(edited)
    # the chunks around the edit and the moves of ~3,200 chunks after it in 1,024s see the
    # old text; the join (items, errors, comments, each in parts of `_JOIN_EVERY` chunks)
    # the new one
    seen = ["new" if c is edited else "old" if c is text else "other" for c in calls]
    k = seen.count("old")
    parts = -(-len(inc._entries) // incremental._JOIN_EVERY)
    assert 5 <= k <= 12 and parts > 1 and seen == ["old"] * k + ["new"] * (3 * parts), seen
    calls.clear()
    assert inc.parse(edited, lambda: calls.append(inc._text)) == parse(edited)  # unchanged
    assert len(calls) == 3 * parts and all(c is edited for c in calls)
