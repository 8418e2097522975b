"""The checker proper: scopes, name resolution, type/shape inference, fn unification.

One `Checker` walks one document. Top-level statements are checked in order as a script;
`fn` declarations are collected first (visible file-wide) and their bodies are checked
afterwards with their shape variables symbolic. Unknown stays unknown: every rule reports
only what it can prove.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from typing import Any

from tl_core.check import memo as M
from tl_core.check import navigate as NAV
from tl_core.check import structs as CS
from tl_core.check.imports import ImportResolver
from tl_core.check.learn import check_embedding, check_learn
from tl_core.check.logic import LogicCheck, collect
from tl_core.check.memo import type_sig
from tl_core.check.model import Binding, ImportInfo, Ref, Scope, node_key
from tl_core.check.names import new_binding
from tl_core.check.placing import ref_maker
from tl_core.diagnostics import Diagnostic, Related, Severity
from tl_core.lang import shapes as S
from tl_core.lang.builtins import BUFFER_METHODS, BUILTINS, MODEL_METHODS
from tl_core.lang.collections import METHODS as VEC_METHODS
from tl_core.lang.collections import VECTORS
from tl_core.lang.collections import method_names as vec_method_names
from tl_core.lang.dtypes import NAMESPACES, VALUE_CASTS, canonical_dtype, is_int_dtype, kind_of
from tl_core.lang.keywords import DEVICES
from tl_core.lang.registry import STRING_KINDS, BindError, Builtin, bind_arguments, fallback_type
from tl_core.lang.scalars import MAX_FOLDED_STRING, int_div, rem, repeat
from tl_core.lang.shapes import ArgInfo, IndexItem, RuleArgs, ShapeError
from tl_core.lang.structs import StructDefs, undefined_struct
from tl_core.lang.stubs import PYTHON_INTEGRATION, path_message, stub_message
from tl_core.lang.text import nested_block_hint, unknown_with_type
from tl_core.lang.types import (
    BOOL,
    DEVICE,
    FLOAT,
    INT,
    STRING,
    UNKNOWN,
    UNKNOWN_DIM,
    VOID,
    Dim,
    DimVar,
    FnType,
    KVCacheType,
    ListType,
    MetadataType,
    ModelNodeType,
    ModelType,
    ScalarType,
    ShapeType,
    StructType,
    TensorBufferType,
    TensorType,
    TokenizerType,
    TupleType,
    Type,
    UnknownType,
    VecType,
    dim_value,
)
from tl_core.limits import host_memory, size_problem
from tl_core.models import ModelFileError, read_header
from tl_core.models.navigation import uncalled_method
from tl_core.read_wait import ReadPending
from tl_core.syntax import ast as A
from tl_core.syntax.span import LineIndex, Span
from tl_core.tokenizer import TokenizerError, load_tokenizer

W = Severity.WARNING
INT64_MAX = 2**63 - 1
ARITH = {"+", "-", "*", "/", "%", "**", "⊙"}
COMPARE = {"==", "!=", "<", "<=", ">", ">=", "≈"}
TENSOR_FIELDS = ("shape", "T", "dtype", "ndim", "size")
CONSTANTS: dict[str, Type] = {d: DEVICE for d in DEVICES}
# Statement forms of LANGUAGE.md section 5 that look like calls but are not built-ins.
STATEMENT_CALLS: dict[str, Type] = {"panic": VOID}


def join(a: Type, b: Type) -> Type:
    """The least precise type covering both (used after branches and loops)."""
    if a == b and not (isinstance(a, ScalarType) and a.value != b.value):  # type: ignore[attr-defined]
        return a
    if isinstance(a, TensorType) and isinstance(b, TensorType):
        if a.dims is None or b.dims is None or len(a.dims) != len(b.dims):
            return TensorType(a.dtype if a.dtype == b.dtype else "float16", None)
        dims = tuple(x if S.same_dim(x, y) else UNKNOWN_DIM for x, y in
                     zip(a.dims, b.dims, strict=True))
        return TensorType(a.dtype if a.dtype == b.dtype else "float16", dims)
    if isinstance(a, ScalarType) and isinstance(b, ScalarType) and a.name == b.name:
        return ScalarType(a.name)
    if isinstance(a, ModelType) and isinstance(b, ModelType):
        return ModelType()
    if isinstance(a, ModelNodeType) and isinstance(b, ModelNodeType):
        return NAV.join_nodes(a, b)
    if isinstance(a, ListType) and isinstance(b, ListType):
        return ListType(join(a.elem, b.elem))
    return UNKNOWN


def rigid_differ(declared: Dim, actual: Dim) -> bool:
    """Inside a fn body, two different unbound shape variables (`D` and `K`) are different
    sizes. A variable against a literal size is not reported: broadcasting `float16[N] +
    float16[2]` gives `[2]`, which is right whenever the call has N = 2 (or 1)."""
    if S.differ(declared, actual):
        return True
    return (isinstance(declared, DimVar) and declared.value is None and
            isinstance(actual, DimVar) and actual.value is None and
            actual.name != declared.name)


def widen(t: Type) -> Type:
    if isinstance(t, ScalarType):
        return ScalarType(t.name)
    return t


_new_ref = ref_maker()  # Ref(span, binding, builtin, is_def), made through its slots


class Checker:
    def __init__(self, text: str, path: str | None, base_dir: str, li: LineIndex) -> None:
        self.text = text
        self.path = path
        self.base_dir = base_dir
        self.li = li
        self.diags: list[Diagnostic] = []
        self.types: dict[tuple, Type] = {}  # node_key(node) -> type
        self.refs: dict[tuple[int, int], Ref] = {}
        self.point_types: dict[int, Type] = {}  # name occurrence start -> type there
        self.call_bindings: dict[int, dict[str, int]] = {}  # fn name at a call -> N=4 ...
        # for the per-item cache (tl_core.check.memo)
        self.serial = 0
        self.use_log: list[tuple[Binding, Span, bool]] = []
        # (name, stop_at_fn, binding found or None, its type and int_literal then: the item
        # may change them after the lookup, and a record must name the state it found)
        self.dep_log: list[tuple[str, bool, Binding | None, Type | None, bool]] = []
        self.uncacheable = False
        self.memo: object = None
        # called between top-level items; raises `Cancelled` to stop (tl_core/check/cancel.py)
        self.checkpoint: Callable[[], None] | None = None
        self.pending: list = []  # reused items not yet materialized (tl_core.check.memo)
        self.pending_runs: list[int] = []  # where each pass' (sorted) entries begin
        self.env_key: tuple = ()
        self.scopes: list[Scope] = []
        self.all_bindings: list[Binding] = []
        self.functions: dict[str, Binding] = {}
        self.structs: dict[str, Binding] = {}
        self._structs_key: tuple[str, ...] = ()  # `tuple(self.structs)`, kept (memo_fn_type)
        self.struct_defs = StructDefs()  # fields and impl methods (tl_core.check.structs)
        self.impl_name: str | None = None  # the impl whose methods are being checked
        self.relations: set[str] = set()  # declared or defined by a rule (facts name them)
        self.logic: Any = None  # tl_core.check.logic.LogicCheck, when the file has logic
        self.imports: list[ImportInfo] = []
        self.import_failed = False
        self.files: set[str] = set()  # the files the check looked at (Analysis.dependencies)
        self.journal: list[tuple[Binding, Type]] = []
        self.loop_depth = 0
        self.fn_stack: list[tuple[str, Type, A.FnDecl]] = []
        self.script: Scope | None = None
        # ("test" or "bench", main's scope) while checking a test/bench inside main
        self.nested_in_main: tuple[str, Scope] | None = None

    # ------------------------------------------------------------------ helpers

    def src(self, span: Span) -> str:
        return self.text[span.start:span.end]

    def error(self, span: Span, message: str, code: str = "error",
              severity: Severity = Severity.ERROR, related: tuple[Related, ...] = ()) -> None:
        self.diags.append(Diagnostic(span, message, severity, code, related))

    def new_scope(self, span: Span, parent: Scope | None, kind: str) -> Scope:
        s = Scope(span, parent, kind)
        self.scopes.append(s)
        return s

    def declare(self, scope: Scope, name: str, kind: str, span: Span, decl_span: Span,
                t: Type, node: object = None, path: str | None = None) -> Binding:
        b = new_binding(name, kind, span, decl_span, t, node, path, scope, self.serial)
        self.serial += 1
        scope.add(b)
        self.all_bindings.append(b)
        if path is None:
            start = span.start
            self.refs[(start, span.end)] = _new_ref(span, b, None, True)
            self.point_types[start] = t
        return b

    def use(self, b: Binding, span: Span, read: bool = True) -> None:
        b.refs[span.start] = span
        if read:
            b.reads += 1
        self.use_log.append((b, span, read))
        self.refs[(span.start, span.end)] = Ref(span, b)
        self.point_types[span.start] = b.type

    def resolve(self, scope: Scope, name: str, stop_at_fn: bool = False) -> Binding | None:
        """`scope.lookup`, remembered as a dependency of the item being checked."""
        b = scope.lookup(name, stop_at_fn)
        if not (stop_at_fn and self.in_fn_scope(scope)):
            if b is None:
                self.dep_log.append((name, stop_at_fn, None, None, False))
            else:
                self.dep_log.append((name, stop_at_fn, b, b.type, b.int_literal))
        return b

    def set_type(self, b: Binding, t: Type) -> None:
        self.journal.append((b, b.type))
        b.type = t

    def finish(self) -> list[Diagnostic]:
        # (reused items bring their warnings with them: ItemRecord.late_diags; their
        # bindings here are those of the script scope, never warned: skipped by class)
        lazy = M.LazySpanBinding
        for b in self.all_bindings:
            if type(b) is not lazy and M.unused_warned(b):
                self.error(b.span, M.unused_message(b.name), "unused-variable",
                           M.UNUSED_SEVERITY)
        seen: set[tuple[int, int, str]] = set()
        out = []
        for d in sorted(self.diags, key=lambda d: (d.span.start, d.span.end)):
            k = (d.span.start, d.span.end, d.message)
            if k not in seen:
                seen.add(k)
                out.append(d)
        return out

    # ------------------------------------------------------------------ types

    def type_of_expr(self, te: object) -> Type:
        if isinstance(te, A.TensorTypeExpr):
            dtype = canonical_dtype(te.dtype) or te.dtype
            if te.dims is None:
                return TensorType(dtype, None)
            dims: list[Dim] = []
            for d in te.dims:
                if d.kind == "int":
                    dims.append(int(d.value))  # type: ignore[arg-type]
                elif d.kind == "var":
                    dims.append(DimVar(str(d.value)))
                else:
                    dims.append(UNKNOWN_DIM)
            return TensorType(dtype, tuple(dims))
        if isinstance(te, A.NamedTypeExpr):
            n = te.name
            simple = {"int": INT, "float": FLOAT, "bool": BOOL, "string": STRING, "void": VOID,
                      "str": STRING, "Device": DEVICE}
            if n in simple:
                return ScalarType(n if n != "str" else "string") if n != "Device" else DEVICE
            if n == "Model":
                return ModelType()
            if n == "Tokenizer":
                return TokenizerType()
            if n == "KVCache":
                return KVCacheType()
            if n == "TensorBuffer":
                return TensorBufferType()
            dt = canonical_dtype(n)
            if dt is not None and n not in ("int", "float"):
                return TensorType(dt, None)
            if n in self.structs:
                return StructType(n)
            return UNKNOWN
        return UNKNOWN

    # ------------------------------------------------------------------ program

    def check_program(self, program: A.Program) -> None:
        script = self.new_scope(program.span, None, "script")
        self.script = script
        items = program.items
        # Each item's pass, by the class of its node (thousands of items, a few classes):
        # `decls` pass 1, `script_items` pass 2, `fn_items` pass 3 (fns and impls).
        decls, script_items, fn_items, has_logic = _by_pass(items)
        # Pass 1: file-wide declarations (fns, structs, relations, entities, imports).
        resolver = ImportResolver(self.path, self.base_dir)
        seen_imports: dict[str, A.Import] = {}
        for it in decls:
            if isinstance(it, A.Import):
                self.check_import(it, resolver, seen_imports, script)
        self.files.update(resolver.read)
        checkpoint = self.checkpoint
        for n, it in enumerate(decls):
            if checkpoint is not None and not n & 63:
                checkpoint()  # (a hover meanwhile has the interpreter to itself; 256
                # declarations, ~2 ms, held a hover sent right after an edit: issue 18)
            if isinstance(it, A.FnDecl):
                self.declare_fn(script, it)
            elif isinstance(it, A.StructDecl):
                b = self.declare(script, it.name, "struct", it.name_span, it.span,
                                 StructType(it.name), it)
                self.structs[it.name] = b
                self.struct_defs.add_struct(it)
            elif isinstance(it, A.RelationDecl):
                self.relations.add(it.name)
                self.declare(script, it.name, "relation", it.name_span, it.span, UNKNOWN, it)
            elif isinstance(it, A.EntityDecl):
                self.declare(script, it.name, "entity", it.name_span, it.span, UNKNOWN, it)
                if it.members is not None:
                    for m in it.members.items:
                        self.declare(script, m.id, "entity", m.span, m.span, UNKNOWN, it)
            elif isinstance(it, A.EmbeddingDecl):
                self.declare(script, it.name, "embedding", it.name_span, it.span, UNKNOWN, it)
        for it in fn_items:  # after every struct is known
            if isinstance(it, A.ImplDecl):
                CS.collect_impl(self, it)
        logic_key = self.collect_logic(items, script) if has_logic else ()
        self.env_key = (self.import_failed, tuple(sorted(self.structs)),
                        self.struct_defs.key(),
                        tuple(sorted(self.relations)), self.base_dir, logic_key)
        # Pass 2: the script, in order.
        self.pending_runs.append(len(self.pending))  # each pass adds items in text order
        self.run_pass("item", script_items, script, self.check_item)
        # Pass 3: fn bodies (symbolic shapes) and impl methods.
        self.pending_runs.append(len(self.pending))
        self.run_pass("fn", fn_items, script, self.check_fn_body)

    def check_impl(self, it: A.ImplDecl, script: Scope) -> None:
        self.impl_name = it.target.name
        try:
            for m in it.methods:
                self.check_fn_body(m, script, self_type=StructType(it.target.name))
        finally:
            self.impl_name = None

    def run_pass(self, kind: str, items: list, script: Scope, run: Any) -> None:
        """Check `items` in order (`run(item, script)`; an impl of pass 3 by `check_impl`).

        With the check cache (tl_core.check.memo) an unchanged item replays its record, and
        an unchanged run of items (a block: the items up to one whose text hashes to a
        boundary, so that an edit changes only the block around it) replays as one
        (`memo.replay_block`): one key, one text comparison and one dependency check for
        the run, instead of one per item. Runs for every item on every edit: kept lean."""
        checkpoint = self.checkpoint
        memo: Any = self.memo
        n = len(items)
        if memo is None:
            for i, it in enumerate(items):
                if checkpoint is not None and not i & 15:
                    checkpoint()
                if type(it) is A.ImplDecl:
                    self.check_impl(it, script)
                else:
                    run(it, script)
            return
        text, env_key = self.text, self.env_key
        old, new = memo.old, memo.new
        mask = M.BLOCK_MASK
        forming: list[tuple] = []  # the items checked one by one since the last boundary
        i = 0
        next_checkpoint = 0
        while i < n:
            if checkpoint is not None and i >= next_checkpoint:
                checkpoint()
                next_checkpoint = i + 16  # (64 items, a few blocks: up to ~6 ms; issue 18)
            it = items[i]
            if type(it) is A.ImplDecl:  # never recorded: ends a block
                M.close_block(memo, text, forming)
                forming = []
                self.check_impl(it, script)
                i += 1
                continue
            span = it.span
            start, end = span.start, span.end  # (anchored spans compute them: read once)
            body = text[start:end]
            key = (kind, body, span.col, env_key, type(it))  # (text alone: an ErrorStmt
            # holding `a = a + 1.0` replayed the Assign of that text)
            if not forming:  # a block may start here
                bkey = ("block", key)
                blk = old.get(bkey) or new.get(bkey)
                if blk is not None:
                    m = blk.n
                    if (i + m <= n and items[i + m - 1].span.end - start == len(blk.text)
                            and text.startswith(blk.text, start)
                            and tuple(map(type, items[i:i + m])) == blk.classes):
                        kept = M.replay_block(self, blk, start, span.line, script)
                        if kept is not None:
                            new[bkey] = kept
                            memo.blocks.append(kept)
                            memo.hits += m
                            i += m
                            continue
            forming.append((self.memoized(kind, it, script, run, key, span, start, end),
                            start, span.line, end, type(it)))
            if M.block_boundary(body, mask):  # a block ends after this item
                M.close_block(memo, text, forming)
                forming = []
            i += 1
        M.close_block(memo, text, forming)

    def collect_logic(self, items: tuple[Any, ...], script: Scope) -> tuple:
        """Relation signatures and entity types for checking logic statements
        (tl_core.check.logic); rule-defined relations get a binding at their first head."""
        if not any(isinstance(it, (A.RelationDecl, A.EntityDecl, A.Rule, A.Query, A.Infer))
                   for it in items):
            return ()

        env = collect(items, self.text)
        self.logic = LogicCheck(self, env)
        for it in items:
            if isinstance(it, A.Rule) and isinstance(it.head.func, A.Name) and \
                    it.head.func.id not in self.relations:
                self.relations.add(it.head.func.id)
                self.declare(script, it.head.func.id, "relation", it.head.func.span, it.span,
                             UNKNOWN, it)
            elif isinstance(it, A.RelationDecl):
                self.logic.relation_decl(it)
        for name, sig in env.relations.items():
            b = script.lookup(name)
            if b is not None and b.kind == "relation":
                b.detail = sig.text()
        return env.key()

    def memoized(self, kind: str, node: object, outer: Scope, run: Any, key: tuple,
                 span: Span, start: int, end: int) -> Any:
        """`run(node, outer)`: check one top-level item (its cache key `key`, its span
        `span` from `start` to `end`), or replay its recorded effects
        (tl_core.check.memo). Returns the record kept for it, or None."""
        memo: Any = self.memo
        rec = memo.old.get(key) or memo.new.get(key)
        if rec is not None:
            kept = M.reuse(self, rec, start, span.line, end, outer)
            if kept is not None:
                memo.new[kept.key] = kept
                memo.hits += 1
                return kept
        memo.misses += 1
        snap = M.snapshot(self)
        run(node, outer)
        rec = M.record(self, snap, span, outer, key)
        if rec is not None:
            memo.new[key] = rec
        return rec

    def check_import(self, it: A.Import, resolver: ImportResolver,
                     seen: dict[str, A.Import], script: Scope) -> None:
        res = resolver.resolve(it.path)
        key = res.resolved or it.path
        if key in seen:
            first = seen[key]
            self.error(it.path_span, f"'{it.path}' is already imported on line "
                                     f"{first.span.line + 1}", "import",
                       related=(Related(first.path_span, "first imported here"),))
            self.imports.append(ImportInfo(it.span, it.path_span, it.path, res.resolved, False))
            return
        seen[key] = it
        if res.error or res.pending:
            if res.pending:
                self.still_reading(it.path_span, it.path, "import")
            else:
                self.error(it.path_span, res.error, "import")
            self.import_failed = True
            self.imports.append(ImportInfo(it.span, it.path_span, it.path, res.resolved, False))
            return
        self.imports.append(ImportInfo(it.span, it.path_span, it.path, res.resolved, True))
        for decl in res.declarations:
            node = decl.node
            if isinstance(node, A.FnDecl):
                b = self.declare(script, node.name, "function", node.name_span, node.span,
                                 self.fn_type(node), node, path=decl.path)
                self.functions[node.name] = b
            elif isinstance(node, A.StructDecl):
                b = self.declare(script, node.name, "struct", node.name_span, node.span,
                                 StructType(node.name), node, path=decl.path)
                self.structs[node.name] = b
                self.struct_defs.add_struct(node)
            elif isinstance(node, A.ImplDecl) and node.trait is None:
                self.struct_defs.add_impl(node)
            elif isinstance(node, A.TensorDecl):
                self.declare(script, node.name, "tensor", node.name_span, node.span,
                             self.type_of_expr(node.type), node, path=decl.path)

    def fn_type(self, fn: A.FnDecl) -> FnType:
        params = tuple((p.name, self.type_of_expr(p.type) if p.type is not None else UNKNOWN)
                       for p in fn.params)
        ret = self.type_of_expr(fn.ret) if fn.ret is not None else VOID
        return FnType(params, ret, fn.name)

    def memo_fn_type(self, fn: A.FnDecl) -> FnType:
        """`fn_type`, the same object again while the fn's header (and the structs declared
        before it) are unchanged: the per-item cache then sees its users' dependency on the
        fn unchanged by identity (tl_core.check.memo.reuse)."""
        memo = self.memo
        if memo is None:
            return self.fn_type(fn)
        structs = self._structs_key
        if len(structs) != len(self.structs):  # (structs are only added)
            structs = self._structs_key = tuple(self.structs)
        key = ("fn_type", self.text[fn.span.start:fn.body.span.start], structs)
        ft = memo.old.get(key) or memo.new.get(key)  # type: ignore[attr-defined]
        if ft is None:
            ft = self.fn_type(fn)
        memo.new[key] = ft  # type: ignore[attr-defined]
        return ft

    def declare_fn(self, script: Scope, fn: A.FnDecl) -> None:
        prev = self.functions.get(fn.name)
        if prev is not None and prev.path is None:
            self.error(fn.name_span, f"function '{fn.name}' is already defined on line "
                                     f"{prev.span.line + 1}", "duplicate-definition",
                       related=(Related(prev.span, "first defined here"),))
        seen: dict[str, A.Param] = {}
        for p in fn.params:
            if p.name in seen:
                self.error(p.name_span, f"duplicate parameter '{p.name}' in {fn.name}()",
                           "duplicate-param",
                           related=(Related(seen[p.name].name_span, "first declared here"),))
            seen[p.name] = p
        if fn.name in BUILTINS:
            self.error(fn.name_span, f"fn {fn.name} shadows the built-in {fn.name}(): calls to "
                                     f"{fn.name} in this program run this function (the "
                                     f"original TensorLogic runs the built-in); rename it to "
                                     f"keep both", "shadows-builtin", W)
        b = self.declare(script, fn.name, "function", fn.name_span, fn.span,
                         self.memo_fn_type(fn), fn)
        b.doc = self.doc_comment(fn.span)
        self.functions[fn.name] = b

    def doc_comment(self, span: Span) -> str:
        """The `//` comment lines right above a declaration."""
        lines = []
        ln = span.line - 1
        while ln >= 0:
            t = self.li.line_text(ln).strip()
            if not t.startswith("//") or t.startswith("// %%"):
                break
            lines.append(t[2:].strip())
            ln -= 1
        return "\n".join(reversed(lines))

    def check_item(self, it: object, script: Scope) -> None:
        if isinstance(it, (A.FnDecl, A.StructDecl, A.ImplDecl, A.Import, A.RelationDecl,
                           A.EntityDecl)):
            return
        if isinstance(it, A.EmbeddingDecl):
            check_embedding(self, it, script)
        elif isinstance(it, A.MainBlock):
            self.check_block(it.body, script, "main")
        elif isinstance(it, (A.TestDecl, A.BenchDecl)):
            self.check_block(it.body, script, "test" if isinstance(it, A.TestDecl) else "bench")
        elif isinstance(it, A.LearnBlock):
            check_learn(self, it, script)
        else:
            self.check_stmt(it, script)

    def check_fn_body(self, fn: A.FnDecl, script: Scope, self_type: Type | None = None) -> None:
        scope = self.new_scope(fn.span, script, "fn")
        for p in fn.params:
            if p.name == "self" and p.type is None:
                t = self_type or UNKNOWN
            else:
                t = self.type_of_expr(p.type) if p.type is not None else UNKNOWN
            b = self.declare(scope, p.name, "parameter", p.name_span, p.span, t, p)
            b.written_type = p.type is not None
        ret = self.type_of_expr(fn.ret) if fn.ret is not None else VOID
        self.fn_stack.append((fn.name, ret, fn))
        saved_loop = self.loop_depth
        self.loop_depth = 0
        try:
            self.check_block(fn.body, scope, "block", new_scope=False)
        finally:
            self.fn_stack.pop()
            self.loop_depth = saved_loop

    # ------------------------------------------------------------------ statements

    def check_block(self, block: A.Block, parent: Scope, kind: str = "block",
                    new_scope: bool = True) -> Scope:
        scope = self.new_scope(block.span, parent, kind) if new_scope else parent
        for st in block.stmts:
            self.check_stmt(st, scope)
        return scope

    def in_fn_scope(self, scope: Scope) -> bool:
        s: Scope | None = scope
        while s is not None:
            if s.kind == "fn":
                return True
            s = s.parent
        return False

    def check_stmt(self, st: object, scope: Scope) -> None:
        if isinstance(st, A.Let):
            t = self.infer(st.value, scope)
            if st.type is not None:
                declared = self.type_of_expr(st.type)
                self.check_assignable(declared, t, st.value.span,
                                      f"let {st.name}: {declared}")
                if not isinstance(declared, UnknownType):
                    t = self.refine(declared, t)
            prev = self.resolve(scope, st.name, stop_at_fn=True)
            if prev is not None and prev.kind in ("variable", "parameter", "tensor", "for") \
                    and prev.path is None and prev.span.start < st.span.start:
                self.error(st.name_span,
                           f"let {st.name} shadows the earlier '{st.name}' declared on line "
                           f"{prev.span.line + 1}", "shadowing", W,
                           related=(Related(prev.span, "earlier declaration"),))
            b = self.declare(scope, st.name, "variable", st.name_span, st.span, t, st)
            b.written_type = st.type is not None
            b.int_literal = self.is_int_literal(st.value, scope)
        elif isinstance(st, A.Assign):
            t = self.infer(st.value, scope)
            tgt = st.target
            if isinstance(tgt, A.Name):
                b = self.resolve(scope, tgt.id, stop_at_fn=self.in_fn_scope(scope))
                if b is not None and b.kind in ("function", "struct", "relation", "entity"):
                    b = None
                if b is None:
                    b = self.declare(scope, tgt.id, "variable", tgt.span, st.span, t, st)
                    b.int_literal = self.is_int_literal(st.value, scope)
                else:
                    self.use(b, tgt.span, read=False)
                    self.set_type(b, t)
                    self.point_types[tgt.span.start] = t
                    b.int_literal = self.is_int_literal(st.value, scope)
                self.types[node_key(tgt)] = t
            else:
                self.infer(tgt, scope)
                if isinstance(tgt, A.Field):  # `p.x = v`: v must fit the field
                    CS.assign_field(self, tgt, t)
        elif isinstance(st, A.TensorDecl):
            declared = self.type_of_expr(st.type)
            t = declared
            if st.value is None and isinstance(declared, TensorType) and declared.dims:
                t = self.check_size(st.type, declared)  # the runtime makes zeros of it
            if st.value is not None:
                vt = self.infer(st.value, scope)
                self.check_assignable(declared, vt, st.value.span, f"tensor {st.name}: {declared}")
                t = self.refine(declared, vt)
            b = self.declare(scope, st.name, "tensor", st.name_span, st.span, t, st)
            b.written_type = True
        elif isinstance(st, A.Return):
            if not self.fn_stack:
                self.error(st.span, "'return' outside a function; return is allowed only "
                                    "inside fn bodies", "return-outside-fn")
                if st.value is not None:
                    self.infer(st.value, scope)
                return
            name, ret, _ = self.fn_stack[-1]
            if st.value is None:
                if not (isinstance(ret, ScalarType) and ret.name == "void") and \
                        not isinstance(ret, UnknownType):
                    self.error(st.span, f"{name}() must return {ret}; this return has no value",
                               "return-type")
                return
            t = self.infer(st.value, scope)
            self.check_return(name, ret, t, st.value.span)
        elif isinstance(st, A.If):
            self.check_if(st, scope)
        elif isinstance(st, A.For):
            it = self.infer(st.iterable, scope)
            elem: Type = UNKNOWN
            if isinstance(it, ListType):
                elem = widen(it.elem)
            elif isinstance(it, TensorType) and it.dims:
                # the elements, flattened, as numbers (the original's, UPSTREAM.md 17.1)
                elem = INT if is_int_dtype(it.dtype) else FLOAT
            elif isinstance(it, ShapeType):
                elem = INT
            elif isinstance(st.iterable, A.SetLiteral):  # `for c in {paris, seoul}`
                elem = STRING
            body_scope = self.new_scope(st.span, scope, "loop")
            self.declare(body_scope, st.var, "for", st.var_span, st.span, elem, st)
            self.check_loop(st.body, body_scope)
        elif isinstance(st, A.While):
            self.check_condition(st.cond, scope)
            self.check_loop(st.body, scope)
        elif isinstance(st, A.Loop):
            self.check_loop(st.body, scope)
        elif isinstance(st, (A.Break, A.Continue)):
            if self.loop_depth == 0:
                word = "break" if isinstance(st, A.Break) else "continue"
                self.error(st.span, f"'{word}' outside a loop; {word} is allowed only inside "
                                    f"for, while and loop bodies", "break-outside-loop")
        elif isinstance(st, A.ExprStmt):
            e = st.expr
            if isinstance(e, A.Call) and isinstance(e.func, A.Name) and \
                    e.func.id in self.relations:
                self.logic.fact(e, scope)
                return
            self.infer(e, scope)
        elif isinstance(st, A.BlockStmt):
            self.check_block(st.block, scope)
        elif isinstance(st, A.With):  # the original's entity block (UPSTREAM.md 17.5)
            types = self.logic.env.types if self.logic is not None else {}
            if st.type_name not in types:
                self.error(st.type_span, unknown_with_type(st.type_name, types), "logic")
            self.check_block(st.body, scope)
        elif isinstance(st, (A.Rule, A.Query, A.Infer)) and self.logic is not None:
            self.logic.statement(st, scope)
        elif isinstance(st, A.LearnBlock):
            check_learn(self, st, scope)
        elif isinstance(st, (A.TestDecl, A.BenchDecl)):
            self.check_nested_block(st, scope)

    def check_nested_block(self, st: A.TestDecl | A.BenchDecl, scope: Scope) -> None:
        """`test NAME { }` / `bench NAME { }` directly inside `main`: a test or bench as at
        the top level (run by `tl test` / `tl bench`, skipped by `tl run`), so its body sees
        the top level, not main's locals; a name of main's used there gets a hint."""
        word = "test" if isinstance(st, A.TestDecl) else "bench"
        if scope.kind != "main":
            where = {"fn": "function", "loop": "loop body"}.get(scope.kind, scope.kind)
            self.error(st.span, f"{word} '{st.name}' inside a {where}: a {word} block stands "
                                f"at the top level or directly inside main; move it there",
                       f"{word}-placement")
            return
        script = scope
        while script.parent is not None:
            script = script.parent
        saved = self.nested_in_main
        self.nested_in_main = (word, scope)
        try:
            self.check_block(st.body, script, word)
        finally:
            self.nested_in_main = saved

    def check_condition(self, cond: object, scope: Scope) -> None:
        """An `if`/`while` condition: one value (as at run time, a known larger tensor is
        an error)."""
        t = self.infer(cond, scope)
        if isinstance(t, TensorType) and (n := S.numel(t)) is not None and n != 1:
            self.error(cond.span, f"a condition must be a single value, found {t}",  # type: ignore[attr-defined]
                       "type-mismatch")

    def check_if(self, st: A.If, scope: Scope) -> None:
        self.check_condition(st.cond, scope)
        mark = len(self.journal)
        self.check_block(st.then, scope)
        then_entries = self.journal[mark:]
        original: dict[int, tuple[Binding, Type]] = {}
        for b, old in then_entries:
            original.setdefault(id(b), (b, old))
        then_types = {k: b.type for k, (b, _) in original.items()}
        for b, old in original.values():
            b.type = old
        mark2 = len(self.journal)
        if isinstance(st.orelse, A.Block):
            self.check_block(st.orelse, scope)
        elif isinstance(st.orelse, A.If):
            self.check_if(st.orelse, scope)
        for b, old in self.journal[mark2:]:
            original.setdefault(id(b), (b, old))
        for k, (b, old) in original.items():
            t_then = then_types.get(k, old)
            t_else = b.type
            b.type = join(t_then, t_else)

    def check_loop(self, body: A.Block, scope: Scope) -> None:
        """Check a loop body; variables whose type changes across one iteration are widened
        and the body re-checked, so the second iteration's shapes never raise false errors."""
        self.loop_depth += 1
        try:
            mark = len(self.journal)
            snap = (len(self.diags), len(self.scopes), len(self.all_bindings))
            self.check_block(body, scope)
            changed: dict[int, tuple[Binding, Type]] = {}
            for b, old in self.journal[mark:]:
                changed.setdefault(id(b), (b, old))
            # compare with the constant values too: `n = n + 1` must not leave n = 1
            redo = [(b, old) for b, old in changed.values()
                    if b.scope is not None and self.scope_outside(b.scope, body) and
                    type_sig(join(old, b.type)) != type_sig(old)]
            if redo:
                del self.diags[snap[0]:]
                del self.scopes[snap[1]:]
                touched = {}
                for b in self.all_bindings[snap[2]:]:
                    if b.scope is not None and b.scope.names.get(b.name) is b:
                        del b.scope.names[b.name]
                    if b.scope is not None and b in b.scope.bindings:
                        b.scope.bindings.remove(b)
                        touched[id(b.scope)] = b.scope
                for s in touched.values():
                    s.reindex()
                del self.all_bindings[snap[2]:]
                for b, old in redo:
                    b.type = join(old, b.type)
                self.check_block(body, scope)
        finally:
            self.loop_depth -= 1

    @staticmethod
    def scope_outside(s: Scope, body: A.Block) -> bool:
        return not (body.span.start <= s.span.start and s.span.end <= body.span.end)

    def check_return(self, name: str, ret: Type, t: Type, span: Span) -> None:
        if isinstance(ret, TensorType) and isinstance(t, TensorType):
            if ret.dims is None or t.dims is None:
                return
            if len(ret.dims) != len(t.dims) or any(
                    rigid_differ(a, b) for a, b in zip(ret.dims, t.dims, strict=False)):
                self.error(span, f"{name}() is declared to return {ret} but this returns {t}",
                           "return-type")
        elif isinstance(ret, ScalarType) and ret.name == "void" and \
                not (isinstance(t, ScalarType) and t.name == "void"):
            self.error(span, f"{name}() has no declared return type but returns {t}; add "
                             f"-> {t} to its signature", "return-type")
        elif isinstance(ret, TensorType) and isinstance(t, (ScalarType, ModelType)) and \
                not (isinstance(t, ScalarType) and t.name in ("int", "float")):
            self.error(span, f"{name}() is declared to return {ret} but this returns {t}",
                       "return-type")

    def check_assignable(self, declared: Type, t: Type, span: Span, what: str) -> None:
        if isinstance(declared, TensorType) and isinstance(t, TensorType):
            if declared.dims is None or t.dims is None:
                return
            if (len(declared.dims) != len(t.dims) or any(
                    S.differ(a, b) for a, b in zip(declared.dims, t.dims, strict=False))) \
                    and not S.reshapes_to(declared.dims, t.dims):
                self.error(span, f"{what} does not match its value {t}", "type-mismatch")
        elif isinstance(declared, TensorType) and isinstance(t, (ModelType,)) or \
                isinstance(declared, TensorType) and isinstance(t, ScalarType) and \
                t.name in ("string", "bool"):
            self.error(span, f"{what} does not match its value {t}", "type-mismatch")

    @staticmethod
    def refine(declared: Type, t: Type) -> Type:
        """The declared type, with its `?`/variable dims filled from the value where known."""
        if isinstance(declared, TensorType) and isinstance(t, TensorType) and \
                declared.dims is not None and t.dims is not None and \
                len(declared.dims) == len(t.dims):
            dims = tuple(t.dims[i] if not isinstance(d, int) and dim_value(t.dims[i]) is not None
                         else d for i, d in enumerate(declared.dims))
            return TensorType(declared.dtype, dims)
        return declared

    # ------------------------------------------------------------------ expressions

    def is_int_literal(self, e: object, scope: Scope) -> bool:
        """An integer tensor written as a literal (or a name bound to one)."""
        if isinstance(e, A.ArrayLiteral):
            t = self.types.get(node_key(e))
            return isinstance(t, TensorType) and is_int_dtype(t.dtype) and bool(t.dims)
        if isinstance(e, A.TensorCtor):
            t = self.types.get(node_key(e))
            return isinstance(t, TensorType) and is_int_dtype(t.dtype)
        if isinstance(e, A.Name):
            b = self.resolve(scope, e.id)
            return b is not None and b.int_literal
        return False

    def warn_int_data(self, e: object, scope: Scope, t: Type) -> None:
        if self.is_int_literal(e, scope):
            self.error(e.span, f"integer tensor {self.src(e.span) if isinstance(e, A.Name) else 'literal'} "  # type: ignore[attr-defined]
                               f"({t}) used as data; integer tensors are meant as gather "
                               f"indices; write float values such as 1.0 for a float16 tensor",
                       "int-data", W)

    def infer(self, e: object, scope: Scope) -> Type:
        t = self._infer(e, scope)
        if type(t) is TensorType and t.dims and type(e) in _MAKERS:
            t = self.check_size(e, t)
        self.types[node_key(e)] = t
        return t

    def check_size(self, e: Any, t: TensorType) -> TensorType:
        """A tensor the program would make: its dimensions must fit MLX's int32 and its
        bytes this machine's memory. Reported where it is made; after that its shape is
        unknown (so what is computed from it is not reported again)."""
        dims = []
        for d in t.dims or ():
            v = dim_value(d)
            if v is None:
                return t
            dims.append(v)
        problem = size_problem(tuple(dims), t.dtype, _memory(), "this machine")
        if problem is None:
            return t
        self.error(e.span, problem, "size")
        return TensorType(t.dtype, None)

    def _infer(self, e: object, scope: Scope) -> Type:  # noqa: C901 - one dispatch
        if isinstance(e, A.Number):
            return ScalarType("float" if e.is_float else "int", e.value)
        if isinstance(e, A.String):
            return ScalarType("string", e.value)
        if isinstance(e, A.Bool):
            return ScalarType("bool", e.value)
        if isinstance(e, A.Name):
            return self.infer_name(e, scope)
        if isinstance(e, A.ArrayLiteral):
            return self.infer_array(e, scope)
        if isinstance(e, A.TupleExpr):
            return TupleType(tuple(self.infer(x, scope) for x in e.items))
        if isinstance(e, A.Call):
            return self.infer_call(e, scope)
        if isinstance(e, A.TensorCtor):
            return self.call_builtin(BUILTINS["tensor"], e.args, e.span, scope,
                                     dtype=canonical_dtype(e.dtype) or e.dtype)
        if isinstance(e, A.Field):
            return self.infer_field(e, scope)
        if isinstance(e, A.Path):
            self.error(e.span, path_message(e.base, e.member, False, []) or "", "not-a-value")
            return UNKNOWN
        if isinstance(e, A.Index):
            return self.infer_index(e, scope)
        if isinstance(e, A.Unary):
            t = self.infer(e.operand, scope)
            if e.op == "!":
                if isinstance(t, ScalarType) and t.name in ("int", "float", "string"):
                    self.error(e.operand.span, f"{'not' if e.word else '!'} needs a bool, "
                                               f"found {t.name}", "type-mismatch")
                    return BOOL
                return BOOL if not isinstance(t, TensorType) else TensorType("bool", t.dims)
            if isinstance(t, ScalarType) and isinstance(t.value, (int, float)) and \
                    not isinstance(t.value, bool):
                return ScalarType(t.name, -t.value)
            return t
        if isinstance(e, A.Binary):
            return self.infer_binary(e, scope)
        if isinstance(e, A.Cast):
            t = self.infer(e.expr, scope)
            target = self.type_of_expr(e.type)
            name = e.type.dtype if isinstance(e.type, A.TensorTypeExpr) else e.type.name
            if name in VALUE_CASTS and isinstance(t, TensorType):
                # one element: its value as a number (as at run time); unknown: either
                sizes = None if t.dims is None else [dim_value(d) for d in t.dims]
                if sizes is not None and all(v == 1 for v in sizes):
                    return FLOAT if kind_of(name) == "float" else INT
                if sizes is None or all(v in (None, 1) for v in sizes):
                    return UNKNOWN
            if isinstance(target, TensorType):
                if isinstance(t, TensorType):
                    return TensorType(target.dtype, t.dims)
                if isinstance(t, ScalarType):
                    return FLOAT if target.dtype.startswith(("float", "bfloat")) else INT
                return TensorType(target.dtype, None)
            if isinstance(target, ScalarType) and isinstance(t, ScalarType) and \
                    isinstance(t.value, (int, float)) and not isinstance(t.value, bool):
                if target.name == "int":
                    v = int(t.value) if math.isfinite(t.value) else None
                    return ScalarType("int", v if v is not None and _modest(v) else None)
                if target.name == "float":
                    return ScalarType("float", float(t.value))
            if isinstance(target, ScalarType) and isinstance(t, TensorType):
                return TensorType("int64" if target.name == "int" else "float16", t.dims)
            return target
        if isinstance(e, A.StructLit):
            return CS.literal(self, e, scope)
        if isinstance(e, A.Match):
            self.infer(e.scrutinee, scope)
            result: Type | None = None
            for arm in e.arms:
                s = self.new_scope(arm.span, scope, "block")
                self.bind_pattern(arm.pattern, s)
                if arm.guard is not None:
                    self.infer(arm.guard, s)
                t = self.infer(arm.body, s)
                result = t if result is None else join(result, t)
            return result or UNKNOWN
        if isinstance(e, A.BlockExpr):
            s = self.new_scope(e.block.span, scope, "block")
            last: Type = VOID
            for st in e.block.stmts:
                self.check_stmt(st, s)
                if isinstance(st, A.ExprStmt):
                    last = self.types.get(node_key(st.expr), UNKNOWN)
            return last
        return UNKNOWN

    def bind_pattern(self, p: object, scope: Scope) -> None:
        if isinstance(p, A.PatBind):
            self.declare(scope, p.name, "for", p.span, p.span, UNKNOWN, p)
        elif isinstance(p, A.PatTuple):
            for x in p.items:
                self.bind_pattern(x, scope)
        elif isinstance(p, A.PatOr):
            for x in p.alternatives:
                self.bind_pattern(x, scope)
        elif isinstance(p, A.PatStruct):
            CS.bind_pattern(self, p, scope)

    def visible_names(self, scope: Scope) -> list[str]:
        names: set[str] = set()
        s: Scope | None = scope
        while s is not None:
            names.update(s.names)
            s = s.parent
        names.update(self.functions)
        return sorted(names)

    def infer_name(self, e: A.Name, scope: Scope) -> Type:
        b = self.resolve(scope, e.id)
        if b is not None:
            self.use(b, e.span)
            return b.type
        if e.id in CONSTANTS:
            return CONSTANTS[e.id]
        if e.id in BUILTINS:
            self.refs[(e.span.start, e.span.end)] = Ref(e.span, None, e.id)
            return UNKNOWN
        if self.import_failed or e.id in NAMESPACES or e.id == "self":
            return UNKNOWN
        self.uncacheable = True
        if e.id == "python":  # `python.call(...)`: the original's Python integration
            if not self.text[e.span.end:e.span.end + 20].lstrip(" \t").startswith("import"):
                self.error(e.span, PYTHON_INTEGRATION, "undefined-name")  # (the parser says
            return UNKNOWN  # it of `python import m`)
        msg = f"undefined name '{e.id}'"
        hint = S.did_you_mean(e.id, self.visible_names(scope) + list(BUILTINS), 0.7)
        if self.nested_in_main is not None:
            word, main_scope = self.nested_in_main
            local = main_scope.lookup(e.id)
            if local is not None and local.scope is not None and \
                    local.scope.parent is not None:
                hint = nested_block_hint(e.id, word, local.span.line + 1)
        self.error(e.span, f"{msg}; {hint}" if hint else msg, "undefined-name")
        return UNKNOWN

    def infer_array(self, e: A.ArrayLiteral, scope: Scope) -> Type:
        if not e.items:
            return ListType(UNKNOWN, 0)
        types = [self.infer(x, scope) for x in e.items]
        if all(isinstance(t, ScalarType) and t.name in ("int", "float") for t in types):
            dtype = "float16" if any(t.name == "float" for t in types) else "int64"  # type: ignore[attr-defined]
            return TensorType(dtype, (len(types),))
        if all(isinstance(x, A.ArrayLiteral) for x in e.items) and \
                all(isinstance(t, TensorType) and t.dims is not None for t in types):
            first = types[0]
            assert isinstance(first, TensorType) and first.dims is not None
            for x, t in zip(e.items[1:], types[1:], strict=True):
                assert isinstance(t, TensorType) and t.dims is not None
                if t.dims != first.dims:
                    self.error(x.span, f"ragged tensor literal: this row is "
                                       f"{list(t.dims)} but the first row is "
                                       f"{list(first.dims)}; every row needs the same shape",
                               "ragged")
                    return TensorType(first.dtype, None)
            dtype = "float16" if any(isinstance(t, TensorType) and not is_int_dtype(t.dtype)
                                     for t in types) else first.dtype
            return TensorType(dtype, (len(types),) + first.dims)
        if all(isinstance(t, TensorType) for t in types):
            return ListType(types[0], len(types))
        return ListType(types[0] if len({str(t) for t in types}) == 1 else UNKNOWN, len(types))

    def const_value(self, e: object, t: Type) -> object:
        """The compile-time value of an argument, when the checker knows it."""
        if isinstance(t, ScalarType):
            return t.value
        if isinstance(e, A.ArrayLiteral):
            vals = []
            for x in e.items:
                xt = self.types.get(node_key(x), UNKNOWN)
                if isinstance(xt, ScalarType) and xt.name in ("int", "float"):
                    vals.append(xt.value)
                elif isinstance(xt, TensorType) or isinstance(x, A.ArrayLiteral):
                    vals.append(xt)
                else:
                    vals.append(xt if isinstance(xt, TensorType) else None)
            return vals
        if isinstance(t, ListType) and isinstance(t.elem, TensorType):
            return None
        return None

    def arg_infos(self, args: tuple[A.Arg, ...], scope: Scope) -> list[ArgInfo]:
        out = []
        for a in args:
            t = self.infer(a.value, scope)
            out.append(ArgInfo(t, self.const_value(a.value, t), self.src(a.value.span),
                               self.is_int_literal(a.value, scope)))
        return out

    # -- calls

    def infer_call(self, e: A.Call, scope: Scope) -> Type:
        f = e.func
        if isinstance(f, A.Name):
            b = self.resolve(scope, f.id)
            if b is not None and b.kind == "function":
                self.use(b, f.span)
                self.types[node_key(f)] = b.type
                return self.call_fn(b, e, scope)
            if b is None and f.id in BUILTINS:
                self.refs[(f.span.start, f.span.end)] = Ref(f.span, None, f.id)
                return self.call_builtin(BUILTINS[f.id], e.args, e.span, scope)
            if b is not None and b.kind == "struct":
                self.use(b, f.span)
                self.arg_infos(e.args, scope)
                return StructType(f.id)
            if b is None and f.id in self.relations:
                return UNKNOWN
            if b is None and f.id in STATEMENT_CALLS:
                self.arg_infos(e.args, scope)
                return STATEMENT_CALLS[f.id]
            if b is None:
                if not self.import_failed and f.id not in NAMESPACES:
                    self.uncacheable = True
                    msg = f"undefined function '{f.id}'"
                    hint = S.did_you_mean(f.id, list(self.functions) + list(BUILTINS), 0.7)
                    stub = stub_message(f.id)
                    self.error(f.span, stub or (f"{msg}; {hint}" if hint else msg),
                               "undefined-name")
                self.arg_infos(e.args, scope)
                return UNKNOWN
            self.use(b, f.span)
            self.arg_infos(e.args, scope)
            return UNKNOWN
        if isinstance(f, A.Field):
            obj_t = self.infer(f.obj, scope)
            if isinstance(obj_t, VecType):
                return self.call_vec_method(obj_t, f, e, scope)
            if isinstance(obj_t, ModelType):
                if f.name not in BUILTINS:
                    self.arg_infos(e.args, scope)
                    hint = S.did_you_mean(f.name, list(MODEL_METHODS), 0.6)
                    self.error(f.name_span, f"Model has no method '{f.name}'; methods: "
                                            f"{', '.join(MODEL_METHODS)}"
                                            + (f"; {hint}" if hint else ""),
                               "unknown-member")
                    return UNKNOWN
            if isinstance(obj_t, ModelNodeType):
                self.arg_infos(e.args, scope)
                NAV.no_method(self, obj_t, f)
                return UNKNOWN
            if isinstance(obj_t, StructType):
                return CS.method_call(self, obj_t, f, e, scope)
            if isinstance(obj_t, TensorBufferType):
                return self.call_buffer_method(f, e, scope)
            # Any built-in may be called as a method on its first argument (`x.sum(dim: 0)`).
            if isinstance(obj_t, (TensorType, ModelType, TokenizerType, KVCacheType)) and \
                    f.name in BUILTINS and \
                    BUILTINS[f.name].params:
                self.refs[(f.name_span.start, f.name_span.end)] = Ref(f.name_span, None, f.name)
                return self.call_builtin(BUILTINS[f.name], e.args, e.span, scope,
                                         receiver=(obj_t, f.obj))
            self.arg_infos(e.args, scope)
            return UNKNOWN
        if isinstance(f, A.Path):
            if f.base in VECTORS:
                self.arg_infos(e.args, scope)
                if f.member != "new" or e.args:
                    self.error(e.span, f"{f.base}::{f.member}: a vector is made with "
                                       f"{f.base}::new()", "arguments")
                    return UNKNOWN
                return VecType(f.base)
            full = f"{f.base}::{f.member}"
            if full in BUILTINS:  # `KVCache::new_f16(n)`: an entry of its own
                self.refs[(f.member_span.start, f.member_span.end)] = Ref(f.member_span, None,
                                                                          full)
                return self.call_builtin(BUILTINS[full], e.args, e.span, scope)
            if f.base in NAMESPACES and f.base != "KVCache" and f.member in BUILTINS:
                self.refs[(f.member_span.start, f.member_span.end)] = Ref(f.member_span, None,
                                                                          f.member)
                return self.call_builtin(BUILTINS[f.member], e.args, e.span, scope,
                                         dtype=NAMESPACES[f.base])
            if f.base in self.structs or f.base == "Self" or f.base in self.struct_defs.methods:
                return CS.path_call(self, f, e, scope)
            if f.base in NAMESPACES:
                self.error(e.func.span, path_message(f.base, f.member, True, list(BUILTINS))
                           or "", "undefined-name")
            elif not self.import_failed:
                self.error(f.base_span, undefined_struct(f.base, list(self.structs)),
                           "undefined-name")
            self.arg_infos(e.args, scope)
            return UNKNOWN
        self.infer(f, scope)
        self.arg_infos(e.args, scope)
        return UNKNOWN

    def call_buffer_method(self, f: A.Field, e: A.Call, scope: Scope) -> Type:
        """`buf.zeros(shape)`: the registry entry `TensorBuffer::zeros`, `buf` first."""
        full = f"TensorBuffer::{f.name}"
        if f.name not in BUFFER_METHODS:
            self.arg_infos(e.args, scope)
            hint = S.did_you_mean(f.name, list(BUFFER_METHODS), 0.6)
            self.error(f.name_span, f"TensorBuffer has no method '{f.name}'; methods: "
                                    f"{', '.join(BUFFER_METHODS)}"
                                    + (f"; {hint}" if hint else ""), "unknown-member")
            return UNKNOWN
        self.refs[(f.name_span.start, f.name_span.end)] = Ref(f.name_span, None, full)
        return self.call_builtin(BUILTINS[full], e.args, e.span, scope,
                                 receiver=(TensorBufferType(), f.obj))

    def call_vec_method(self, v: VecType, f: A.Field, e: A.Call, scope: Scope) -> Type:
        infos = self.arg_infos(e.args, scope)
        m = VEC_METHODS.get(f.name)
        if m is None:
            hint = S.did_you_mean(f.name, list(VEC_METHODS), 0.6)
            self.error(f.name_span, f"{v.kind} has no method '{f.name}'; methods: "
                                    f"{vec_method_names()}" + (f"; {hint}" if hint else ""),
                       "unknown-member")
            return UNKNOWN
        if len(e.args) != len(m.params) or any(a.name is not None for a in e.args):
            self.error(e.span, f"{v.kind}.{m.label} takes {len(m.params)} argument"
                               f"{'s' if len(m.params) != 1 else ''}, found {len(e.args)}",
                       "arguments")
        elif "x" in m.params:
            t = infos[m.params.index("x")].type
            elem = VECTORS[v.kind]
            ok = not isinstance(t, ScalarType) or t.name == elem or (
                elem == "float" and t.name == "int")
            if isinstance(t, (TensorType, ModelType)) or not ok:
                self.error(e.args[m.params.index("x")].span,
                           f"{v.kind} holds {elem} values, found {t}", "type-mismatch")
        return {"void": VOID, "bool": BOOL}.get(m.returns, ScalarType(VECTORS[v.kind]))

    def call_builtin(self, b: Builtin, args: tuple[A.Arg, ...], span: Span, scope: Scope,
                     dtype: str | None = None,
                     receiver: tuple[Type, object] | None = None) -> Type:
        infos = self.arg_infos(args, scope)
        positional = [i for i, a in enumerate(args) if a.name is None]
        kw = [a for a in args if a.name is not None]
        offset = 0
        if receiver is not None:
            rt, rnode = receiver
            infos = [ArgInfo(rt, None, self.src(rnode.span))] + infos  # type: ignore[attr-defined]
            offset = 1
        n_pos = len(positional) + offset
        ret_unknown = fallback_type(b)
        try:
            bound = bind_arguments(b, n_pos, [a.name for a in kw])  # type: ignore[misc]
        except BindError as err:
            at = span
            if err.keyword is not None:
                for a in kw:
                    if a.name == err.keyword:
                        at = a.name_span or a.span
            elif err.position is not None and err.position - offset < len(positional):
                at = args[positional[err.position - offset]].span
            self.error(at, err.message, "arguments")
            return ret_unknown

        def arg_node(pos: int) -> A.Arg | None:
            pos -= offset
            return args[positional[pos]] if 0 <= pos < len(positional) else None

        named: dict[str, ArgInfo] = {}
        spans: dict[str, Span] = {}
        rest: list[ArgInfo] = []
        keywords: dict[str, ArgInfo] = {}
        kw_index = {a.name: i for i, a in enumerate(args) if a.name is not None}

        def info_of(i: int) -> ArgInfo:
            return infos[i + offset]

        for pname, where in bound.items():
            if isinstance(where, int):
                if b.variadic and pname == b.params[-1].name:
                    for p in range(where, n_pos):
                        node = arg_node(p)
                        rest.append(infos[positional[p - offset] + offset]
                                    if node is not None else infos[0])
                    node = arg_node(where)
                    if node is not None:
                        spans[pname] = node.span
                    continue
                node = arg_node(where)
                named[pname] = infos[0] if node is None else info_of(positional[where - offset])
                spans[pname] = span if node is None else node.value.span
            else:
                i = kw_index[where]
                if b.var_keyword and pname not in {p.name for p in b.params[:-1]}:
                    keywords[pname] = info_of(i)
                else:
                    named[pname] = info_of(i)
                spans[pname] = args[i].value.span
        # kinds
        params = {p.name: p for p in b.params}
        for pname, info in named.items():
            p = params.get(pname)
            if p is None:
                continue
            bad = self.kind_mismatch(p.kind, info.type)
            if bad:
                self.error(spans.get(pname, span), f"{b.name}(): argument '{pname}' must be "
                                                   f"{bad}; found {info.type}"
                                                   f"{NAV.tensor_hint(info.type, info.text)}",
                           "type-mismatch")
                return ret_unknown
            if info.is_int_literal and p.kind == "tensor" and b.category in ("math", "nn"):
                self.error(spans.get(pname, span),
                           f"integer tensor {info.text} ({info.type}) used as data in "
                           f"{b.name}(); integer tensors are meant as gather indices; write "
                           f"float values such as 1.0 for a float16 tensor", "int-data", W)
        opened = {p.name: self.load_model(named.get(p.name), spans.get(p.name, span))
                  for p in b.params_of_kind("model_path") if p.name in named}
        opened.update((p.name, self.load_tokenizer(named.get(p.name), spans.get(p.name, span)))
                      for p in b.params_of_kind("tokenizer_path") if p.name in named)
        rule_args = RuleArgs(b.name, named, tuple(rest), keywords, dtype, opened,
                             frozenset(k for k, v in bound.items() if isinstance(v, int)))
        try:
            result = b.shape_rule(rule_args)
            for message, param in rule_args.notes:
                self.error(spans.get(param, span) if param else span, message, "compat", W)
            return result
        except ShapeError as err:
            at = spans.get(err.param, span) if err.param else span
            p = b.param(err.param) if err.param else None
            code = "unknown-tensor" if p is not None and p.kind == "tensor_name" else "shape"
            self.error(at, err.full_message(), code)
            return ret_unknown

    @staticmethod
    def kind_mismatch(kind: str, t: Type) -> str | None:
        """A description of what was expected when `t` clearly cannot fill `kind`."""
        if isinstance(t, UnknownType):
            return None
        if kind in ("tensor", "indices"):
            if isinstance(t, (ModelType, MetadataType, ModelNodeType, TokenizerType,
                              KVCacheType, TensorBufferType)) or (
                    isinstance(t, ScalarType) and t.name in ("string", "void")):
                return "a tensor"
        elif kind == "model":
            if isinstance(t, (TensorType, ShapeType, ListType)) or isinstance(t, ScalarType):
                return "a Model (from load_model or model_from)"
        elif kind == "tokenizer":
            if not isinstance(t, TokenizerType):
                return "a Tokenizer (from load_tokenizer)"
        elif kind == "kvcache":
            if not isinstance(t, KVCacheType):
                return "a KVCache (from KVCache::new_f16 or KVCache::new_f32)"
        elif kind == "tensor_buffer":
            if not isinstance(t, TensorBufferType):
                return "a TensorBuffer (from new_tensor_buffer)"
        elif kind in STRING_KINDS:
            if isinstance(t, (TensorType, ModelType)) or (
                    isinstance(t, ScalarType) and t.name in ("int", "float", "bool")):
                return "a string"
        elif kind == "int":
            # not tensors: a 0-d tensor (a reduction's result) may serve as an integer
            if isinstance(t, ModelType) or (isinstance(t, ScalarType) and t.name == "string"):
                return "an integer"
        return None

    def file_arg(self, info: ArgInfo | None) -> tuple[str, str] | None:
        """(as written, resolved against the program's directory) of a constant path
        argument; None when the path is not a constant."""
        self.uncacheable = True  # the file may change between two checks
        if info is None or not isinstance(info.value, str):
            return None
        written = info.value
        full = written if os.path.isabs(written) else os.path.join(self.base_dir, written)
        self.files.add(os.path.normpath(full))
        return written, full

    def file_error(self, span: Span, message: str, full: str) -> None:
        """A file that does not exist may exist when the program runs (or be written by
        it): a warning. A file that exists but cannot be read is an error."""
        missing = not os.path.lexists(full)
        self.error(span, message, "model-file", W if missing else Severity.ERROR)

    def still_reading(self, span: Span, written: str, code: str = "model-file") -> None:
        """A file read that outlived the language server's wait (`ReadWait`): typed as
        unknown now, checked again when the read ends."""
        self.error(span, f"still reading '{written}' (a slow disk?): what it holds is checked "
                         f"when the read ends", code, Severity.INFO)

    def load_model(self, info: ArgInfo | None, span: Span) -> Type:
        arg = self.file_arg(info)
        if arg is None:
            return ModelType()
        written, full = arg
        try:
            header = read_header(full)
        except ReadPending:
            self.still_reading(span, written)
            return ModelType(full)
        except ModelFileError as err:
            self.file_error(span, f"cannot open model '{written}': {err.message}", full)
            return ModelType(full)
        except OSError as err:  # pragma: no cover - read_header wraps these
            self.error(span, f"cannot open model '{written}': {err.strerror or err}",
                       "model-file")
            return ModelType(full)
        return ModelType(full, header)

    def load_tokenizer(self, info: ArgInfo | None, span: Span) -> Type:
        arg = self.file_arg(info)
        if arg is None:
            return TokenizerType()
        written, full = arg
        try:
            return TokenizerType(full, load_tokenizer(full))
        except ReadPending:
            self.still_reading(span, written)
            return TokenizerType()
        except TokenizerError as err:
            why = str(err).removeprefix(f"{full}: ")
            self.file_error(span, f"cannot load tokenizer '{written}': {why}", full)
            return TokenizerType(full)

    def call_fn(self, b: Binding, e: A.Call, scope: Scope) -> Type:
        ft = b.type
        infos = self.arg_infos(e.args, scope)
        if not isinstance(ft, FnType):
            return UNKNOWN
        params = ft.params
        names = [p for p, _ in params]
        slots: list[int | None] = [None] * len(params)
        n_pos = 0
        for i, a in enumerate(e.args):
            if a.name is None:
                if n_pos >= len(params):
                    self.error(a.span, f"{ft.name}() takes {len(params)} argument"
                                       f"{'s' if len(params) != 1 else ''} but "
                                       f"{sum(1 for x in e.args if x.name is None)} were given",
                               "arguments")
                    return self.subst(ft.ret, {})
                slots[n_pos] = i
                n_pos += 1
            else:
                if a.name not in names:
                    self.error(a.name_span or a.span, f"{ft.name}() has no parameter named "
                                                      f"'{a.name}'; parameters: "
                                                      f"{', '.join(names)}", "arguments")
                    return self.subst(ft.ret, {})
                k = names.index(a.name)
                if slots[k] is not None:
                    self.error(a.name_span or a.span, f"{ft.name}() got argument '{a.name}' "
                                                      f"twice", "arguments")
                    return self.subst(ft.ret, {})
                slots[k] = i
        missing = [names[k] for k, s in enumerate(slots) if s is None]
        if missing:
            given = sum(1 for s in slots if s is not None)
            self.error(e.span, f"{ft.name}() takes {len(params)} argument"
                               f"{'s' if len(params) != 1 else ''} but {given} "
                               f"{'were' if given != 1 else 'was'} given; missing "
                               + ", ".join(f"'{m}'" for m in missing), "arguments")
            return self.subst(ft.ret, {})
        binds: dict[str, tuple[Dim, int, str]] = {}  # var -> (value, arg index, param)
        for k, (pname, pt) in enumerate(params):
            i = slots[k]
            assert i is not None
            info = infos[i]
            arg = e.args[i]
            if not self.unify_arg(ft, k, pname, pt, info, arg, binds, infos, e):
                return self.subst(ft.ret, {v: d for v, (d, _, _) in binds.items()})
        values = {v: dim_value(d) for v, (d, _, _) in binds.items() if dim_value(d) is not None}
        if values and isinstance(e.func, A.Name):
            self.call_bindings[e.func.span.start] = values  # type: ignore[assignment]
        return self.subst(ft.ret, {v: d for v, (d, _, _) in binds.items()})

    def unify_arg(self, ft: FnType, k: int, pname: str, pt: Type, info: ArgInfo, arg: A.Arg,
                  binds: dict[str, tuple[Dim, int, str]], infos: list[ArgInfo],
                  call: A.Call) -> bool:
        at = info.type
        span = arg.value.span
        if isinstance(pt, TensorType):
            bad = self.kind_mismatch("tensor", at)
            if bad:
                self.error(span, f"{ft.name}(): argument '{pname}' must be {pt}; found {at}",
                           "type-mismatch")
                return False
            if not isinstance(at, TensorType) or at.dims is None or pt.dims is None:
                return True
            if len(at.dims) != len(pt.dims):
                self.error(span, f"{ft.name}(): argument '{pname}' must be {pt} "
                                 f"({len(pt.dims)} dimension{'s' if len(pt.dims) != 1 else ''}); "
                                 f"found {at} ({len(at.dims)} dimension"
                                 f"{'s' if len(at.dims) != 1 else ''})", "shape")
                return False
            for j, (pd, ad) in enumerate(zip(pt.dims, at.dims, strict=True)):
                if isinstance(pd, int):
                    if S.differ(pd, ad):
                        self.error(span, f"{ft.name}(): argument '{pname}' must be {pt}; "
                                         f"found {at} (dimension {j} is {S.dstr(ad)}, not {pd})",
                                   "shape")
                        return False
                elif isinstance(pd, DimVar):
                    prev = binds.get(pd.name)
                    if prev is None:
                        binds[pd.name] = (ad, k, pname)
                        continue
                    pv, pk, ppname = prev
                    if S.differ(pv, ad):
                        first_arg = call.args[self._slot_arg(call, ft, pk)]
                        first_t = infos[self._slot_arg(call, ft, pk)].type
                        hint = self.linear_hint(pt, at, binds, info.text, pname)
                        msg = (f"{ft.name}(): shape variable {pd.name} is {S.dstr(pv)} from "
                               f"argument '{ppname}' ({first_t}) but {S.dstr(ad)} from argument "
                               f"'{pname}' ({at})")
                        if hint:
                            msg += "; " + hint
                        self.error(span, msg, "shape", related=(Related(
                            first_arg.value.span, f"{pd.name} = {S.dstr(pv)} bound here"),))
                        return False
            return True
        bad = None
        if CS.arg_problem(pt, at):
            bad = str(at)
        if isinstance(pt, ModelType):
            bad = self.kind_mismatch("model", at)
        elif isinstance(pt, ScalarType) and pt.name == "string":
            bad = self.kind_mismatch("string", at)
        elif isinstance(pt, ScalarType) and pt.name in ("int",):
            bad = self.kind_mismatch("int", at)
            if isinstance(at, ScalarType) and at.name == "float" and \
                    isinstance(at.value, float) and not at.value.is_integer():
                bad = str(at)  # a whole float is taken, as the original's (UPSTREAM.md 17.2)
        if bad:
            self.error(span, f"{ft.name}(): argument '{pname}' must be {pt}; found {at}",
                       "type-mismatch")
            return False
        return True

    @staticmethod
    def _slot_arg(call: A.Call, ft: FnType, k: int) -> int:
        """The index in call.args of the argument filling parameter k."""
        names = [p for p, _ in ft.params]
        pos = 0
        for i, a in enumerate(call.args):
            if a.name is None:
                if pos == k:
                    return i
                pos += 1
            elif names.index(a.name) == k if a.name in names else False:
                return i
        return 0

    @staticmethod
    def linear_hint(pt: TensorType, at: TensorType, binds: dict[str, tuple[Dim, int, str]],
                    text: str, pname: str) -> str | None:
        """A PyTorch nn.Linear weight [out, in] passed where [in, out] is expected."""
        if pt.dims is None or at.dims is None or len(at.dims) != 2:
            return None
        rev = (at.dims[1], at.dims[0])
        for pd, ad in zip(pt.dims, rev, strict=True):
            if isinstance(pd, int) and S.differ(pd, ad):
                return None
            if isinstance(pd, DimVar) and pd.name in binds and S.differ(binds[pd.name][0], ad):
                return None
        if not text or len(text) > 24:
            return (f"argument '{pname}' looks like a PyTorch nn.Linear weight [out, in]: "
                    f"transpose it, or use linear(x, W), which takes it as is")
        return (f"{text} looks like a PyTorch nn.Linear weight [out, in]: did you mean "
                f"transpose({text})? (linear(x, {text}) takes it as is)")

    @staticmethod
    def subst(t: Type, binds: dict[str, Dim]) -> Type:
        if isinstance(t, TensorType) and t.dims is not None:
            dims: list[Dim] = []
            for d in t.dims:
                if isinstance(d, DimVar):
                    v = binds.get(d.name)
                    if v is None:
                        dims.append(UNKNOWN_DIM)
                    else:
                        dims.append(dim_value(v) if dim_value(v) is not None else v)  # type: ignore[arg-type]
                else:
                    dims.append(d)
            return TensorType(t.dtype, tuple(dims))
        return t

    # -- fields and indexing

    def infer_field(self, e: A.Field, scope: Scope) -> Type:
        t = self.infer(e.obj, scope)
        if isinstance(t, TensorType):
            if e.name == "shape":
                return ShapeType(t.dims)
            if e.name == "T":
                # as the runtime (MLX/NumPy): the axes reversed, for any rank
                return t if t.dims is None else TensorType(t.dtype, tuple(reversed(t.dims)))
            if e.name == "dtype":
                return STRING
            if e.name == "ndim":
                return ScalarType("int", len(t.dims) if t.dims is not None else None)
            if e.name == "size":
                n = S.numel(t)
                return ScalarType("int", n)
            hint = S.did_you_mean(e.name, list(TENSOR_FIELDS), 0.6)
            self.error(e.name_span, f"a tensor has no field '{e.name}'; fields: "
                                    f"{', '.join(TENSOR_FIELDS)}" + (f"; {hint}" if hint else ""),
                       "unknown-member")
            return UNKNOWN
        if isinstance(t, ModelType):
            if e.name == "metadata":
                return MetadataType(t.header)
            if e.name == "path":
                return ScalarType("string", t.path)
            if e.name in MODEL_METHODS:
                self.error(e.name_span, uncalled_method(self.src(e.span), e.name),
                           "unknown-member")
                return UNKNOWN
            return NAV.field(self, t, e)  # model navigation: model.blk[0].attn_q.weight
        if isinstance(t, ModelNodeType):
            return NAV.field(self, t, e)
        if isinstance(t, StructType):
            return CS.field(self, t, e)
        if isinstance(t, MetadataType):
            if t.header is not None:
                if e.name == "format":
                    return ScalarType("string", t.header.format)
                v = t.header.metadata.get(e.name)
                if isinstance(v, str):
                    return ScalarType("string", v)
                if isinstance(v, bool):
                    return ScalarType("bool", v)
                if isinstance(v, int):
                    return ScalarType("int", v)
                if isinstance(v, float):
                    return ScalarType("float", v)
            return UNKNOWN
        return UNKNOWN

    def infer_index(self, e: A.Index, scope: Scope) -> Type:
        t = self.infer(e.obj, scope)
        items: list[IndexItem] = []
        for it in e.items:
            if isinstance(it, A.Slice):
                vals = []
                for part in (it.start, it.stop, it.step):
                    if part is None:
                        vals.append(None)
                        continue
                    pt = self.infer(part, scope)
                    vals.append(pt.value if isinstance(pt, ScalarType) and
                                isinstance(pt.value, int) and not isinstance(pt.value, bool)
                                else None)
                known_step = vals[2] if it.step is not None else None
                if it.step is not None and vals[2] is None:
                    items.append(IndexItem("slice", has_start=True, has_stop=True))
                    continue
                items.append(IndexItem("slice", start=vals[0], stop=vals[1], step=known_step,
                                       has_start=it.start is not None,
                                       has_stop=it.stop is not None))
            else:
                it_t = self.infer(it, scope)
                if isinstance(it_t, ScalarType) and it_t.name in ("int",):
                    v = it_t.value if isinstance(it_t.value, int) else None
                    items.append(IndexItem("int", v))
                elif isinstance(it_t, TensorType):
                    if it_t.dims == ():
                        items.append(IndexItem("int"))
                    else:
                        items.append(IndexItem("tensor", type=it_t))
                else:
                    items.append(IndexItem("tensor", type=UNKNOWN))
        if isinstance(t, (ModelType, ModelNodeType)):  # model navigation: model.blk[0]
            return NAV.index(self, t, e, items, [self.types.get(node_key(x), UNKNOWN) for x in e.items])
        if isinstance(t, TensorType):
            try:
                return S.index(t, items)
            except ShapeError as err:
                self.error(e.span, err.full_message(), "shape")
                return TensorType(t.dtype, None)
        if isinstance(t, ShapeType):
            if len(items) == 1 and items[0].kind == "int":
                if t.dims is not None and items[0].value is not None:
                    i = items[0].value
                    if -len(t.dims) <= i < len(t.dims):
                        return ScalarType("int", dim_value(t.dims[i]))
                    self.error(e.span, f"index {i} is out of range for {t} "
                                       f"({len(t.dims)} dimensions)", "shape")
                return INT
            return ShapeType(None)
        if isinstance(t, ListType):
            if len(items) == 1 and items[0].kind == "int":
                return t.elem
            return t
        return UNKNOWN

    def infer_binary(self, e: A.Binary, scope: Scope) -> Type:
        if e.op == "~":
            return UNKNOWN
        lt = self.infer(e.left, scope)
        rt = self.infer(e.right, scope)
        op = e.op
        if op in ("&&", "||"):
            return BOOL
        for side, t in ((e.left, lt), (e.right, rt)):
            if isinstance(t, ModelNodeType):
                NAV.not_a_tensor(self, t, side)
                return UNKNOWN
            if isinstance(t, StructType):  # the runtime's words
                self.error(e.span, f"{lt} {op} {rt}: not defined for {t}", "type-mismatch")
                return UNKNOWN
        if op in ARITH or op == "@" or op == "⊗":
            if isinstance(lt, TensorType) or isinstance(rt, TensorType):
                for side, t in ((e.left, lt), (e.right, rt)):
                    if isinstance(t, TensorType):
                        self.warn_int_data(side, scope, t)
        if op == "@":
            if isinstance(lt, TensorType) and isinstance(rt, TensorType):
                try:
                    return S.matmul(lt, rt, self.src(e.left.span), self.src(e.right.span))
                except ShapeError as err:
                    self.error(e.op_span.cover(e.right.span).cover(e.left.span),
                               err.full_message(), "shape")
                    return TensorType(S.result_dtype(lt.dtype, rt.dtype), None)
            if isinstance(lt, TensorType) or isinstance(rt, TensorType):
                return TensorType("float16", None)
            return UNKNOWN
        if op == "⊗":
            if isinstance(lt, TensorType) and isinstance(rt, TensorType):
                if lt.dims is None or rt.dims is None:
                    return TensorType("float16", None)
                return TensorType(S.result_dtype(lt.dtype, rt.dtype), lt.dims + rt.dims)
            return TensorType("float16", None) if isinstance(lt, TensorType) or \
                isinstance(rt, TensorType) else UNKNOWN
        if op in COMPARE:
            if isinstance(lt, TensorType) or isinstance(rt, TensorType):
                try:
                    t = S.broadcast(lt, rt, op)
                except ShapeError as err:
                    self.error(e.span, err.full_message(), "shape")
                    return TensorType("bool", None)
                return TensorType("bool", t.dims) if isinstance(t, TensorType) else t
            if op not in ("==", "!=") and isinstance(lt, ScalarType) and \
                    isinstance(rt, ScalarType) and "string" in (lt.name, rt.name) and \
                    lt.name != rt.name:  # strings order only among strings (as at run time)
                self.error(e.span, f"{lt} {op} {rt}: not defined for strings", "type-mismatch")
            return BOOL
        # arithmetic
        if isinstance(lt, TensorType) or isinstance(rt, TensorType):
            if isinstance(lt, (ModelType, StructType, ModelNodeType)) or \
                    isinstance(rt, (ModelType, StructType, ModelNodeType)):
                return UNKNOWN
            for t in (lt, rt):
                if isinstance(t, ScalarType) and t.name in ("string",):
                    self.error(e.span, f"{lt} {op} {rt}: cannot combine a tensor and a "
                                       f"string", "type-mismatch")
                    return UNKNOWN
            try:
                return S.broadcast(lt, rt, op)
            except ShapeError as err:
                self.error(e.span, err.full_message(), "shape")
                return TensorType("float16", None)
        if isinstance(lt, ScalarType) and isinstance(rt, ScalarType):
            if lt.name == "string" and rt.name == "string" and op == "+":
                v = lt.value + rt.value if isinstance(lt.value, str) and \
                    isinstance(rt.value, str) else None
                return ScalarType("string", v)
            if op == "*" and {lt.name, rt.name} == {"string", "int"}:
                text, n = (lt.value, rt.value) if lt.name == "string" else (rt.value, lt.value)
                v = repeat(text, n) if isinstance(text, str) and isinstance(n, int) and \
                    len(text) * max(n, 0) <= MAX_FOLDED_STRING else None
                return ScalarType("string", v)
            if lt.name in ("int", "float") and rt.name in ("int", "float"):
                name = "int" if lt.name == rt.name == "int" else "float"
                return ScalarType(name, self.fold(op, lt.value, rt.value, name))
        return UNKNOWN

    @staticmethod
    def fold(op: str, a: object, b: object, name: str) -> object:
        """The value of `a op b` when both are known and the result is a modest number;
        None (unknown to the checker) otherwise. Bounded: the checker only types values, so
        it never computes an int beyond int64 or a power that would be (`10 ** 10 ** 10`
        in a function is typed `int`, not computed)."""
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or \
                isinstance(a, bool) or isinstance(b, bool):
            return None
        if not (_modest(a) and _modest(b)):
            return None
        try:
            if op == "+":
                v = a + b
            elif op == "-":
                v = a - b
            elif op == "*":
                v = a * b
            elif op == "/":
                v = int_div(a, b) if isinstance(a, int) and isinstance(b, int) else a / b
            elif op == "%":
                v = rem(a, b)
            elif op == "**":
                if isinstance(a, int) and isinstance(b, int) and abs(a) > 1 and b > 64:
                    return None  # |a| ** b > 2 ** 64: not a value the checker needs
                if isinstance(a, int) and isinstance(b, int) and b < 0:
                    return None  # an error at run time (not an int)
                v = a ** b
                if isinstance(v, complex):
                    return None
            else:
                return None
        except (ZeroDivisionError, OverflowError, ValueError):
            return None
        if isinstance(v, float) and (v != v or v in (math.inf, -math.inf)) and name == "int":
            return None
        v = int(v) if name == "int" else float(v)
        return v if _modest(v) else None


