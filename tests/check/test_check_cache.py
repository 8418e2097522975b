"""The per-item check cache gives exactly the analysis a check from scratch gives."""

import random
from pathlib import Path

import pytest

from tests.hosts import analyze
from tl_core.check.memo import ItemMemo, type_sig

ROOT = Path(__file__).resolve().parent.parent.parent
FILES = sorted((ROOT / "examples").rglob("*.tl")) + sorted(
    p for p in (Path(__file__).parent / "golden").rglob("*.tl") if p.parent.name != "real")


def summary(a):
    def span(s):
        return (s.start, s.end, s.line, s.col, s.end_line, s.end_col)

    scope_ids = {id(s): i for i, s in enumerate(sorted(a.scopes, key=lambda s: (
        s.span.start, -s.span.end, s.kind)))}
    return {
        "diags": [(span(d.span), d.message, d.severity, d.code,
                   [(span(r.span), r.message) for r in d.related]) for d in a.diagnostics],
        "types": {k[:2] + (k[2].__name__,): (str(t), type_sig(t)) for k, t in a.types.items()},
        "refs": [(span(r.span), r.builtin, r.is_def,
                  None if r.binding is None else (r.binding.name, span(r.binding.span)))
                 for r in a.refs],
        "bindings": sorted((b.name, b.kind, span(b.span), span(b.decl_span), str(b.type),
                            sorted(span(s) for s in b.refs.values()), b.reads, b.int_literal,
                            b.path, scope_ids.get(id(b.scope)))
                           for b in a.bindings),
        "points": {k: str(t) for k, t in a.point_types.items()},
        "calls": a.call_bindings,
        "scopes": sorted((span(s.span), s.kind, None if s.parent is None else
                          scope_ids.get(id(s.parent))) for s in a.scopes),
    }


def edits(text: str, rng: random.Random) -> list[str]:
    lines = text.split("\n")
    out = []
    for _ in range(4):
        i = rng.randrange(len(lines) + 1)
        out.append("\n".join(lines[:i] + ["", "let inserted_" + str(i) + " = ones([2, 3])"] +
                             lines[i:]))
        j = rng.randrange(len(lines))
        out.append("\n".join(lines[:j] + lines[j + 1:]))
        k = rng.randrange(len(text))
        out.append(text[:k] + rng.choice([" ", "1", "x", "(", "\n", ""]) + text[k:])
    return out


@pytest.mark.parametrize("p", FILES, ids=lambda p: p.name)
def test_cached_analysis_equals_fresh_one(p, tmp_path):
    text = p.read_text(encoding="utf-8")
    rng = random.Random(p.name)
    path = str(p)
    for new in [text] + edits(text, rng):
        analyze(text, path)  # the previous version of the document
        cached = analyze(new, path)
        fresh = analyze(new, path, use_cache=False)
        assert summary(cached) == summary(fresh)


def test_cache_is_used_and_an_edit_rechecks_only_its_item():
    body = "".join(f"fn f{i}(x: float16[N]) -> float16[N] {{\n    return x * 2.0\n}}\n"
                   f"let y{i} = f{i}(ones([{i + 1}]))\n" for i in range(20))
    memo = ItemMemo({})
    assert memo.old == {}
    analyze(body, "/tmp/cache-count.tl")
    edited = body.replace("let y5 = f5(ones([6]))", "let y5 = f5(ones([7]))")
    from tl_core.check import memo as M

    seen = {}
    real = M.ItemMemo

    class Spy(real):
        def commit(self):
            seen["hits"], seen["misses"] = self.hits, self.misses
            super().commit()

    M.ItemMemo = Spy
    try:
        a = analyze(edited, "/tmp/cache-count.tl")
    finally:
        M.ItemMemo = real
    assert seen == {"hits": 39, "misses": 1}
    y5 = next(b for b in a.bindings if b.name == "y5")
    assert str(y5.type) == "float16[7]"


def test_dependency_change_invalidates_the_users():
    text = "let n = 4\nlet t = zeros([n, 2])\n"
    analyze(text, "/tmp/dep.tl")
    a = analyze(text.replace("n = 4", "n = 5"), "/tmp/dep.tl")
    t = next(b for b in a.bindings if b.name == "t")
    assert str(t.type) == "float16[5, 2]"


