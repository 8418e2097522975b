"""The fast paths of completion give exactly what the plain code gives.

`Analysis.visible` bisects a scope's bindings (memoized) and completion builds its items
through slot descriptors; the oracles here are the straightforward versions: the
`_visible_at` test over `reversed(scope.bindings)`, and the `Completion` constructor."""

import random
from pathlib import Path

import pytest

from tests.hosts import analyze
from tl_core import ide
from tl_core.ide import Completion
from tl_core.ide.completion import _binding_info, _new_completion

ROOT = Path(__file__).resolve().parent.parent.parent
FILES = sorted((ROOT / "examples").rglob("*.tl"))

BLOCK = """// layer {i}
fn layer{i}(x: float16[N, D], w: float16[D, H]) -> float16[N, H] {{
    let h = x @ w
    return relu(h)
}}
let x{i} = randn([4, 8])
let w{i} = randn([8, 16])
let y{i} = layer{i}(x{i}, w{i})
y{i} = y{i} * 2.0
"""


def naive_visible(a, offset):
    out = {}
    s = a.scope_at(offset)
    while s is not None:
        for b in reversed(s.bindings):
            if b.name not in out and a._visible_at(b, offset):
                out[b.name] = b
        s = s.parent
    for name, b in a.functions.items():
        out.setdefault(name, b)
    return out


def texts():
    big = "".join(BLOCK.format(i=i) for i in range(30))
    # a shadowing let (out of declaration order for the bisection) and a struct
    odd = big + "struct P { a: int }\nlet x3 = 1\n" + big.replace("layer", "g")
    return [big, odd] + [p.read_text(encoding="utf-8") for p in FILES]


@pytest.mark.parametrize("cached", [False, True])
def test_visible_equals_the_naive_walk_in_content_and_order(cached):
    rng = random.Random(5)
    for k, text in enumerate(texts()):
        path = f"/tmp/visible-{k}.tl"
        if cached:  # the reused-item path: analyse an edited version first
            analyze(text.replace("randn", "ones", 1), path)
        a = analyze(text, path, use_cache=cached)
        offsets = rng.sample(range(len(text) + 1), min(60, len(text) + 1)) + [0, len(text)]
        for off in offsets:
            # (inside a reused item not yet placed, `visible` makes that item's bindings on
            # their own: equal to the placed ones, not the same objects)
            assert content(a.visible(off)) == content(naive_visible(a, off))


def content(visible: dict) -> list[tuple]:
    return [(name, b.name, b.kind, b.span, b.decl_span, b.type, b.path, b.scope.span)
            for name, b in visible.items()]


def test_fast_completion_equals_the_constructor():
    a = analyze("let x = ones([2])\n", "/tmp/fast-completion.tl")
    sp = a.line_index.span(3, 4)
    fast = _new_completion("x", "variable", "float16[2]", "doc", "x", sp, "0x")
    slow = Completion("x", "variable", "float16[2]", "doc", "x", False, sp, "0x")
    assert fast == slow and repr(fast) == repr(slow) and hash(fast) == hash(slow)


def test_general_completion_equals_building_each_item_with_the_constructor():
    text = "".join(BLOCK.format(i=i) for i in range(30))
    a = analyze(text, "/tmp/general-completion.tl")
    rng = random.Random(3)
    for _ in range(20):
        off = text.index("return", rng.randrange(len(text) - 100))
        items = ide.complete_at(a, off)
        replace = a.line_index.span(off, off)
        visible = naive_visible(a, off)
        expected = []
        for name, b in visible.items():
            kind, detail, doc, sort = _binding_info(a, b)
            expected.append(Completion(name, kind, detail, doc, name, False, replace, sort))
        assert items[:len(expected)] == expected
        assert len(items) > len(expected)  # built-ins, keywords and snippets follow


def test_visible_falls_back_when_bindings_are_out_of_declaration_order():
    text = "".join(BLOCK.format(i=i) for i in range(10))
    a = analyze(text, "/tmp/visible-shuffled.tl", use_cache=False)
    script = next(s for s in a.scopes if s.kind == "script")
    random.Random(1).shuffle(script.bindings)
    for off in range(0, len(text) + 1, 37):
        assert list(a.visible(off).items()) == list(naive_visible(a, off).items())
    assert a._memo.visible_entries[id(script)][3] is False  # the unordered path ran
