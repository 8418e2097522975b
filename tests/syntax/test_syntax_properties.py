"""Property tests: any text parses without raising, within a bound, with every range inside
the document and consistent with its lines; incremental parsing equals a full parse after
random edits; on valid chunks our parser equals lark's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tl_core.syntax import IncrementalParser, parse
from tl_core.syntax import ast as A
from tl_core.syntax.parser import lark_parse_chunk, parse_chunk
from tl_core.syntax.scanner import split_chunks
from tl_core.syntax.span import LineIndex

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [p.read_text(encoding="utf-8") for p in
            sorted((ROOT / "examples").glob("*.tl")) + sorted((ROOT / "examples" / "syntax").glob("*.tl"))]

# A deadline is a hang detector here, not a performance assertion: it is generous.
SETTINGS = settings(max_examples=60, deadline=timedelta(seconds=10),
                    suppress_health_check=[HealthCheck.too_slow])

PIECES = [
    "fn", "let", "return", "if", "else", "for", "in", "while", "loop", "break", "continue",
    "main", "true", "false", "tensor", "import", "struct", "impl", "match", "as", "test",
    "bench", "entity", "relation", "embedding", "learn", "infer", "forward", "where", "x",
    "foo", "Parent", "_", "1", "2.5", "1e-5", '"s"', '"', "(", ")", "[", "]", "{", "}", ",",
    ":", "::", ";", ".", "=", ":=", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/",
    "%", "@", "⊙", "**", "⊗", "!", "~", "<-", "->", "=>", "?", "|", "||", "&&", "\n", " ",
    "  ", "// c\n", "/*", "*/", "한", "\x00", "\ud800", "float16", "[N, 3]", "<float16>", "\\",
    "\\\n", "\r\n", "\ufeff",
]

token_soup = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)
any_text = st.text(max_size=200)


def check_spans(text: str, result) -> None:  # noqa: ANN001
    index = LineIndex(text)
    n = len(text)
    spans = [e.span for e in result.errors] + [c.span for c in result.comments]
    for node in A.walk(result.program):
        spans.append(node.span)
        for name in ("name_span", "paren_span", "op_span", "dtype_span", "path_span",
                     "mode_span", "base_span", "member_span", "var_span"):
            s = getattr(node, name, None)
            if s is not None:
                spans.append(s)
    for s in spans:
        assert 0 <= s.start <= s.end <= n, (s, n)
        assert (s.line, s.col) == index.position(s.start), s
        assert (s.end_line, s.end_col) == index.position(s.end), s


@SETTINGS
@given(st.one_of(token_soup, any_text))
def test_random_text_never_raises_and_ranges_fit(text: str) -> None:
    result = parse(text)
    check_spans(text, result)
    assert IncrementalParser().parse(text) == result


edit = st.tuples(st.floats(0, 1), st.integers(0, 8), st.sampled_from(PIECES + ["", "", ""]))


def apply_edits(text: str, edits) -> str:  # noqa: ANN001
    for where, cut, insert in edits:
        pos = int(where * len(text))
        text = text[:pos] + insert + text[pos + cut:]
    return text


@SETTINGS
@given(st.sampled_from(range(len(EXAMPLES))), st.lists(edit, min_size=1, max_size=4))
def test_random_edits_incremental_equals_full(k: int, edits) -> None:  # noqa: ANN001
    original = EXAMPLES[k]
    inc = IncrementalParser()
    inc.parse(original)
    text = original
    for e in edits:
        text = apply_edits(text, [e])
        got = inc.parse(text)
        full = parse(text)
        assert got == full
    check_spans(text, full)


@SETTINGS
@given(st.sampled_from(range(len(EXAMPLES))), st.lists(edit, min_size=1, max_size=3))
def test_valid_chunks_after_edits_equal_lark(k: int, edits) -> None:  # noqa: ANN001
    text = apply_edits(EXAMPLES[k], edits)
    for c in split_chunks(text):
        chunk = text[c.start : c.end]
        try:
            expected, errors = lark_parse_chunk(chunk)
        except Exception:  # noqa: BLE001 - lark rejects it
            continue
        ours = parse_chunk(chunk, 0, len(chunk), 0)
        assert ours.errors == errors
        assert ours.items == expected