@pytest.mark.parametrize("p", FILES[::3], ids=lambda p: p.name)
def test_chained_edits_and_queries_equal_a_fresh_check(p):
    """Edits applied one after another (each analysis reuses records made or refreshed by
    the one before); diagnostics are compared before anything is materialized, then the
    whole analysis and the answers of the offset queries."""
    from tl_core import ide

    text = p.read_text(encoding="utf-8")
    rng = random.Random("chain" + p.name)
    path = str(p) + ".chain"
    analyze(text, path)
    for _ in range(4):
        k = rng.randrange(len(text) + 1)
        text = text[:k] + rng.choice([" ", "\n", "1", "x", ""]) + text[k:]
        cached = analyze(text, path)
        fresh = analyze(text, path, use_cache=False)
        assert cached.diagnostics == fresh.diagnostics
        offsets = sorted(rng.sample(range(len(text) + 1), min(40, len(text) + 1)))
        for off in offsets:
            assert ide.hover_at(cached, off) == ide.hover_at(fresh, off)
            assert ide.definition_at(cached, off) == ide.definition_at(fresh, off)
        assert summary(cached) == summary(fresh)
        for off in offsets:
            assert ide.references(cached, off) == ide.references(fresh, off)


def test_diagnostics_come_without_materializing_reused_items():
    body = "".join(f"fn f{i}(x: float16[N]) -> float16[N] {{\n    let unused{i} = x\n"
                   f"    return x * 2.0\n}}\nlet y{i} = f{i}(ones([{i + 1}]))\n"
                   for i in range(10))
    path = "/tmp/cache-lazy.tl"
    analyze(body, path)
    edited = body.replace("ones([4])", "ones([5])")
    a = analyze(edited, path)
    assert a._pending  # reused items wait until a query needs them
    fresh = analyze(edited, path, use_cache=False)
    assert a.diagnostics == fresh.diagnostics
    assert sum(d.code == "unused-variable" for d in a.diagnostics) == 10
    assert summary(a) == summary(fresh)
    assert a._sorted_refs is not None and a._maps_done


def test_an_equal_type_from_a_rechecked_dependency_keeps_its_users():
    """A re-checked item gives its binding a new (equal) type object; its users are still
    reused (the signature is compared), and the refreshed records match by identity."""
    text = "".join(f"let n{i} = zeros([{i + 1}, 2])\nlet t{i} = n{i} + 1.0\n" for i in range(5))
    path = "/tmp/dep-equal.tl"
    analyze(text, path)
    from tl_core.check import memo as M

    seen = []
    real = M.ItemMemo

    class Spy(real):
        def commit(self):
            seen.append((self.hits, self.misses))
            super().commit()

    M.ItemMemo = Spy
    try:
        new = text.replace("let n2 = zeros([3, 2])", "let n2 = zeros([3,  2])")
        a = analyze(new, path)
        b = analyze(new.replace("let n4", "let  n4"), path)
    finally:
        M.ItemMemo = real
    assert seen == [(9, 1), (9, 1)]
    assert summary(a) == summary(analyze(new, path, use_cache=False))
    assert summary(b) == summary(analyze(new.replace("let n4", "let  n4"), path,
                                         use_cache=False))


def test_fast_span_equals_the_constructor():
    from tl_core.syntax.span import Span, new_span

    a, b = new_span(3, 9, 1, 2, 4, 0), Span(3, 9, 1, 2, 4, 0)
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b) and type(a) is Span


def test_an_outer_name_no_dependency_finds_is_never_recorded(monkeypatch):
    """Placing a reused item looks up by name the outer bindings it used, among those its
    dependencies found on replay. An item that used one its lookups did not find (here a
    planted `ghost`: looked up in vain, yet used) is not recorded, so it is checked again
    and placing has nothing to miss. Before, it was recorded, replayed, and placing it
    raised KeyError (and a query re-ran the check from scratch)."""
    from tl_core.check.checker import Checker
    from tl_core.check.model import Binding
    from tl_core.lang.types import UNKNOWN

    real = Checker.check_item

    def check_item(self, it, script):
        real(self, it, script)
        sp = it.span
        if self.src(sp).startswith("let t"):
            assert self.resolve(script, "ghost") is None  # logged: found nothing
            ghost = Binding("ghost", "variable", sp, sp, UNKNOWN)
            ghost.serial = -1  # made before the item: an outer binding
            self.use_log.append((ghost, sp, True))

    monkeypatch.setattr(Checker, "check_item", check_item)
    text = "let n = 4\nlet t = zeros([n, 2])\n"
    path = "/tmp/cache-ghost.tl"
    analyze(text, path)
    a = analyze("\n" + text, path)
    assert summary(a) == summary(analyze("\n" + text, path, use_cache=False))
    assert len(a._pending) == 1  # `let n` reused, `let t` checked again


