"""Semantic tokens and folding ranges from the per-segment caches (tl_core.ide.tokens) equal
the plain whole-document versions (tl_core.ide.highlight / folding `*_plain`), the oracle, on the examples and
along chains of edits of generated files."""

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hosts import analyze, host
from tl_core import ide
from tl_core.ide import tokens

ROOT = Path(__file__).resolve().parent.parent.parent
FILES = sorted((ROOT / "examples").rglob("*.tl"))

BLOCK = """// layer {i}
// second comment line
fn layer{i}(x: float16[N, D], w: float16[D, H]) -> float16[N, H] {{
    let h = x @ w
    return softmax(relu(h), dim: -1)
}}
/* a block
   comment */ let x{i} = randn([4, 8])
let w{i} = randn([8,
                  16]); let s{i} = "a \\"q\\" {i}"
let y{i} = layer{i}(x{i}, w{i})
print(y{i}.shape, sum(y{i}), y{i}.
  shape)
// %% cell {i}
if true {{ print(1) }} else {{ print(2) }}
"""

HEAD = 'import "a.tl"\nimport "b.tl"\nstruct P { a: int }\n'


def big(n: int = 12) -> str:
    return HEAD + "".join(BLOCK.format(i=i) for i in range(n))


def check_equal(a) -> None:
    caches = host(a.path).tokens  # the document's, filled by its earlier analyses
    fast_toks = tokens.semantic_tokens(a, None, caches)
    fast_folds = tokens.folding_ranges(a, None, caches=caches)
    assert fast_toks is not None and fast_folds is not None
    # through the public entry points too (they answer from the analysis' cache now)
    assert ide.semantic_tokens(a) == fast_toks and ide.folding_ranges(a) == fast_folds
    assert fast_toks == ide.semantic_tokens_plain(a)
    assert fast_folds == ide.folding_ranges_plain(a)


def test_examples_fresh_and_reused():
    for f in FILES:
        text = f.read_text(encoding="utf-8")
        path = f"/tmp/tokens-{f.name}"
        check_equal(analyze(text, path, use_cache=False))
        analyze(text.replace("let", "let ", 1), path)
        check_equal(analyze(text, path))


def test_an_edit_does_not_materialize_the_reused_items():
    text = big(20)
    path = "/tmp/tokens-lazy.tl"
    analyze(text, path)
    a = analyze(text.replace("relu(h)", "relu(h) * 2.0", 1), path)
    assert a._pending  # items were reused
    toks = tokens.semantic_tokens(a)
    folds = tokens.folding_ranges(a)
    assert a._sorted_refs is None  # answered from the records, nothing placed
    assert toks == ide.semantic_tokens_plain(a) and folds == ide.folding_ranges_plain(a)


def test_after_a_query_placed_the_reused_items():
    text = big(8)
    path = "/tmp/tokens-placed.tl"
    analyze(text, path)
    a = analyze(text.replace("relu(h)", "relu(h) + 1.0", 1), path)
    ide.references(a, text.index("layer3"))  # (a hover places nothing any more)
    assert a._sorted_refs is not None
    check_equal(a)


EDITS = ["", "x", "1", " ", "\n", ".", "::", "//", "/*", "*/", '"', "\\", "{", "}", "(", ")",
         "let z = 2\n", "fn f() {\n", "// %% c\n", "relu", "y0.", "@", "\n\n"]


def chain(seed: int, steps: int, path: str) -> None:
    rng = random.Random(seed)
    text = big(10)
    for _ in range(steps):
        i = rng.randrange(len(text) + 1)
        j = min(len(text), i + rng.choice([0, 0, 1, 3, 12]))
        text = text[:i] + rng.choice(EDITS) + text[j:]
        check_equal(analyze(text, path))


def test_chained_random_edits_equal_the_plain_answers():
    chain(1, 25, "/tmp/tokens-chain-1.tl")


def test_chained_edits_with_a_fresh_cache_path():
    # the same chains, on a path whose item cache starts empty
    chain(2, 15, "/tmp/tokens-chain-2.tl")


