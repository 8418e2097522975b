"""`ide.complete_list_at(a, offset, limit)` ranks and cuts before it builds the items; it must
answer exactly what building every item and cutting the list does.

The oracle builds every item (`ide.complete_at`, in list order) and keeps the best `limit`
by `(sort_text or label, label)`, best first, ties in list order (a stable sort): the cut
the server made before it moved into tl_core, which sorted only lists it cut. Now every
list with a limit comes best first."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tl_core import ide
from tl_core.check.analyzer import analyze
from tl_core.check.model import Analysis
from tl_core.ide import Completion, completion

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.tl"))
LIMITS = (1, 2, 7, 50, 200, 10**6, 0, -1)

# a large document: thousands of names (bench/lsp.py's block), plus shadowing, a struct, names
# that differ only in case or start with `_`, functions with docs and a model with tensors
BLOCK = """\
// block {i}: 가중치 😀
let x{i} = tensor<float16>([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device: cpu)
let w{i} = tensor<float16>([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], device: cpu)
let y{i} = softmax(x{i} @ w{i}, -1)
/// doubles {i}
fn f{i}(a: float16[N, D]) -> float16[N, D] {{
    return a + a
}}
let z{i} = f{i}(y{i})
print(z{i}.shape)
"""

TAIL = """\
struct Pair { left: int, right: float16[2] }
let X3 = 1
let _x3 = 2
let x3 = 3
let Zeta = 4
let zeta = 5
model = load_model("tiny.safetensors")
let t = model.get_tensor("layer.0.weight")
let u = get_tensor(model, "layer.1.weight")
let m = model.metadata["architecture"]
fn g(p: Pair) -> int {
    let q = p.left
    return q
}
print(t.shape, m, model.metadata.format, x3 :: t)
"""


def old_limit_completions(items: Sequence[Any], limit: int) -> tuple[list[Any], bool]:
    """Every item when `limit` <= 0, else the best `limit`, best first (a stable sort), and
    whether any were left out."""
    if limit <= 0:
        return list(items), False
    best = sorted(items, key=lambda c: (c.sort_text or c.label, c.label))[:limit]
    return best, len(items) > limit


class Doc:
    """An analysis with a short repr: pytest prints a failing test's arguments, and an
    `Analysis`' dataclass repr of a large document takes minutes."""

    __slots__ = ("a", "name")

    def __init__(self, name: str, a: Analysis):
        self.name, self.a = name, a

    def __repr__(self) -> str:
        return f"Doc({self.name!r})"


def assert_same(doc: Doc, offset: int, limits: Sequence[int] = LIMITS) -> None:
    a = doc.a
    every = ide.complete_at(a, offset)
    for limit in limits:
        items, incomplete = old_limit_completions(every, limit)
        got = ide.complete_list_at(a, offset, limit)
        assert (list(got.items), got.incomplete) == (items, incomplete), (offset, limit)
        assert [repr(c) for c in got.items] == [repr(c) for c in items]


@functools.cache
def large_text(blocks: int = 400) -> str:
    return "".join(BLOCK.format(i=i) for i in range(blocks)) + TAIL


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Doc:
    from tests.ide.conftest import write_tiny_model

    root = tmp_path_factory.mktemp("large")
    write_tiny_model(root)
    return Doc("large", analyze(large_text(), str(root / "large.tl")))


def interesting_offsets(text: str) -> list[int]:
    """After `= ` (nothing typed), inside names, after `.`/`::`/`(`/`"`/`[`, types."""
    out: set[int] = {0, len(text)}
    for pattern in (r"= ", r"\.", r"::", r'\("', r'\["', r"\(", r": ", r"-> "):
        out.update(m.end() for m in re.finditer(pattern, text))
    out.update(m.start() + 1 for m in re.finditer(r"\b[A-Za-z_]\w+", text))
    out.update(m.end() - 3 for m in re.finditer(r'"[\w.]{4,}"', text))
    return sorted(o for o in out if 0 <= o <= len(text))


def test_the_cut_equals_cutting_every_item_on_the_large_document(large: Doc):
    text = large.a.text
    offsets = interesting_offsets(text)
    # every spot of the tail (strings, members, types, struct fields) and a sample of the
    # blocks (the same shapes a thousand times)
    tail = len(text) - len(TAIL)
    chosen = [o for o in offsets if o >= tail] + offsets[: -1 : max(1, len(offsets) // 300)]
    for off in chosen:
        assert_same(large, off)


def test_the_cases_that_matter_are_among_them(large: Doc):
    """The comparison above covers cut lists of each kind, with and without a prefix."""
    a, text = large.a, large.a.text

    def at(needle: str, delta: int) -> int:
        return text.rindex(needle) + delta

    no_prefix = ide.complete_list_at(a, at("let z399 = ", 11), 200)
    assert no_prefix.incomplete and len(no_prefix.items) == 200
    assert len(ide.complete_at(a, at("let z399 = ", 11))) > 2000
    one_letter = ide.complete_list_at(a, at("let z399 = f", 12), 200)
    assert one_letter.incomplete and {c.label[0] for c in one_letter.items} == {"f"}
    tensors = ide.complete_list_at(a, at('get_tensor("layer.0', 17), 2)  # "layer" typed
    assert tensors.incomplete and [c.label for c in tensors.items] == [
        "layer.0.bias", "layer.0.weight"]
    members = ide.complete_list_at(a, at("t.shape", 2), 3)
    assert members.incomplete and [c.label for c in members.items] == ["shape", "T", "dtype"]
    for off in (at("let z399 = ", 11), at('get_tensor("layer.0', 17), at("t.shape", 2)):
        assert_same(large, off)


def test_examples_every_interesting_offset():
    for path in EXAMPLES:
        text = path.read_text(encoding="utf-8")
        doc = Doc(path.name, analyze(text, str(path)))
        for off in interesting_offsets(text):
            assert_same(doc, off, (1, 5, 30, 200))


def test_only_the_kept_items_are_built(large: Doc, monkeypatch: pytest.MonkeyPatch):
    """With a limit, names in scope become `Completion`s only when kept (the point of
    ranking first): at most `limit` plus the built-ins, keywords and snippets."""
    built = 0
    make = completion._new_completion

    def counting(*args: Any) -> Completion:
        nonlocal built
        built += 1
        return make(*args)

    monkeypatch.setattr(completion, "_new_completion", counting)
    off = large.a.text.rindex("let z399 = ") + 11
    got = ide.complete_list_at(large.a, off, 10)
    assert len(got.items) == 10 and got.incomplete
    assert built <= 10 + len(completion.BUILTINS) + len(completion.KEYWORD_LIST)


def test_ties_keep_the_list_order(monkeypatch: pytest.MonkeyPatch):
    """Equal keys (`(sort_text or label, label)`) are never produced today; duplicated
    keywords and two different snippets of one label make some, and the cut must still
    keep the full list's order, as the stable sort does."""
    monkeypatch.setattr(completion, "KEYWORD_LIST",
                        completion.KEYWORD_LIST + ("test", "while", "test"))
    monkeypatch.setattr(completion, "SNIPPETS", completion.SNIPPETS + (
        ("fn", "fn ${1:other}() {\n\t$0\n}", "another fn"), ("fn", "fn $0", "a third")))
    text = "let plain = 1\nlet test = 2\nlet fn0 = 3\nlet r = "
    a = analyze(text, "/tmp/completion-ties.tl", use_cache=False)
    every = ide.complete_at(a, len(text))
    assert [c.label for c in every].count("test") == 4
    assert [c.detail for c in every if c.sort_text == "4fn"] == [
        "function declaration", "another fn", "a third"]
    for limit in range(1, len(every) + 2):
        assert_same(Doc("ties", a), len(text), (limit,))


def test_a_names_sort_text_is_its_group_and_the_name(large: Doc):
    """What the cut relies on: the other names (group 0) before the functions (group 1),
    each group in name order, and the built-ins, keywords and snippets (2-4) after both."""
    a = large.a
    seen = set()
    for b in a.bindings:
        assert completion._sort_text(b) == completion._sort_group(b) + b.name
        seen.add(completion._sort_group(b))
    assert seen == {"0", "1"}
    rest = completion._rest_keys(lambda _name: False, "")
    assert {r[0][0] for r in rest} == {"2", "3", "4"}


def test_best_completions_equals_the_old_cut():
    items = [Completion(f"n{i % 7}", "variable", sort_text=s)
             for i, s in enumerate(["", "b", "a", "", "a", "c", "b"] * 5)]
    for limit in range(-1, len(items) + 2):
        assert completion.best_completions(items, limit) == old_limit_completions(items, limit)


def test_errors_answer_an_empty_complete_list(monkeypatch: pytest.MonkeyPatch):
    def broken(*_args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(completion, "tokens_before", broken)
    a = analyze("let x = 1\n", "/tmp/completion-broken.tl")
    assert ide.complete_list_at(a, 4, 5) == ide.CompletionList((), False)


@functools.cache
def property_docs() -> tuple[Doc, ...]:
    docs = [Doc(p.name, analyze(p.read_text(encoding="utf-8"), str(p))) for p in EXAMPLES[:8]]
    # next to the examples: path completion walks the document's folder
    path = str(ROOT / "examples" / "generated.tl")
    return (*docs, Doc("large_text(60)", analyze(large_text(60), path)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.integers(0, 8), where=st.floats(0, 1), limit=st.integers(-1, 400))
def test_any_offset_and_limit_answers_the_old_cut(doc: int, where: float, limit: int):
    d = property_docs()[doc]
    assert_same(d, round(where * len(d.a.text)), (limit,))