def test_no_query_checks_again_and_an_analysis_holds_no_callback(monkeypatch):
    """An Analysis is a finished answer: after `analyze` returns, placing the reused items
    and every query read what the check left; none runs the checker (nor holds a way to)."""
    from dataclasses import fields

    from tl_core import ide
    from tl_core.check import analyzer
    from tl_core.check.checker import Checker
    from tl_core.check.model import Analysis

    text = (ROOT / "examples" / "tests_and_benches.tl").read_text(encoding="utf-8")
    path = "/tmp/cache-finished.tl"
    analyze(text, path)
    a = analyze("\n" + text, path)
    assert a._pending and not a.placed()
    assert [f.name for f in fields(Analysis) if callable(getattr(a, f.name))] == []

    def no_check(*_args, **_kwargs):
        raise AssertionError("a query ran the checker")

    monkeypatch.setattr(Checker, "__init__", no_check)
    monkeypatch.setattr(analyzer, "analyze", no_check)
    for off in range(0, len(a.text), 7):
        ide.hover_at(a, off)
        ide.complete_at(a, off)
        ide.definition_at(a, off)
        ide.references(a, off)
    a.materialize()
    assert ide.semantic_tokens(a) is not None
    monkeypatch.undo()
    assert summary(a) == summary(analyze("\n" + text, path, use_cache=False))


def test_fast_ref_equals_the_constructor():
    from tl_core.check.model import Ref
    from tl_core.check.placing import ref_maker
    from tl_core.syntax.span import Span

    sp = Span(3, 9, 1, 2, 4, 0)
    assert ref_maker()(sp, None, "relu", True) == Ref(sp, None, "relu", True)


@pytest.mark.parametrize("p", FILES[1::3], ids=lambda p: p.name)
def test_one_item_lookups_before_placing_equal_a_fresh_check(p):
    """`type_of`, `point_type` and `call_binding` answer from the reused item's record
    before (and without) the analysis' dicts being filled, and agree with a fresh check."""
    from tl_core.syntax.ast import walk

    text = p.read_text(encoding="utf-8")
    path = str(p) + ".lookups"
    analyze(text, path)
    new = "\n" + text  # every item shifts by one line
    cached = analyze(new, path)
    fresh = analyze(new, path, use_cache=False)
    nodes = list(walk(cached.program))
    assert all(cached.type_of(n) == fresh.type_of(n) and
               str(cached.type_of(n)) == str(fresh.type_of(n)) for n in nodes)
    for off in range(len(new) + 1):
        assert cached.point_type(off) == fresh.point_types.get(off)
        assert cached.call_binding(off) == fresh.call_bindings.get(off)
    assert not cached._maps_done  # none of that filled the dicts
    assert summary(cached) == summary(fresh)


def test_a_message_naming_a_line_is_not_replayed_after_lines_shift():
    # "declared on line 3" inside a cached item went stale when a line was inserted above
    text = ("fn f(x: float16[N]) -> float16[N] {\n    let y = x + 1.0\n"
            "    let y = y * 3.0\n    return y\n}\n")
    path = "/tmp/line-shift.tl"
    analyze(text, path)
    new = "\n" + text
    cached = [d.message for d in analyze(new, path).diagnostics]
    fresh = [d.message for d in analyze(new, path, use_cache=False).diagnostics]
    assert cached == fresh
    assert "let y shadows the earlier 'y' declared on line 3" in fresh


@pytest.mark.parametrize("p", FILES, ids=lambda p: p.name)
def test_items_are_sorted_into_passes_as_isinstance_sorts_them(p):
    """`check_program` sorts items into its passes once per node class (`_by_pass`): the
    same lists, in text order, as testing each item with isinstance."""
    from tl_core.check.checker import _by_pass
    from tl_core.syntax import ast as A
    from tl_core.syntax import parse

    items = parse(p.read_text(encoding="utf-8")).program.items
    decls = [it for it in items if isinstance(it, (A.Import, A.FnDecl, A.StructDecl,
                                                   A.RelationDecl, A.EntityDecl,
                                                   A.EmbeddingDecl))]
    script = [it for it in items if not isinstance(it, (A.FnDecl, A.StructDecl, A.ImplDecl,
                                                        A.Import, A.RelationDecl,
                                                        A.EntityDecl))]
    fns = [it for it in items if isinstance(it, (A.FnDecl, A.ImplDecl))]
    logic = any(isinstance(it, (A.RelationDecl, A.EntityDecl, A.Rule, A.Query, A.Infer))
                for it in items)
    assert _by_pass(items) == (decls, script, fns, logic)