def test_crlf_and_non_ascii_text():
    text = big(5).replace("// layer", "// 레이어 😀 layer").replace("\n", "\r\n")
    path = "/tmp/tokens-crlf.tl"
    check_equal(analyze(text, path))
    check_equal(analyze(text.replace("relu(h)", "relu(h) * 3.0", 2), path))


def test_tokens_running_over_a_segment_end_are_merged():
    # a string continued by a backslash-newline and an unclosed block comment: the
    # tokenizer does not stop at the next item's line
    text = 'let a = "x\\\nlet b = 1"\nlet c = 2\n/* open\nlet d = 3\n'
    a = analyze(text, "/tmp/tokens-straddle.tl")
    segs = tokens._segments(a, None, tokens.TokenCaches())
    assert len(segs) < len(a.program.items)
    check_equal(a)


def test_a_dot_or_path_before_a_segment_classifies_its_first_name():
    # the token before an item's first name lies in the previous segment
    text = "let a = ones([2])\n.\nprint(a)\nlet b = 1 ::\nzz\nlet c = 2\n.\nzz\n"
    a = analyze(text, "/tmp/tokens-prev.tl")
    assert len(tokens._segments(a, None, tokens.TokenCaches())) > 3
    types = {t.span.start: t.type for t in ide.semantic_tokens(a)}
    assert types[text.index("print")] == "method"
    assert types[text.index("zz")] == "function"
    assert types[text.rindex("zz")] == "property"
    check_equal(a)


def test_lines_longer_than_the_limit_get_no_tokens():
    """A line of more than LONG_LINE characters is not tokenized (VS Code does not color it
    either); a block comment or string opened on it and closed on a later line is still
    one token, so the lines after it read as they do without the limit."""
    from tl_core.ide.lex import LONG_LINE

    sums = "let x = " + " + ".join(["1"] * (LONG_LINE // 4 + 10))
    assert len(sums) > LONG_LINE
    text = ("let a = 1\n" + sums + "\nlet b = 2\n" + sums + " /* opened\nstill */ let c = 3\n"
            + sums + ' "a \\\nb" let d = 4\n')
    a = analyze(text, "/tmp/tokens-long.tl")
    check_equal(a)
    toks = ide.semantic_tokens(a)
    by_line: dict[int, list] = {}
    for t in toks:
        by_line.setdefault(t.span.line, []).append(t)
    assert [t.type for t in by_line[0]] == ["keyword", "variable", "number"]
    assert [t.type for t in by_line[2]] == ["keyword", "variable", "number"]
    assert [t.type for t in by_line[3]] == ["comment"]  # only the comment that crosses
    assert by_line[3][0].span.start == text.index("/* opened")
    assert [t.type for t in by_line[4]] == ["comment", "keyword", "variable", "number"]
    assert [t.type for t in by_line[5]] == ["string"]  # to `b"` on the next line
    assert by_line[5][0].span.end == text.index('b"') + 2
    assert [(t.span.start, t.type) for t in by_line[6]][0] == (text.index("let d"), "keyword")
    assert 1 not in by_line


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["let", " ", "x", "\n", '"', "\\", "//", "/*", "*/", "*", "/",
                                 "1.5", "+", "é", "::", ".", "("]), max_size=60).map("".join),
       st.integers(0, 20))
def test_the_line_limit_drops_exactly_the_tokens_that_start_on_long_lines(text, limit):
    """With `long_lines`, the tokens are those without it minus the ones starting on a line
    longer than the limit, except a string or comment running past that line's end."""
    from tl_core.ide.lex import tokenize

    def line_of(p: int) -> tuple[int, int]:
        end = text.find("\n", p)
        return text.rfind("\n", 0, p) + 1, len(text) if end == -1 else end

    expected = [t for t in tokenize(text)
                if line_of(t.start)[1] - line_of(t.start)[0] <= limit or t.end > line_of(t.start)[1]]
    assert tokenize(text, long_lines=limit) == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 6), st.sampled_from(EDITS)),
                min_size=1, max_size=6))
def test_hypothesis_edits(edits):
    text = big(4)
    path = "/tmp/tokens-hypothesis.tl"
    analyze(text, path)
    for pos, cut, ins in edits:
        i = pos % (len(text) + 1)
        text = text[:i] + ins + text[i + cut:]
        check_equal(analyze(text, path))