_DECLS = (A.Import, A.FnDecl, A.StructDecl, A.RelationDecl, A.EntityDecl, A.EmbeddingDecl)
_NOT_SCRIPT = (A.FnDecl, A.StructDecl, A.ImplDecl, A.Import, A.RelationDecl, A.EntityDecl)
_FNS = (A.FnDecl, A.ImplDecl)
_LOGIC = (A.RelationDecl, A.EntityDecl, A.Rule, A.Query, A.Infer)


def _by_pass(items: tuple[Any, ...]) -> tuple[list, list, list, bool]:
    """The items of each pass of `check_program`, in text order: (declarations for pass 1,
    script items for pass 2, fns and impls for pass 3, whether any is a logic item).
    `isinstance` runs once per node class, not per item: an edit re-runs this for each of
    thousands of unchanged items."""
    decls: list = []
    script: list = []
    fns: list = []
    where: dict[type, tuple[bool, bool, bool, bool]] = {}
    has_logic = False
    for it in items:
        w = where.get(type(it))
        if w is None:
            w = where[type(it)] = (isinstance(it, _DECLS), not isinstance(it, _NOT_SCRIPT),
                                   isinstance(it, _FNS), isinstance(it, _LOGIC))
        if w[0]:
            decls.append(it)
        if w[1]:
            script.append(it)
        if w[2]:
            fns.append(it)
        if w[3]:
            has_logic = True
    return decls, script, fns, has_logic


def _modest(v: int | float) -> bool:
    """A number the checker folds: ints within int64 (floats are bounded by themselves)."""
    return not isinstance(v, int) or -INT64_MAX - 1 <= v <= INT64_MAX


# Expressions that make a new tensor (where a too large one is reported).
_MAKERS = (A.Call, A.Binary, A.TensorCtor)


@functools.cache
def _memory() -> int:
    """This machine's memory (cached: it does not change while the process runs); 0 (no
    limit) when the system does not say."""
    return host_memory() or 2**200