def test_reused_items_keep_their_unused_warnings_and_add_none():
    """`finish` skips the bindings replayed from records (script-scope bindings, never
    warned; a reused item's own warnings come from its record): an edit gives the warnings a
    fresh check gives, each once."""
    body = "".join(f"let top{i} = ones([2])\nfn f{i}(x: float16[N]) -> float16[N] {{\n"
                   f"    let unused{i} = x\n    return x * 2.0\n}}\n" for i in range(6))
    path = "/tmp/cache-unused.tl"
    analyze(body, path)
    edited = body.replace("let top3 = ones([2])", "let top3 = ones([3])")
    cached = analyze(edited, path)
    fresh = analyze(edited, path, use_cache=False)
    assert cached.diagnostics == fresh.diagnostics
    assert [d.message for d in cached.diagnostics if d.code == "unused-variable"] == [
        f"variable 'unused{i}' is assigned but never used; remove it or name it _unused{i}"
        for i in range(6)]


def test_records_are_kept_under_their_own_keys_across_edits():
    """A reused record is kept under the key tuple it was made with (no new key per unchanged
    item and edit), and that key is the one a lookup makes: the next edit still reuses it."""
    from tests.hosts import host
    from tl_core.check.memo import ItemRecord

    text = "".join(f"let n{i} = zeros([{i + 1}, 2])\nlet t{i} = n{i} + 1.0\n" for i in range(5))
    path = "/tmp/cache-keys.tl"
    analyze(text, path)
    first = {k: r for k, r in host(path).records.items() if isinstance(r, ItemRecord)}
    for n in range(3):
        text = f"let extra{n} = 1\n" + text
        cached = analyze(text, path)
        assert summary(cached) == summary(analyze(text, path, use_cache=False))
    kept = {k: r for k, r in host(path).records.items() if isinstance(r, ItemRecord)}
    assert all(k is r.key for k, r in kept.items())
    assert all(kept[k] is r and next(x for x in kept if x == k) is k for k, r in first.items())


def test_a_repeated_item_that_changes_what_it_read_is_replayed_with_the_state_it_found():
    """`n = n + 1` twice: the second is the first's text, and its record must name `n` as
    the item found it (4), not as it left it (5): the cache replayed the first one's
    effect (n = 5) where a check gives 6 (the shape of `m` was [5])."""
    text = "let n = 4\nn = n + 1\nn = n + 1\nlet m = zeros([n])\n"
    path = "/tmp/cache-repeat.tl"
    for new in (text, text + "\n", "n = 1\n" + text):
        cached = analyze(new, path)
        m = next(b for b in cached.bindings if b.name == "m")
        assert str(m.type) == "float16[6]"
        assert summary(cached) == summary(analyze(new, path, use_cache=False))


def test_an_item_of_another_node_class_with_the_same_text_is_checked_again():
    """After `}(` the line `a = a + 1.0` parses as an ErrorStmt, whose text is the Assign's
    that the cache holds: it replayed the Assign's types (4 node types a check does not
    give). The key holds the node's class."""
    t1 = ("let a = zeros([5])\nimpl P {\n    fn norm(self) -> float {\n        return self.x\n"
          "    }\n}\na = a + 1.0\n")
    t2 = t1.replace("}\na = a", "}(\na = a")
    path = "/tmp/cache-class.tl"
    analyze(t1, path)
    cached = analyze(t2, path)
    assert type(cached.program.items[-1]).__name__ == "ErrorStmt"
    assert summary(cached) == summary(analyze(t2, path, use_cache=False))


def test_fast_binding_equals_the_constructor():
    from tl_core.check.names import Binding, Scope, new_binding
    from tl_core.lang.types import UNKNOWN
    from tl_core.syntax.span import Span

    sp, whole = Span(3, 9, 1, 2, 1, 8), Span(0, 20, 1, 0, 2, 1)
    scope = Scope(whole, None, "script")
    for path, sc in ((None, scope), ("/x.tl", None)):
        slow = Binding("w", "variable", sp, whole, UNKNOWN, path=path, node=7,
                       scope=sc)
        slow.serial = 5
        fast = new_binding("w", "variable", sp, whole, UNKNOWN, 7, path, sc, 5)
        assert vars(fast) == vars(slow) and fast.scope is slow.scope is sc
