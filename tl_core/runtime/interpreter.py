"""The tree-walking interpreter: runs a parsed `ast.Program` on MLX.

One `Interpreter` holds a persistent global environment (a Session keeps it between runs),
the user functions, and the run's device. Built-ins are bound with the registry's
`bind_arguments` and run through `tl_core.runtime.ops`.

Evaluation is lazy inside MLX; the interpreter evaluates the tensors a statement produced
at the end of that statement (outside traced functions), so errors and interrupts point at
the right statement and graphs stay bounded in loops.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import operator
import os
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx

from tl_core.diagnostics import Diagnostic, Severity
from tl_core.lang import shapes as S
from tl_core.lang.builtins import BUFFER_METHODS, BUILTINS, MODEL_METHODS
from tl_core.lang.collections import METHODS as VEC_METHODS
from tl_core.lang.collections import VECTORS
from tl_core.lang.collections import accepts as vec_accepts
from tl_core.lang.collections import method_names as vec_method_names
from tl_core.lang.dtypes import FLOAT_DTYPES, NAMESPACES, VALUE_CASTS, kind_of
from tl_core.lang.keywords import DEVICES
from tl_core.lang.registry import BindError, bind_arguments
from tl_core.lang.scalars import checked_int, int_div, power, rem, repeat
from tl_core.lang.shapes import ArgInfo, RuleArgs, ShapeError
from tl_core.lang.structs import StructDefs, undefined_struct
from tl_core.lang.stubs import path_message, stub_message
from tl_core.lang.text import FormatError, format_braces, unknown_with_type
from tl_core.lang.types import UNKNOWN, ListType, ScalarType, TensorType
from tl_core.limits import dim_problem
from tl_core.logic.learn import run_learn
from tl_core.logic.run import EntityTypeValue, LogicRunner
from tl_core.models import ModelFileError, load_model
from tl_core.runtime import memory
from tl_core.runtime import navigate as NAV
from tl_core.runtime import structs as ST
from tl_core.runtime.env import Env
from tl_core.runtime.errors import Interrupted, NotSupported, OpError, Panic, TLRuntimeError
from tl_core.runtime.implementations import ops  # and every built-in implementation
from tl_core.runtime.kvcache import KVCache
from tl_core.runtime.printing import format_value
from tl_core.runtime.progress import MIN_BYTES, LoadProgress
from tl_core.runtime.tracecache import (
    DeviceInt,
    Untraceable,
    apply_outputs,
    cache_inputs,
    cache_key,
    reserve,
    step_plan,
    traced_cache,
    traced_outputs,
)
from tl_core.runtime.values import (
    DTYPES,
    FLOAT,
    BuiltinValue,
    FnValue,
    Record,
    TensorBuffer,
    Vec,
    dtype_name,
    tensor_type,
    type_name,
)
from tl_core.source import SYMLINK_LOOP, path_problem, read_source
from tl_core.syntax import ast, parse
from tl_core.syntax.span import Span

_DEVICE_NAMES = DEVICES
# Logic and learning statements run in tl_core.logic (see Interpreter.logic).
_LOGIC_ITEMS = (ast.EntityDecl, ast.RelationDecl, ast.Rule, ast.Query, ast.Infer,
                ast.EmbeddingDecl)


def gpu_available() -> bool:
    try:
        return bool(mx.is_available(mx.gpu))
    except Exception:  # noqa: BLE001 - older MLX without is_available
        return False


# Inside functions, statements' tensors are started in batches (Interpreter._settle).
SETTLE_STATEMENTS = 128
SETTLE_BYTES = 64 << 20


def compile_enabled() -> bool:
    return os.environ.get("TL_NO_COMPILE", "") in ("", "0")


# ---------------------------------------------------------------------------
# control-flow signals


class _Return(Exception):  # noqa: N818 - a signal, not an error
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):  # noqa: N818
    pass


class _Continue(Exception):  # noqa: N818
    pass


@dataclass
class FnInfo:
    decl: ast.FnDecl
    base_dir: Path
    text: str | None = None  # the source the spans index (error hints quote it)
    compiled: Any = None
    compilable: bool | None = None  # None: not analysed yet
    # Compiled runs (Interpreter.run_compiled): the int parameters passed as device scalars
    # (their value changed between calls, all else equal), those that must stay constants
    # (a trace with them on the device failed), and what each trace does to its caches.
    dynamic: frozenset[int] = frozenset()
    static: frozenset[int] = frozenset()
    plans: dict[Any, Any] = field(default_factory=dict)
    # For the fast call path, per parameter: ("t", want_int, dims as (kind, value) pairs) for
    # a tensor of known rank, ("s", check) for int/float/bool/string, ("n", type name) for
    # any other named type (a Model, a KVCache; a struct's name takes the full checks).
    # None when a parameter is none of these.
    plan: tuple[tuple[Any, ...], ...] | None = None
    planned: bool = False

    def make_plan(self) -> None:
        self.planned = True
        plan: list[tuple[Any, ...]] = []
        for p in self.decl.params:
            t = p.type
            if isinstance(t, ast.NamedTypeExpr) and not t.args:
                check = ST.SCALAR_CHECKS.get(t.name)
                plan.append(("s", check) if check is not None else ("n", t.name))
                continue
            if not isinstance(t, ast.TensorTypeExpr) or t.dims is None or t.dtype not in DTYPES:
                return
            want_int = kind_of(t.dtype) == "int"
            plan.append(("t", want_int, tuple((d.kind, d.value) for d in t.dims)))
        self.plan = tuple(plan)


@dataclass
class RunOutput:
    """What a run produced besides stdout."""

    last_value: Any = None
    last_value_span: Span | None = None
    has_value: bool = False
    warnings: list[Diagnostic] = field(default_factory=list)


class Interpreter:
    def __init__(
        self,
        base_dir: Path | str | None = None,
        device: str | None = None,
        write: Callable[[str], None] | None = None,
        warn: Callable[[Diagnostic], None] | None = None,
        interrupt: threading.Event | None = None,
        progress: bool = False,
    ) -> None:
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        self.globals = Env(frame=True)
        self.fns: dict[str, FnInfo] = {}
        # structs and impl methods (tl_core.runtime.structs); `impl_stack`: the impls whose
        # methods are running (what `Self` names)
        self.struct_defs = StructDefs()
        self.method_infos: dict[tuple[str, str], FnInfo] = {}
        self.impl_stack: list[str] = []
        self._write = write or (lambda s: None)
        self._warn = warn
        # id(Model) -> (the Model, its LoadProgress) while a run loads its tensors: one bar
        # per model, erased when the run prints or ends (end_load_progress)
        self._load_progress: dict[int, tuple[Any, Any]] = {}
        self.interrupt = interrupt or threading.Event()
        self.progress = progress
        self.warned: set[str] = set()
        self.tracing = 0
        # A compiled step's trace (run_compiled): its inputs, and what it did (the rows it
        # appended to each cache, the inputs it gathers with and their bounds).
        self.trace_inputs: list[mx.array] | None = None
        self.trace_bounds: list[tuple[int, int]] = []
        self.step_plans: tuple[Any, ...] | None = None
        self.depth = 0
        self.compile = compile_enabled()
        # When a new constant key's first call is traced at once instead of run uncompiled
        # (`run_compiled`): None, the first key of a function taking a KVCache (a prefill);
        # True, every key; False, none (bench/generate.py --cold-prefill measures both).
        self.trace_first: bool | None = None
        self._call_span: Span | None = None
        self.creation_dtype: Any = None  # the namespace's dtype during `f32::zeros(...)`
        self._imported: set[Path] = set()
        self.source_path: Path | None = None  # the file being run (import cycles start there)
        self._import_chain: list[Path] = []
        self.out = RunOutput()
        self._pending: list[mx.array] = []  # statements' tensors not started yet (_settle)
        self._pending_bytes = 0
        # per call site (id of the ast.Call, method call?, built-in) -> (the node, its
        # binding plan): a documented cache, emptied when it reaches _MAX_PLANS entries
        self._plans: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self.text: str | None = None  # the source being run (error hints quote it)
        self.device = "cpu"
        self.set_device(device)
        self._logic: Any = None  # tl_core.logic.run.LogicRunner, made on first use
        self.trainable: dict[str, bool] = {}  # top-level tensor -> declared learnable
        # (title, done, total, message) of long work such as a learn block's epochs
        self.on_progress: Callable[[str, int, int, str], None] | None = None
        # `input(prompt)`: set by `tl run` to read the terminal; None in the kernel and in
        # sessions, where input() is a clear error (an editor run has no terminal)
        self.read_input: Callable[[str], str | None] | None = None

    # -- logic and learning (tl_core.logic) -----------------------------------------------

    @property
    def logic(self) -> Any:
        """The knowledge base and its statements' runner, made on the first logic item."""
        if self._logic is None:
            self._logic = LogicRunner(self)
        return self._logic

    def is_fact(self, e: Any) -> bool:
        """A call statement naming a known relation is a fact."""
        return (self._logic is not None and type(e) is ast.Call and type(e.func) is ast.Name
                and self._logic.is_relation(e.func.id))

    def holds(self, e: Any, env: Env) -> bool:
        """Whether condition `e` is true in `env` (the truth rule of `if`; logic's `where`)."""
        return ops.truth(self.eval(e, env))

    def run_logic(self, item: Any, env: Env) -> None:
        if isinstance(item, ast.LearnBlock):
            run_learn(self, item, env)
        else:
            self.logic.run(item, env)

    # -- device -----------------------------------------------------------------------

    def set_device(self, device: str | None, span: Span | None = None) -> None:
        want = device or ("gpu" if gpu_available() else "cpu")
        if want == "gpu" and not gpu_available():
            self.warn_once("device-fallback",
                           "device gpu is not available (MLX found no GPU on this machine); "
                           "running on the CPU", span)
            want = "cpu"
        self.device = want

    @property
    def mx_device(self) -> Any:
        return mx.gpu if self.device == "gpu" else mx.cpu

    # -- the op context ---------------------------------------------------------------

    def write(self, text: str) -> None:
        if self._load_progress:
            self.end_load_progress()
        self._write(text)

    def format(self, value: Any) -> str:
        return format_value(value, self.device)

    def resolve_path(self, path: str) -> Path:
        p = Path(os.path.expanduser(path))
        return p if p.is_absolute() else self.base_dir / p

    def warn(self, message: str, span: Span | None = None) -> None:
        d = Diagnostic(span or self._call_span or _NOWHERE, message, Severity.WARNING, "warning")
        self.out.warnings.append(d)
        if self._warn is not None:
            with contextlib.ExitStack() as paused:  # a load bar steps aside on the terminal
                for _, bar in self._load_progress.values():
                    paused.enter_context(bar.paused())
                self._warn(d)

    def warn_once(self, key: str, message: str, span: Span | None = None) -> None:
        if key not in self.warned:
            self.warned.add(key)
            self.warn(message, span)

    def load_model(self, path: Path) -> Any:
        return load_model(path)

    def tensor_load_bar(self, model: Any, name: str) -> Any:
        """A context giving a progress callback for loading tensor `name` (None: no chunks
        wanted) that advances the model's one progress display: a terminal bar for `tl run`,
        progress reports in the kernel (`on_progress`); see tl_core.runtime.progress."""
        info = model.header.tensors.get(name)
        if info is None or not (self.progress or self.on_progress is not None):
            return contextlib.nullcontext(None)
        hit = self._load_progress.get(id(model))
        if hit is None or hit[1].finished:
            if hit is not None:
                hit[1].close()
            total = model.unloaded_bytes
            if total < MIN_BYTES:
                return contextlib.nullcontext(None)
            label = os.path.basename(model.path) or "model"
            hit = (model, LoadProgress(label, total, None if self.progress else self.on_progress))
            self._load_progress[id(model)] = hit
        return hit[1].tensor(info.nbytes)

    def end_load_progress(self) -> None:
        """Erase the load bars: the run printed, or ended (a later load starts a new bar)."""
        while self._load_progress:
            self._load_progress.popitem()[1][1].close()

    # -- programs ---------------------------------------------------------------------

    def define_functions(self, program: ast.Program, base_dir: Path | None = None,
                         text: str | None = None) -> None:
        """Define every `fn` of a program; `text` is its source (for quoting in errors)."""
        text = text if text is not None else self.text
        changed = False
        for item in program.items:
            if isinstance(item, ast.FnDecl):
                old = self.fns.get(item.name)
                if old is None or old.decl != item or old.text != text:
                    self.fns[item.name] = FnInfo(item, base_dir or self.base_dir, text)
                    changed = True
            elif isinstance(item, ast.StructDecl):
                self.struct_defs.add_struct(item)
            elif isinstance(item, ast.ImplDecl) and item.trait is None:
                self.struct_defs.add_impl(item)
                for m in item.methods:
                    key = (item.target.name, m.name)
                    old = self.method_infos.get(key)
                    if old is None or old.decl != m or old.text != text:
                        self.method_infos[key] = FnInfo(m, base_dir or self.base_dir, text)
        if changed:  # compiled callers inlined the old bodies: trace them again
            for info in self.fns.values():
                info.compiled = None
                info.compilable = None
                info.dynamic = info.static = frozenset()
                info.plans = {}

    def run_items(self, items: tuple[Any, ...] | list[Any], env: Env | None = None,
                  top: bool = True) -> None:
        """Run top-level items in order (fn declarations are already defined)."""
        env = env or self.globals
        with mx.stream(self.mx_device), contextlib.ExitStack() as run:
            run.callback(self.end_load_progress)
            for item in items:
                try:
                    self.run_item(item, env, top)
                except TLRuntimeError:
                    raise
                except _Return:
                    raise TLRuntimeError("return outside a function", item.span) from None
                except (_Break, _Continue):
                    raise TLRuntimeError("break or continue outside a loop",
                                         item.span) from None
                except RecursionError:
                    raise TLRuntimeError("recursion too deep", item.span) from None
                except Exception as exc:  # noqa: BLE001 - a bug or an MLX failure
                    oom = memory.out_of_memory(exc, self.device, item.span)
                    if oom is not None:
                        raise oom from None
                    raise TLRuntimeError(f"internal error: {type(exc).__name__}: {exc}",
                                         item.span) from exc

    def run_item(self, item: Any, env: Env, top: bool = True) -> None:
        if isinstance(item, (ast.FnDecl, ast.TestDecl, ast.BenchDecl, ast.StructDecl)):
            return
        if isinstance(item, ast.ImplDecl):  # its methods are defined with the fns
            problem = ST.impl_problem(self, item)
            if problem is not None:
                raise TLRuntimeError(problem, item.target.span)
            return
        if isinstance(item, ast.MainBlock):
            self.exec_block(item.body, Env(env))
            return
        if isinstance(item, ast.Import):
            self.run_import(item)
            return
        if isinstance(item, (*_LOGIC_ITEMS, ast.LearnBlock)):
            self.run_logic(item, env)
            return
        self.exec_stmt(item, env, top=top)

    def run_block_items(self, block: ast.Block) -> None:
        """A `test` or `bench` body, in a scope of its own under the globals."""
        self.run_items([ast.BlockStmt(block.span, block)], top=False)

    def run_import(self, item: ast.Import) -> None:
        problem = path_problem(item.path)
        if problem is None:
            try:
                path = self.resolve_path(item.path).resolve()
            except (RuntimeError, OSError):  # Python 3.11: RuntimeError("Symlink loop ...")
                problem = SYMLINK_LOOP
        if problem is not None:
            raise TLRuntimeError(f"cannot import \"{item.path}\": {problem}", item.path_span)
        cycle = self.import_cycle(path, item.path)
        if cycle is not None:  # the checker's message (tl_core.check.imports)
            raise TLRuntimeError(cycle, item.path_span).with_code("import-cycle")
        if path in self._imported:
            return
        if not path.exists():
            raise TLRuntimeError(f"cannot import \"{item.path}\": no such file ({path})",
                                 item.path_span)
        self._imported.add(path)
        try:
            text, encoding = read_source(path)
        except OSError as exc:
            raise TLRuntimeError(f"cannot import \"{item.path}\": {exc.strerror}",
                                 item.path_span) from None
        if encoding is not None:
            raise TLRuntimeError(f"cannot import '{item.path}': the file cannot be read as "
                                 f"UTF-8 text", item.path_span)
        result = parse(text)
        if result.errors:
            first = result.errors[0]
            raise TLRuntimeError(f"cannot import \"{item.path}\": {path.name}:"
                                 f"{first.span.line + 1}:{first.span.col + 1}: {first.message}",
                                 item.path_span)
        self.define_functions(result.program, path.parent, text)
        saved, saved_text = self.base_dir, self.text
        self.base_dir, self.text = path.parent, text
        self._import_chain.append(path)
        try:
            for sub in result.program.items:
                if isinstance(sub, ast.Import):
                    self.run_import(sub)
                elif isinstance(sub, ast.TensorDecl):
                    self.exec_stmt(sub, self.globals)
        except TLRuntimeError as exc:
            if exc.span is not None and exc.span is not item.path_span and \
                    exc.code != "import-cycle":
                exc.message = (f"in \"{item.path}\" line {exc.span.line + 1}: {exc.message}")
                exc.args = (exc.message,)
            exc.span = item.path_span
            raise
        finally:
            self._import_chain.pop()
            self.base_dir, self.text = saved, saved_text

    def import_cycle(self, path: Path, written: str) -> str | None:
        """The import-cycle error for importing `path` now, or None (as `tl check` words
        it: `import cycle: a.tl -> b.tl -> a.tl`)."""
        root = self.source_path
        if root is not None and path == root and not self._import_chain:
            return f"import cycle: '{written}' is this file itself"
        if path != root and path not in self._import_chain:
            return None
        names = [root.name if root is not None else "<this file>"]
        names += [p.name for p in self._import_chain] + [path.name]
        return "import cycle: " + " -> ".join(names)

    # -- statements -------------------------------------------------------------------

    def check_interrupt(self, span: Span) -> None:
        if self.interrupt.is_set():
            self.interrupt.clear()
            raise Interrupted(span)

    def exec_block(self, block: ast.Block, env: Env) -> None:
        for stmt in block.stmts:
            self.exec_stmt(stmt, env)

    def exec_stmt(self, s: Any, env: Env, top: bool = False) -> None:
        self.check_interrupt(s.span)
        t = type(s)
        if t is ast.ExprStmt:
            if self._logic is not None and self.is_fact(s.expr):
                self._logic.fact(s.expr, env)
                return
            value = self.eval(s.expr, env)
            self._settle(value)
            if top:
                self.out.last_value = value
                self.out.last_value_span = s.span
                self.out.has_value = True
            return
        if top:
            self.out.last_value = None
            self.out.has_value = False
            self.out.last_value_span = None
        if t is ast.Let:
            value = self.eval(s.value, env)
            if s.type is not None:
                value = self.check_declared(value, s.type, s.value.span, f"let {s.name}")
            else:
                value = self.bound_literal(s.value, value, env)
            env.vars[s.name] = value
            self._settle(value)
        elif t is ast.Assign:
            self.exec_assign(s, env)
        elif t is ast.TensorDecl:
            self.exec_tensor_decl(s, env)
        elif t is ast.Return:
            raise _Return(None if s.value is None else self.eval(s.value, env))
        elif t is ast.If:
            self.exec_if(s, env)
        elif t is ast.For:
            self.exec_for(s, env)
        elif t is ast.While:
            constraint = _is_constraint(s.cond)
            while ops.truth(self._cond(s.cond, env, constraint)):
                try:
                    self.exec_block(s.body, Env(env))
                except _Break:
                    break
                except _Continue:
                    pass
                self.check_interrupt(s.span)
        elif t is ast.Loop:
            while True:
                try:
                    self.exec_block(s.body, Env(env))
                except _Break:
                    break
                except _Continue:
                    pass
                self.check_interrupt(s.span)
        elif t is ast.Break:
            raise _Break()
        elif t is ast.Continue:
            raise _Continue()
        elif t is ast.BlockStmt:
            self.exec_block(s.block, Env(env))
        elif t is ast.With:  # the original's entity block: its statements (UPSTREAM.md 17.5)
            if not self.logic.is_entity_type(s.type_name):
                raise TLRuntimeError(unknown_with_type(s.type_name, self.logic.kb.types),
                                     s.type_span)
            self.exec_block(s.body, Env(env))
        elif t is ast.ErrorStmt:
            raise TLRuntimeError("this statement did not parse", s.span)
        elif t in _LOGIC_ITEMS or t is ast.LearnBlock:
            self.run_logic(s, env)
        elif t is ast.BenchDecl or t is ast.TestDecl:  # inside main: run by `tl bench` /
            pass  # `tl test`, as a top-level one
        else:
            raise NotSupported(type(s).__name__, s.span)

    def _cond(self, e: Any, env: Env, constraint: bool = False) -> Any:
        v = self._constraint(e, env) if constraint else self.eval(e, env)
        if isinstance(v, mx.array) and v.size != 1:
            raise TLRuntimeError(f"a condition must be a single value, found {tensor_type(v)}",
                                 e.span)
        if not isinstance(v, (bool, int, float, mx.array)):
            raise TLRuntimeError(f"a condition must be a bool, found {type_name(v)}", e.span)
        return v

    def exec_if(self, s: ast.If, env: Env) -> None:
        node: Any = s
        while node is not None:
            if isinstance(node, ast.If):
                if ops.truth(self._cond(node.cond, env, _is_constraint(node.cond))):
                    self.exec_block(node.then, Env(env))
                    return
                node = node.orelse
            else:  # the final else block
                self.exec_block(node, Env(env))
                return

    def exec_for(self, s: ast.For, env: Env) -> None:
        iterable = self.eval(s.iterable, env)
        if isinstance(iterable, mx.array):
            if iterable.ndim == 0:
                raise TLRuntimeError(f"cannot iterate over a 0-dimensional tensor "
                                     f"{tensor_type(iterable)}", s.iterable.span)
            # the original iterates a tensor's elements, flattened, as numbers (UPSTREAM.md
            # 17.1); read from the device once
            items: Any = iter(iterable.reshape(-1).tolist())
        elif isinstance(iterable, range):
            items = iter(iterable)
        elif isinstance(iterable, (list, tuple, str)):
            items = iter(list(iterable))
        elif isinstance(iterable, int) and not isinstance(iterable, bool):
            items = iter(range(iterable))
        elif self._logic is not None and type(iterable).__name__ == "EntityTypeValue":
            items = iter(self._logic.members(iterable))
        else:
            raise TLRuntimeError(f"cannot iterate over {type_name(iterable)}; use range(n) or "
                                 f"a list", s.iterable.span)
        for item in items:
            scope = Env(env)
            scope.vars[s.var] = item
            try:
                self.exec_block(s.body, scope)
            except _Break:
                break
            except _Continue:
                pass
            self.check_interrupt(s.span)

    def exec_assign(self, s: ast.Assign, env: Env) -> None:
        value = self.eval(s.value, env)
        target = s.target
        if isinstance(target, ast.Name):
            env.assign(target.id, self.bound_literal(s.value, value, env))
        elif isinstance(target, ast.Index):
            self.assign_index(target, value, env)
        elif isinstance(target, ast.Field):
            self.assign_place(target, value, env)
        else:
            raise TLRuntimeError("cannot assign to this expression", target.span)
        self._settle(value)

    def assign_place(self, target: Any, value: Any, env: Env) -> None:
        """`x = v`, `p.x = v`, `a.b.c = v`, `items[0].x = v`: struct fields are set on a
        copy that is assigned back up the path (structs are values)."""
        if isinstance(target, ast.Name):
            env.assign(target.id, value)
        elif isinstance(target, ast.Field):
            obj = self.eval(target.obj, env)
            self.assign_place(target.obj, ST.with_field(self, obj, target, value), env)
        elif isinstance(target, ast.Index):
            self.assign_index(target, value, env)
        else:
            raise TLRuntimeError("cannot assign to this expression", target.span)

    def assign_index(self, target: ast.Index, value: Any, env: Env) -> None:
        obj = self.eval(target.obj, env)
        if isinstance(obj, list):
            if len(target.items) != 1:
                raise TLRuntimeError("a list takes one index", target.span)
            i = self.eval(target.items[0], env)
            n = len(obj)
            if not isinstance(i, int) or not -n <= i < n:
                raise TLRuntimeError(f"list index {i} is out of range (length {n})",
                                     target.items[0].span)
            obj[i] = value
            return
        if not isinstance(obj, mx.array):
            raise TLRuntimeError(f"cannot assign into {type_name(obj)}", target.obj.span)
        idx = self.index_tuple(obj, target, env)
        new = mx.array(obj)  # tensors are values: update a copy, then rebind the name
        try:
            new[idx] = value if not isinstance(value, mx.array) else value.astype(obj.dtype)
        except ValueError as exc:
            raise TLRuntimeError(f"cannot assign {type_name(value)} into {tensor_type(obj)}"
                                 f"[...]: {exc}", target.span) from None
        if isinstance(target.obj, ast.Name):
            env.assign(target.obj.id, new)
        else:
            raise TLRuntimeError("index assignment needs a variable on the left", target.span)

    def exec_tensor_decl(self, s: ast.TensorDecl, env: Env) -> None:
        if s.value is None:
            dims = []
            for d in s.type.dims or ():
                if d.kind != "int":
                    raise TLRuntimeError(f"tensor {s.name} without a value needs fixed sizes, "
                                         f"found {d.value if d.kind == 'var' else '?'}", d.span)
                problem = dim_problem(int(d.value))  # type: ignore[arg-type]
                if problem is not None:
                    raise TLRuntimeError(problem, d.span)
                dims.append(int(d.value))  # type: ignore[arg-type]
            value: Any = mx.zeros(dims, dtype=self.dtype_of(s.type.dtype, s.type.span))
            memory.check(value, self.device, f"tensor {s.name}", s.type.span)
        else:
            value = self.eval(s.value, env)
        value = self.check_declared(value, s.type, s.value.span if s.value else s.span,
                                    f"tensor {s.name}")
        env.vars[s.name] = value
        if env is self.globals:  # `learn` trains the top-level learnable tensors
            self.trainable[s.name] = s.type.qualifier == "learnable"
        self._settle(value)

    def dtype_of(self, name: str, span: Span) -> Any:
        dt = DTYPES.get(name)
        if dt is None:
            raise TLRuntimeError(f"unknown element type {name}", span)
        return dt

    def check_declared(self, value: Any, texpr: Any, span: Span, what: str) -> Any:
        """A `let x: T = e` or `tensor x: T = e`: convert numbers/lists, reshape a value with
        the declared number of elements (UPSTREAM.md 3.6), check the shape."""
        if not isinstance(texpr, ast.TensorTypeExpr):
            return value
        dt = self.dtype_of(texpr.dtype, texpr.span)
        if not isinstance(value, mx.array):
            value = self.to_tensor(value, span, dt)
        elif value.dtype != dt:
            value = value.astype(dt)
        if texpr.dims is not None:
            dims = texpr.dims
            if all(d.kind == "int" for d in dims) and \
                    S.reshapes_to(tuple(d.value for d in dims), tuple(value.shape)):
                value = value.reshape([d.value for d in dims])
            if len(dims) != value.ndim or any(
                    d.kind == "int" and d.value != n for d, n in zip(dims, value.shape,
                                                                       strict=False)):
                raise TLRuntimeError(f"{what}: {_type_text(texpr)} does not match its value "
                                     f"{tensor_type(value)}", span).with_code("shape")
        return value

    # -- evaluation helpers ---------------------------------------------------------------

    def _settle(self, value: Any) -> None:
        """Start evaluating the tensors statements produced (not while tracing for
        mx.compile), without waiting for the device: `mx.async_eval` lets the next statements
        be built while the GPU works (waiting here made a SmolLM2 decode step 35 ms of host
        time on an H100). Values are waited for where the host reads them (printing,
        `.item()`, conditions).

        A top-level statement starts its value at once (with what its function calls left
        pending). Inside a function the values are gathered and started together every
        `SETTLE_STATEMENTS` statements or `SETTLE_BYTES` bytes, so that graphs stay bounded in
        a function's loops while a decode step (~450 statements in SmolLM2's 30 blocks) is a
        few evaluations instead of one per statement (~40% of its host time on the CPU)."""
        if self.tracing:
            return
        pending = self._pending
        if isinstance(value, mx.array):
            pending.append(value)
            self._pending_bytes += value.nbytes
        elif isinstance(value, (list, tuple)) and value and isinstance(value[0], mx.array):
            for v in value:
                if isinstance(v, mx.array):
                    pending.append(v)
                    self._pending_bytes += v.nbytes
        if pending and (not self.depth or len(pending) >= SETTLE_STATEMENTS
                        or self._pending_bytes >= SETTLE_BYTES):
            self._pending = []
            self._pending_bytes = 0
            mx.async_eval(pending)

    def to_tensor(self, value: Any, span: Span, dtype: Any = None) -> mx.array:
        try:
            return ops.as_tensor(value, "x", dtype)
        except OpError as exc:
            raise TLRuntimeError(exc.message, span) from None

    # -- expressions ------------------------------------------------------------------

    def eval(self, e: Any, env: Env) -> Any:
        method = _EVAL.get(type(e))
        if method is None:
            if isinstance(e, ast.SetLiteral):  # `{a, b}`: entity names, as strings
                return [m.id for m in e.items]
            raise NotSupported(type(e).__name__, e.span)
        return method(self, e, env)

    def eval_name(self, e: ast.Name, env: Env) -> Any:
        found, value = env.lookup(e.id)
        if found:
            return value
        if e.id in self.fns:
            return FnValue(e.id)
        if e.id in BUILTINS:
            return BuiltinValue(e.id)
        if e.id in _DEVICE_NAMES:
            return e.id
        if self._logic is not None and self._logic.is_entity_type(e.id):
            return EntityTypeValue(e.id)
        stub = stub_message(e.id)
        if stub is not None:
            raise TLRuntimeError(stub, e.span)
        candidates = list(dict.fromkeys([*env.names(), *self.fns, *BUILTINS]))
        close = difflib.get_close_matches(e.id, candidates, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise TLRuntimeError(f"undefined name '{e.id}'{hint}", e.span)

    def eval_number(self, e: ast.Number, env: Env) -> Any:
        return e.value

    def eval_string(self, e: ast.String, env: Env) -> Any:
        return e.value

    def eval_bool(self, e: ast.Bool, env: Env) -> Any:
        return e.value

    def eval_array(self, e: ast.ArrayLiteral, env: Env) -> Any:
        return [self.eval(x, env) for x in e.items]

    def bound_literal(self, node: Any, value: Any, env: Env) -> Any:
        """The value a name gets: a nested literal of numbers (`let a = [[1.0, 2.0]]`) is a
        tensor, as the checker types it (float16, or int64 when every number is an int).
        Elsewhere a literal stays a list until its use converts it (`tensor X: float32[...]`
        keeps every digit)."""
        if isinstance(node, ast.ArrayLiteral) and isinstance(value, list) and value and \
                all(isinstance(x, ast.ArrayLiteral) for x in node.items):
            kinds = _leaf_kinds(value)
            if kinds and kinds <= {int, float}:
                self.check_rectangular(node, env)
                return self.to_tensor(value, node.span, mx.int64 if kinds == {int} else FLOAT)
        return value

    def eval_tuple(self, e: ast.TupleExpr, env: Env) -> Any:
        return tuple(self.eval(x, env) for x in e.items)

    def eval_block_expr(self, e: ast.BlockExpr, env: Env) -> Any:
        scope = Env(env)
        value = None
        for stmt in e.block.stmts:
            if isinstance(stmt, ast.ExprStmt):
                self.check_interrupt(stmt.span)
                value = self.eval(stmt.expr, scope)
            else:
                self.exec_stmt(stmt, scope)
                value = None
        return value

    def eval_unary(self, e: ast.Unary, env: Env) -> Any:
        v = self.eval(e.operand, env)
        if e.op == "-":
            if isinstance(v, bool) or not isinstance(v, (int, float, mx.array, list)):
                raise TLRuntimeError(f"cannot negate {type_name(v)}", e.operand.span)
            if isinstance(v, list):
                v = self.to_tensor(v, e.operand.span)
            return -v
        if e.op == "!":
            return self._not(e, v)
        raise NotSupported(f"unary operator {e.op}", e.span)

    def _not(self, e: ast.Unary, v: Any) -> Any:
        if isinstance(v, mx.array):
            return mx.logical_not(v)
        if isinstance(v, bool):
            return not v
        written = "not" if e.word else "!"
        raise TLRuntimeError(f"{written} needs a bool, found {type_name(v)}", e.operand.span)

    def _constraint(self, e: Any, env: Env) -> Any:
        """A condition that starts with the word `not`, the only place the original parses
        its constraint grammar (UPSTREAM.md 2, 17.3): there `rank(x) == n` and `norm(x) ==
        v` (and `!=`) compare floats within CONSTRAINT_TOLERANCE, through `not`, `and`,
        `or`; everything else evaluates as anywhere."""
        t = type(e)
        if t is ast.Unary and e.op == "!":
            return self._not(e, self._constraint(e.operand, env))
        if t is ast.Binary:
            if e.op in ("&&", "||"):
                left = ops.truth(self._cond(e.left, env, True))
                if left == (e.op == "||"):
                    return left
                return ops.truth(self._cond(e.right, env, True))
            f = e.left.func if type(e.left) is ast.Call else None
            if e.op in ("==", "!=") and type(f) is ast.Name and f.id in _CONSTRAINT_CALLS:
                a = self.eval(e.left, env)
                return self._binary(e, a, self.eval(e.right, env), CONSTRAINT_TOLERANCE)
        return self.eval(e, env)

    def eval_binary(self, e: ast.Binary, env: Env) -> Any:
        op = e.op
        if op in ("&&", "||"):
            left = self._cond(e.left, env)
            lt = ops.truth(left)
            if op == "&&" and not lt:
                return False
            if op == "||" and lt:
                return True
            return ops.truth(self._cond(e.right, env))
        if op == "~":
            raise NotSupported("tensor equations (~)", e.span)
        return self._binary(e, self.eval(e.left, env), self.eval(e.right, env))

    def _binary(self, e: ast.Binary, a: Any, b: Any, eq_tolerance: float = 0.0) -> Any:
        op = e.op
        try:
            result = binary_op(op, a, b, eq_tolerance)
        except (OpError, ValueError, TypeError) as exc:
            for side, v in ((e.left, a), (e.right, b)):
                if isinstance(v, NAV.ModelNode):
                    raise NAV.not_a_tensor(v, self.source_of(side), side.span) from None
            message = self.checker_binary_message(op, a, b, e) or (
                exc.message if isinstance(exc, OpError) else
                f"{type_name(a)} {op} {type_name(b)}: {exc}")
            raise TLRuntimeError(message, e.span) from None
        if type(result) is mx.array:
            memory.check(result, self.device, f"the result of {op}", e.span)
        return result

    # -- the checker's messages for runtime failures ----------------------------------
    # Only on the error path: the shape rules of tl_core.check see the concrete shapes,
    # so a failing call reads exactly as the checker would have put it.

    def source_of(self, node: Any) -> str:
        if isinstance(node, ast.Name):
            return node.id
        span = getattr(node, "span", None)
        if self.text is not None and span is not None and span.end <= len(self.text):
            return self.text[span.start:span.end]
        return ""

    def arg_info(self, v: Any, node: Any) -> Any:
        def static(x: Any) -> tuple[Any, Any]:
            if isinstance(x, mx.array):
                return TensorType(dtype_name(x.dtype), tuple(x.shape)), None
            if isinstance(x, bool):
                return ScalarType("bool", x), x
            if isinstance(x, int):
                return ScalarType("int", x), x
            if isinstance(x, float):
                return ScalarType("float", x), x
            if isinstance(x, str):
                return ScalarType("string", x), x
            if isinstance(x, (list, tuple, range)):
                items = [static(y) for y in x]
                return ListType(), [t if isinstance(y, mx.array) else val
                                    for (t, val), y in zip(items, x, strict=True)]
            return UNKNOWN, None

        t, value = static(v)
        return ArgInfo(t, value, self.source_of(node) if node is not None else "")

    def checker_binary_message(self, op: str, a: Any, b: Any, e: ast.Binary) -> str | None:
        try:
            ta = self.arg_info(a, e.left).type
            tb = self.arg_info(b, e.right).type
            if op == "@":
                if isinstance(ta, TensorType) and isinstance(tb, TensorType):
                    S.matmul(ta, tb, self.source_of(e.left), self.source_of(e.right))
            else:
                S.broadcast(ta, tb, op)
        except S.ShapeError as err:
            return err.full_message()
        except Exception:  # noqa: BLE001 - a message helper must never fail a run
            return None
        return None

    def checker_call_message(self, name: str, named: dict[str, tuple[Any, Any]],
                             rest: list[tuple[Any, Any]], dtype: str | None = None
                             ) -> tuple[str, str | None] | None:
        """(message, parameter) from the built-in's shape rule, or None when it passes."""
        try:
            rule_args = RuleArgs(
                name, {k: self.arg_info(v, node) for k, (v, node) in named.items()},
                tuple(self.arg_info(v, node) for v, node in rest), {}, dtype)
            BUILTINS[name].shape_rule(rule_args)
        except ShapeError as err:
            return err.full_message(), err.param
        except Exception:  # noqa: BLE001 - a message helper must never fail a run
            return None
        return None

    def eval_cast(self, e: ast.Cast, env: Env) -> Any:
        v = self.eval(e.expr, env)
        t = e.type
        name = t.dtype if isinstance(t, ast.TensorTypeExpr) else t.name
        if not isinstance(v, (mx.array, list)):
            kind = kind_of(name)
            if kind == "int":
                if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
                    raise TLRuntimeError(f"cannot convert {v} to int", e.expr.span)
                return int(v)
            if kind == "float":
                return float(v)
            if name == "bool":
                return bool(v)
            if name == "string":
                return self.format(v)
        if name in VALUE_CASTS and isinstance(v, mx.array) and v.size == 1:
            value = v.item()  # the original's: the element as a number (UPSTREAM.md 6.3)
            if kind_of(name) != "int":
                return float(value)
            if isinstance(value, float) and not math.isfinite(value):
                raise TLRuntimeError(f"cannot convert {value} to int", e.expr.span)
            return int(value)
        dt = self.dtype_of(name, t.span)
        tv = self.to_tensor(v, e.expr.span).astype(dt)
        memory.check(tv, self.device, f"as {name}", e.span)
        return tv

    def eval_field(self, e: ast.Field, env: Env) -> Any:
        obj = self.eval(e.obj, env)
        name = e.name
        if isinstance(obj, mx.array):
            if name == "shape":
                return list(obj.shape)
            if name == "T":
                return ops.op_transpose(self, obj) if obj.ndim == 2 else obj.T
            if name == "dtype":
                return dtype_name(obj.dtype)
            if name == "ndim":
                return obj.ndim
            if name == "size":
                return obj.size
            raise TLRuntimeError(f"a tensor has no field '{name}' (fields: shape, T, dtype, "
                                 f"ndim, size)", e.name_span)
        if type(obj).__name__ == "Model":
            if name == "metadata":
                return ops.metadata_record(obj)
            if name == "path":
                return obj.path
            if name in MODEL_METHODS:
                raise TLRuntimeError(NAV.uncalled_method(self.source_of(e), name), e.name_span)
        if type(obj).__name__ == "Model" or isinstance(obj, NAV.ModelNode):
            # model navigation: model.blk[0].attn_q.weight (tl_core.runtime.navigate)
            return NAV.field(self, obj, name, self.source_of(e.obj), self.source_of(
                _nav_root(e.obj)), e.name_span)
        if isinstance(obj, ST.StructValue):
            return ST.get_field(obj, e, self.source_of(e.obj), self.struct_defs)
        if isinstance(obj, Record):
            if name in obj.items:
                return obj.items[name]
            close = difflib.get_close_matches(name, list(obj.items), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise TLRuntimeError(f"{obj.title} has no key '{name}'{hint}", e.name_span)
        if isinstance(obj, (list, tuple)) and name in ("len", "length"):
            return len(obj)
        raise TLRuntimeError(f"{type_name(obj)} has no field '{name}'", e.name_span)

    def eval_path(self, e: ast.Path, env: Env) -> Any:
        raise TLRuntimeError(path_message(e.base, e.member, False, []) or "", e.span)

    def eval_struct(self, e: ast.StructLit, env: Env) -> Any:
        return ST.literal(self, e, env)

    # -- indexing -----------------------------------------------------------------------

    def eval_index(self, e: ast.Index, env: Env) -> Any:
        obj = self.eval(e.obj, env)
        if isinstance(obj, (list, tuple, str, range)):
            if len(e.items) != 1:
                raise TLRuntimeError(f"a {type_name(obj)} takes one index", e.span)
            item = e.items[0]
            if isinstance(item, ast.Slice):
                return obj[self._slice(item, env)]
            i = self.eval(item, env)
            if isinstance(i, mx.array) and i.size == 1:
                i = i.item()
            if isinstance(i, bool) or not isinstance(i, int):
                raise TLRuntimeError(f"a {type_name(obj)} index must be an int, found "
                                     f"{type_name(i)}", item.span)
            if not -len(obj) <= i < len(obj):
                raise TLRuntimeError(f"index {i} is out of range for a {type_name(obj)} of "
                                     f"length {len(obj)}", item.span)
            return obj[i]
        if isinstance(obj, Record):
            key = self.eval(e.items[0], env) if len(e.items) == 1 else None
            if isinstance(key, str) and key in obj.items:
                return obj.items[key]
            raise TLRuntimeError(f"{obj.title} has no key {key!r}", e.span)
        if type(obj).__name__ == "Model" or isinstance(obj, NAV.ModelNode):
            # model navigation: model.blk[0] (tl_core.runtime.navigate)
            items = [self._slice(x, env) if isinstance(x, ast.Slice) else self.eval(x, env)
                     for x in e.items]
            return NAV.index(self, obj, items, self.source_of(e.obj), e.span, e.items[0].span)
        if not isinstance(obj, mx.array):
            raise TLRuntimeError(f"cannot index {type_name(obj)}", e.obj.span)
        result = obj[self.index_tuple(obj, e, env)]  # a gather may be far larger than obj
        memory.check(result, self.device, "indexing", e.span)
        return result

    def _slice(self, s: ast.Slice, env: Env) -> slice:
        parts = []
        for part in (s.start, s.stop, s.step):
            if part is None:
                parts.append(None)
                continue
            v = self.eval(part, env)
            if isinstance(v, mx.array) and v.size == 1 and not mx.issubdtype(v.dtype,
                                                                              mx.inexact):
                v = int(v.item())
            if isinstance(v, bool) or not isinstance(v, int):
                raise TLRuntimeError(f"slice bounds must be ints, found {type_name(v)}",
                                     part.span)
            parts.append(v)
        if parts[2] == 0:
            raise TLRuntimeError("slice step cannot be 0", s.span)
        return slice(*parts)

    def index_tuple(self, obj: mx.array, e: ast.Index, env: Env) -> tuple[Any, ...]:
        if len(e.items) > obj.ndim:
            raise TLRuntimeError(f"{tensor_type(obj)} has {_plural(obj.ndim, 'dimension')} but "
                                 f"{len(e.items)} indices were given", e.span)
        idx: list[Any] = []
        for axis, item in enumerate(e.items):
            size = obj.shape[axis]
            if isinstance(item, ast.Slice):
                idx.append(self._slice(item, env))
                continue
            v = self.eval(item, env)
            if isinstance(v, list):
                v = self.to_tensor(v, item.span, mx.int32)
            if isinstance(v, mx.array):
                if mx.issubdtype(v.dtype, mx.inexact) or v.dtype == mx.bool_:
                    why = ("; a boolean mask cannot index (the result's shape would depend on "
                           "the values): multiply by the mask instead"
                           if v.dtype == mx.bool_ else "")
                    raise TLRuntimeError(
                        f"indices must be integers (tensor<int>(...)), found "
                        f"{tensor_type(v)}{why}", item.span)
                if v.size:
                    lo, hi = int(mx.min(v).item()), int(mx.max(v).item())
                    bad = hi if hi >= size else (lo if lo < -size else None)
                    if bad is not None:
                        raise TLRuntimeError(f"index {bad} is out of range for dimension "
                                             f"{axis} of {tensor_type(obj)} (size {size})",
                                             item.span)
                    if lo < 0:  # count from the end, as NumPy does
                        v = mx.where(v < 0, v + size, v)
                idx.append(v)
                continue
            if isinstance(v, bool) or not isinstance(v, int):
                raise TLRuntimeError(f"an index must be an int, a slice a:b or an integer "
                                     f"tensor, found {type_name(v)}", item.span)
            if not -size <= v < size:
                raise TLRuntimeError(f"index {v} is out of range for dimension {axis} of "
                                     f"{tensor_type(obj)} (size {size})", item.span)
            idx.append(v)
        return tuple(idx)

    # -- match ----------------------------------------------------------------------------

    def eval_match(self, e: ast.Match, env: Env) -> Any:
        value = self.eval(e.scrutinee, env)
        for arm in e.arms:
            scope = Env(env)
            if self.match_pattern(arm.pattern, value, scope):
                if arm.guard is not None and not ops.truth(self._cond(arm.guard, scope)):
                    continue
                return self.eval(arm.body, scope)
        raise TLRuntimeError(f"no match arm matches {self.format(value)}", e.scrutinee.span)

    def match_pattern(self, p: Any, value: Any, scope: Env) -> bool:
        if isinstance(p, ast.PatWildcard):
            return True
        if isinstance(p, ast.PatBind):
            scope.vars[p.name] = value
            return True
        if isinstance(p, ast.PatLiteral):
            lit = self.eval(p.value, scope)
            if isinstance(value, mx.array):
                return value.size == 1 and value.item() == lit
            if type(value) is not type(lit):  # the original's: `1` matches no float 1.0
                return False
            if isinstance(lit, float):  # the original's: within f64 epsilon
                return abs(value - lit) < sys.float_info.epsilon
            return value == lit
        if isinstance(p, ast.PatTuple):
            if not isinstance(value, (tuple, list)) or len(value) != len(p.items):
                return False
            return all(self.match_pattern(q, v, scope)
                       for q, v in zip(p.items, value, strict=True))
        if isinstance(p, ast.PatOr):
            return any(self.match_pattern(q, value, scope) for q in p.alternatives)
        if isinstance(p, ast.PatStruct):
            return ST.match(self, p, value, scope)
        raise NotSupported("this pattern", p.span)

    # -- calls ----------------------------------------------------------------------------

    def eval_tensor_ctor(self, e: ast.TensorCtor, env: Env) -> Any:
        b = BUILTINS["tensor"]
        positional = [a for a in e.args if a.name is None]
        keywords = {a.name: a for a in e.args if a.name is not None}
        try:
            bound = bind_arguments(b, len(positional), list(keywords))
        except BindError as exc:
            raise TLRuntimeError(exc.message, self._bind_span(e, exc, positional,
                                                              keywords)) from None
        data_arg = positional[bound["data"]] if isinstance(bound["data"], int) \
            else keywords[bound["data"]]  # type: ignore[index]
        dev_ref = bound.get("device")
        if dev_ref is not None:
            dev_arg = positional[dev_ref] if isinstance(dev_ref, int) else keywords[dev_ref]
            dev = self.eval(dev_arg.value, env)
            if dev not in _DEVICE_NAMES:
                raise TLRuntimeError(f"device must be gpu or cpu, found {self.format(dev)}",
                                     dev_arg.value.span)
            if dev == "gpu" and self.device == "cpu" and not gpu_available():
                self.warn_once("device-fallback",
                               "device gpu is not available (MLX found no GPU on this "
                               "machine); running on the CPU", dev_arg.value.span)
        dt = self.dtype_of(e.dtype, e.dtype_span)
        self.check_rectangular(data_arg.value, env)
        data = self.eval(data_arg.value, env)
        return self.to_tensor(data, data_arg.value.span, dt)

    def check_rectangular(self, lit: Any, env: Env) -> None:
        """Point at the first row of a literal whose length differs from the first row's."""
        if not isinstance(lit, ast.ArrayLiteral) or not lit.items:
            return
        rows = [x for x in lit.items if isinstance(x, ast.ArrayLiteral)]
        if not rows:
            return
        if len(rows) != len(lit.items):
            bad = next(x for x in lit.items if not isinstance(x, ast.ArrayLiteral))
            raise TLRuntimeError("ragged tensor literal: expected a row [...] here like the "
                                 "others", bad.span)
        n = len(rows[0].items)
        for i, row in enumerate(rows[1:], start=2):
            if len(row.items) != n:
                raise TLRuntimeError(f"ragged tensor literal: row {i} has {len(row.items)} "
                                     f"element{'s' if len(row.items) != 1 else ''}, the first "
                                     f"row has {n}", row.span)
        for row in rows:
            self.check_rectangular(row, env)

    def _bind_span(self, call: Any, exc: BindError, positional: list[ast.Arg],
                   keywords: dict[str, ast.Arg]) -> Span:
        if exc.position is not None and exc.position < len(positional):
            return positional[exc.position].span
        if exc.keyword is not None and exc.keyword in keywords:
            arg = keywords[exc.keyword]
            return arg.name_span or arg.span
        return call.span

    def eval_call(self, e: ast.Call, env: Env) -> Any:
        func = e.func
        if isinstance(func, ast.Field):
            return self.call_method(e, func, env)
        if isinstance(func, ast.Path):
            return self.call_path(e, func, env)
        if isinstance(func, ast.Name):
            found, value = env.lookup(func.id)
            if not found:
                if func.id in self.fns:
                    return self.call_fn(self.fns[func.id], e, env)
                if func.id in BUILTINS:
                    return self.call_builtin(func.id, e, env)
                if func.id == "panic":
                    return self.call_panic(e, env)
                self.eval_name(func, env)  # raises the undefined-name error
            callee = value
        else:
            callee = self.eval(func, env)
        if isinstance(callee, FnValue):
            return self.call_fn(self.fns[callee.name], e, env)
        if isinstance(callee, BuiltinValue):
            return self.call_builtin(callee.name, e, env)
        raise TLRuntimeError(f"{type_name(callee)} is not callable", func.span)

    def call_panic(self, e: ast.Call, env: Env) -> Any:
        values = [self.eval(a.value, env) for a in e.args]
        if not values:
            raise Panic("panic", e.span)
        fmt = values[0] if isinstance(values[0], str) else self.format(values[0])
        try:
            text = format_braces(fmt, [self.format(v) for v in values[1:]]) \
                if len(values) > 1 else fmt
        except FormatError as exc:
            raise TLRuntimeError(f"panic: {exc}", e.args[0].span) from None
        raise Panic("panic: " + text, e.span)

    def call_method(self, e: ast.Call, func: ast.Field, env: Env) -> Any:
        obj = self.eval(func.obj, env)
        name = func.name
        if isinstance(obj, NAV.ModelNode):
            raise NAV.no_method(obj, name, self.source_of(func.obj), func.name_span)
        if isinstance(obj, Vec):
            return self.call_vec_method(obj, e, func, env)
        if isinstance(obj, ST.StructValue):
            return ST.call_method(self, obj, e, func, env)
        if isinstance(obj, TensorBuffer):  # `buf.zeros(shape)`: entry `TensorBuffer::zeros`
            if name not in BUFFER_METHODS:
                raise TLRuntimeError(f"TensorBuffer has no method '{name}'; methods: "
                                     f"{', '.join(BUFFER_METHODS)}", func.name_span)
            return self.call_builtin(f"TensorBuffer::{name}", e, env,
                                     receiver=(obj, func.obj.span))
        if name in BUILTINS:
            return self.call_builtin(name, e, env, receiver=(obj, func.obj.span))
        if name in self.fns:
            return self.call_fn(self.fns[name], e, env, receiver=(obj, func.obj.span))
        raise TLRuntimeError(f"{type_name(obj)} has no method '{name}'", func.name_span)

    def call_vec_method(self, v: Vec, e: ast.Call, func: ast.Field, env: Env) -> Any:
        """`v.push(x)`, `v.pop()`, `v.set(i, x)`, `v.clear()`, `v.is_empty()`."""
        m = VEC_METHODS.get(func.name)
        if m is None:
            raise TLRuntimeError(f"{v.kind} has no method '{func.name}'; methods: "
                                 f"{vec_method_names()}", func.name_span)
        if any(a.name is not None for a in e.args) or len(e.args) != len(m.params):
            raise TLRuntimeError(f"{v.kind}.{m.label} takes {_plural(len(m.params), 'argument')}"
                                 f", found {len(e.args)}", e.span)
        args = [self.eval(a.value, env) for a in e.args]
        spans = [a.value.span for a in e.args]

        def element(x: Any, span: Span) -> Any:
            if not vec_accepts(v.kind, x):
                raise TLRuntimeError(f"{v.kind} holds {VECTORS[v.kind]} values, found "
                                     f"{type_name(x)}", span)
            return float(x) if VECTORS[v.kind] == "float" else x

        if m.name == "push":
            v.items.append(element(args[0], spans[0]))
            return None
        if m.name == "pop":
            if not v.items:
                raise TLRuntimeError(f"{v.kind}.pop() called on an empty vector", e.span)
            return v.items.pop()
        if m.name == "set":
            i = args[0]
            if isinstance(i, float) and i.is_integer():
                i = int(i)
            n = len(v.items)
            if isinstance(i, bool) or not isinstance(i, int) or not -n <= i < n:
                raise TLRuntimeError(f"index {self.format(i)} is out of range for length {n}",
                                     spans[0])
            v.items[i] = element(args[1], spans[1])
            return None
        if m.name == "clear":
            v.items.clear()
            return None
        return not v.items  # is_empty

    def call_path(self, e: ast.Call, func: ast.Path, env: Env) -> Any:
        if func.base in VECTORS:
            if func.member != "new" or e.args:
                raise TLRuntimeError(f"{func.base}::{func.member}: a vector is made with "
                                     f"{func.base}::new()", e.span)
            return Vec(func.base, [])
        full = f"{func.base}::{func.member}"
        if full in BUILTINS:  # `KVCache::new_f16(n)`: an entry of its own
            return self.call_builtin(full, e, env)
        if func.base in NAMESPACES and func.base != "KVCache" and func.member in BUILTINS:
            # `f32::zeros([2])` makes float32; `f32::softmax(x)` is softmax unchanged
            # (UPSTREAM.md 1.4: the namespace picks the dtype of creation built-ins only)
            name = NAMESPACES[func.base]
            creation = name is not None and BUILTINS[func.member].category == "creation"
            value = self.call_builtin(func.member, e, env,
                                      dtype=DTYPES[name] if creation else None)
            if creation and isinstance(value, mx.array):
                value = value.astype(DTYPES[name])  # those that do not read creation_dtype
            return value
        if func.base in NAMESPACES:
            raise TLRuntimeError(path_message(func.base, func.member, True, list(BUILTINS))
                                 or "", func.span)
        if func.base in self.struct_defs.decls or func.base == "Self":
            return ST.call_associated(self, e, func, env)
        raise TLRuntimeError(undefined_struct(func.base, list(self.struct_defs.decls)),
                             func.base_span)

    def builtin_plan(self, name: str, e: ast.Call, method: bool) -> _BuiltinPlan:
        """How call `e` of built-in `name` binds its arguments (`method`: `x.name(...)`, the
        receiver first), worked out once per call site: the binding depends only on the
        syntax. Raises the binding error (then nothing is cached)."""
        key = (id(e), method, name)  # a name bound to built-ins may call several here
        hit = self._plans.get(key)
        if hit is not None and hit[0] is e:
            return hit[1]  # type: ignore[return-value]
        b = BUILTINS[name]
        positional = [a for a in e.args if a.name is None]
        keywords = {a.name: a for a in e.args if a.name is not None}
        try:
            bound = bind_arguments(b, len(positional) + method, list(keywords))
        except BindError as exc:
            if method and exc.position is not None:
                exc.position -= 1
            raise TLRuntimeError(exc.message, self._bind_span(e, exc, positional,
                                                              keywords)) from None
        pos_spans: list[Span] = []
        pos_nodes: list[Any] = []
        if method:
            assert isinstance(e.func, ast.Field)
            pos_spans.append(e.func.obj.span)
            pos_nodes.append(e.func.obj)
        for a in positional:
            pos_spans.append(a.value.span)
            pos_nodes.append(a.value)
        sources: list[tuple[str, int | str]] = []
        arg_spans: dict[str, Span] = {}
        arg_nodes: dict[str, Any] = {}
        rest_nodes: list[Any] = []
        fixed = b.params[:-1] if (b.variadic or b.var_keyword) else b.params
        for p in fixed:
            ref = bound.get(p.name)
            if ref is None:
                continue
            sources.append((p.name, ref))
            if isinstance(ref, int):
                arg_spans[p.name] = pos_spans[ref]
                arg_nodes[p.name] = pos_nodes[ref]
            else:
                arg_spans[p.name] = keywords[ref].value.span
                arg_nodes[p.name] = keywords[ref].value
        start = len([p for p in fixed if not p.keyword_only])
        var_keyword_arg = None
        if b.variadic:
            rest_nodes = pos_nodes[start:]
            for i, sp in enumerate(pos_spans[start:]):
                arg_spans[f"#{i}"] = sp
            if len(pos_spans) > start:  # the variadic parameter points at its first value
                arg_spans[b.params[-1].name] = pos_spans[start]
            if b.params[-1].name in keywords:
                var_keyword_arg = b.params[-1].name
                rest_nodes.append(keywords[var_keyword_arg].value)
        extra: tuple[str, ...] = ()
        if b.var_keyword:
            names = {p.name for p in fixed}
            extra = tuple(k for k in keywords if k not in names)
            for k in extra:
                arg_spans[k] = keywords[k].value.span
        plan = _BuiltinPlan(
            b, tuple(a.value for a in positional),
            tuple((k, a.value) for k, a in keywords.items()), tuple(sources),
            start if b.variadic else -1, var_keyword_arg, extra,
            tuple(p.name for p in fixed if p.name in bound and not p.keyword_only),
            tuple(p.name for p in fixed if p.name in bound and p.keyword_only),
            arg_spans, arg_nodes, rest_nodes)
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        self._plans[key] = (e, plan)
        return plan

    def call_builtin(self, name: str, e: ast.Call, env: Env,
                     receiver: tuple[Any, Span] | None = None, dtype: Any = None) -> Any:
        """Call built-in `name`; `dtype`: a namespace's (`f32::arange`), which a creation
        built-in makes its tensor in (`creation_dtype` while it runs, never while its
        arguments are evaluated)."""
        plan = self.builtin_plan(name, e, receiver is not None)
        b = plan.builtin
        ev = self.eval
        # values by positional index (receiver first) and keyword
        pos_vals = [receiver[0]] if receiver else []
        pos_vals += [ev(node, env) for node in plan.positional]
        kw_vals = {k: ev(node, env) for k, node in plan.keywords}
        kwargs = {p: pos_vals[ref] if type(ref) is int else kw_vals[ref]  # type: ignore[index]
                  for p, ref in plan.sources}
        args: list[Any] = []
        if plan.var_start >= 0:
            args = pos_vals[plan.var_start:]
            if plan.var_keyword_arg is not None:
                args.append(kw_vals[plan.var_keyword_arg])
        op = b.impl()
        saved = self._call_span
        self._call_span = e.span
        saved_dtype, self.creation_dtype = self.creation_dtype, dtype
        try:
            if plan.var_start < 0:
                if plan.extra:
                    result = op(self, **kwargs, **{k: kw_vals[k] for k in plan.extra})
                else:
                    result = op(self, **kwargs)
            elif not plan.by_position and not plan.by_keyword:
                result = op(self, *args)
            else:
                result = op(self, *[kwargs[p] for p in plan.by_position], *args,
                            **{p: kwargs[p] for p in plan.by_keyword})
            if type(result) is mx.array:
                memory.check(result, self.device, name)
            return result
        except TLRuntimeError as exc:
            if isinstance(exc, OpError):
                better = self.checker_call_message(
                    name, {k: (kwargs[k], plan.arg_nodes.get(k)) for k in kwargs},
                    list(zip(args, plan.rest_nodes, strict=False)))
                if better is not None:
                    exc.message, exc.args = better[0], (better[0],)
                    exc.arg = better[1]
            if exc.span is None:
                exc.span = plan.arg_spans.get(exc.arg) if isinstance(exc.arg, str) else None
                exc.span = exc.span or e.span
            raise
        except _model_error() as exc:
            at = next((plan.arg_spans[p.name] for p in b.params_of_kind("model_path")
                       if p.name in plan.arg_spans), e.span)
            raise TLRuntimeError(str(exc), at) from None
        except (ValueError, TypeError, RuntimeError) as exc:
            oom = memory.out_of_memory(exc, self.device, e.span)
            if oom is not None:
                raise oom from None
            better = self.checker_call_message(
                name, {k: (kwargs[k], plan.arg_nodes.get(k)) for k in kwargs},
                list(zip(args, plan.rest_nodes, strict=False)))
            if better is not None:
                raise TLRuntimeError(better[0], plan.arg_spans.get(better[1] or "") or e.span
                                     ) from None
            raise TLRuntimeError(f"{name}: {exc}", e.span) from None
        finally:
            self._call_span = saved
            self.creation_dtype = saved_dtype

    # -- user functions ---------------------------------------------------------------

    def method_info(self, owner: str, fn: ast.FnDecl) -> FnInfo:
        """The FnInfo of a method of `impl owner` (defined with the program's fns)."""
        info = self.method_infos.get((owner, fn.name))
        if info is None or info.decl is not fn:
            info = self.method_infos[(owner, fn.name)] = FnInfo(fn, self.base_dir, self.text)
        return info

    def call_fn(self, info: FnInfo, e: ast.Call, env: Env,
                receiver: tuple[Any, Span] | None = None, frame_out: list[Any] | None = None,
                implicit_self: bool = False) -> Any:
        """Call a user fn (or a struct's method: `implicit_self` when the receiver is its
        `self`, which messages do not count; `frame_out` receives the call's frame)."""
        if not info.planned:
            info.make_plan()
        plan = info.plan
        if (receiver is None and plan is not None and len(e.args) == len(plan)
                and all(a.name is None for a in e.args) and frame_out is None):
            return self.call_fn_fast(info, plan, e, env)
        decl = info.decl
        params = decl.params
        shown = len(params) - implicit_self  # the parameter count messages give
        vals: list[Any] = []
        spans: list[Span] = []
        if receiver:
            vals.append(receiver[0])
            spans.append(receiver[1])
        positional = [a for a in e.args if a.name is None]
        for a in positional:
            vals.append(self.eval(a.value, env))
            spans.append(a.value.span)
        if len(vals) > len(params):
            first_extra = len(params) - (1 if receiver else 0)
            raise TLRuntimeError(
                f"{decl.name}() takes {shown} argument{'s' if shown != 1 else ''} "
                f"but {len(vals) - implicit_self} were given",
                positional[first_extra].span if 0 <= first_extra < len(positional) else e.span)
        bound: dict[str, tuple[Any, Span]] = {}
        for p, v, sp in zip(params, vals, spans, strict=False):
            bound[p.name] = (v, sp)
        for a in e.args:
            if a.name is None:
                continue
            if a.name not in {p.name for p in params}:
                raise TLRuntimeError(f"{decl.name}() has no parameter named '{a.name}'; "
                                     f"parameters: {', '.join(p.name for p in params)}",
                                     a.name_span or a.span)
            if a.name in bound:
                raise TLRuntimeError(f"{decl.name}() got argument '{a.name}' twice",
                                     a.name_span or a.span)
            bound[a.name] = (self.eval(a.value, env), a.value.span)
        missing = [p.name for p in params if p.name not in bound]
        if missing:
            given = len(params) - len(missing) - implicit_self
            raise TLRuntimeError(f"{decl.name}() takes {shown} argument"
                                 f"{'s' if shown != 1 else ''} but {given} "
                                 f"{'were' if given != 1 else 'was'} given; missing "
                                 + ", ".join(f"'{m}'" for m in missing), e.span)
        shapes: dict[str, tuple[Any, ...]] = {}
        args: list[Any] = []
        for p in params:
            v, sp = bound[p.name]
            args.append(self.check_param(decl, p, v, sp, shapes))
        if self.depth > 200:
            raise TLRuntimeError(f"recursion too deep in {decl.name}()", e.span)
        result = self.invoke(info, args, e.span, frame_out=frame_out)
        if decl.ret is not None and isinstance(decl.ret, ast.TensorTypeExpr):
            result = self.check_return(decl, result, shapes, e.span)
        return result

    def call_fn_fast(self, info: FnInfo, plan: Any, e: ast.Call, env: Env) -> Any:
        """All-positional calls of functions whose parameters are tensors of known rank or
        named types: the same checks as `call_fn` without its bookkeeping (this runs on
        every call). An argument that needs a conversion or fails a check goes through
        `finish_slow`, which converts or reports with the full messages."""
        args = [self.eval(a.value, env) for a in e.args]
        shapes: dict[str, tuple[Any, ...]] = {}
        decl = info.decl
        for v, entry, a, p in zip(args, plan, e.args, decl.params, strict=True):
            kind = entry[0]
            if kind == "s":
                if not entry[1](v):
                    return self.finish_slow(info, args, e)
                continue
            if kind == "n":
                if entry[1] in self.struct_defs.decls:
                    return self.finish_slow(info, args, e)
                continue
            want_int, dims = entry[1], entry[2]
            if type(v) is not mx.array or (v.dtype in _FLOATS) == want_int \
                    or len(v.shape) != len(dims):
                return self.finish_slow(info, args, e)
            shape = v.shape
            for i, (dkind, value) in enumerate(dims):
                if dkind == "var":
                    prev = shapes.get(value)
                    if prev is None:
                        shapes[value] = (shape[i], p.name, v, a.value.span)
                    elif prev[0] != shape[i]:
                        return self.finish_slow(info, args, e)
                elif dkind == "int" and shape[i] != value:
                    return self.finish_slow(info, args, e)
        if self.depth > 200:
            raise TLRuntimeError(f"recursion too deep in {decl.name}()", e.span)
        result = self.invoke(info, args, e.span)
        if isinstance(decl.ret, ast.TensorTypeExpr):
            result = self.check_return(decl, result, shapes, e.span)
        return result

    def finish_slow(self, info: FnInfo, args: list[Any], e: ast.Call) -> Any:
        """The full checks (and their messages) on already evaluated arguments."""
        decl = info.decl
        shapes: dict[str, tuple[Any, ...]] = {}
        checked = [self.check_param(decl, p, v, a.value.span, shapes)
                   for p, v, a in zip(decl.params, args, e.args, strict=True)]
        if self.depth > 200:
            raise TLRuntimeError(f"recursion too deep in {decl.name}()", e.span)
        result = self.invoke(info, checked, e.span)
        if isinstance(decl.ret, ast.TensorTypeExpr):
            result = self.check_return(decl, result, shapes, e.span)
        return result

    def check_param(self, decl: ast.FnDecl, p: ast.Param, v: Any, span: Span,
                    shapes: dict[str, tuple[Any, ...]]) -> Any:
        """Check one argument against its parameter type (the checker's messages)."""
        t = p.type
        if isinstance(t, ast.TensorTypeExpr):
            if isinstance(v, (int, float, list)) and not isinstance(v, bool):
                v = self.to_tensor(v, span, self.dtype_of(t.dtype, t.span))
            if not isinstance(v, mx.array):
                raise TLRuntimeError(f"{decl.name}(): argument '{p.name}' must be "
                                     f"{_type_text(t)}; found {type_name(v)}", span)
            want_int = kind_of(t.dtype) == "int"
            is_int = not mx.issubdtype(v.dtype, mx.inexact)
            if want_int != is_int and v.dtype != mx.bool_:
                raise TLRuntimeError(f"{decl.name}(): argument '{p.name}' must be "
                                     f"{_type_text(t)}; found {tensor_type(v)}", span)
            if t.dims is not None:
                self.match_dims(v, t, shapes, span, decl.name, p.name)
            return v
        if isinstance(t, ast.NamedTypeExpr):
            ok = ST.SCALAR_CHECKS.get(t.name)
            if ok is not None and not ok(v):
                if type(v) is DeviceInt and t.name == "int":  # a compiled step's position
                    return v
                if isinstance(v, mx.array) and v.size == 1 and t.name in ("int", "float"):
                    return v
                if t.name == "int" and type(v) is float and v.is_integer():
                    return int(v)  # the original's `int` takes a whole Float (UPSTREAM.md 17.2)
                raise TLRuntimeError(f"{decl.name}(): argument '{p.name}' must be {t.name}; "
                                     f"found {type_name(v)}", span)
            if t.name in self.struct_defs.decls:
                ST.check_arg(decl, p, v, span, self.struct_defs)
        return v

    def match_dims(self, v: mx.array, t: ast.TensorTypeExpr, shapes: dict[str, tuple[Any, ...]],
                   span: Span, fn: str, param: str) -> None:
        """Bind and check shape variables. Runs on every call: messages are built only on
        failure (`shapes` keeps the array and the parameter name for them)."""
        dims = t.dims or ()
        shape = v.shape
        if len(dims) != len(shape):
            raise TLRuntimeError(f"{fn}(): argument '{param}' must be {_type_text(t)} "
                                 f"({_plural(len(dims), 'dimension')}); found {tensor_type(v)} "
                                 f"({_plural(len(shape), 'dimension')})", span).with_code("shape")
        for i, d in enumerate(dims):
            kind = d.kind
            if kind == "int":
                if shape[i] != d.value:
                    raise TLRuntimeError(f"{fn}(): argument '{param}' must be {_type_text(t)}; "
                                         f"found {tensor_type(v)} (dimension {i} is {shape[i]}, "
                                         f"not {d.value})", span).with_code("shape")
            elif kind == "var":
                prev = shapes.get(d.value)  # type: ignore[arg-type]
                if prev is None:
                    shapes[d.value] = (shape[i], param, v, span)  # type: ignore[index]
                elif prev[0] != shape[i]:
                    err = TLRuntimeError(
                        f"{fn}(): shape variable {d.value} is {prev[0]} from argument "
                        f"'{prev[1]}' ({tensor_type(prev[2])}) but {shape[i]} from argument "
                        f"'{param}' ({tensor_type(v)})", span).with_code("shape")
                    err.related = ((prev[3], f"{d.value} = {prev[0]} bound here"),)
                    raise err

    def check_return(self, decl: ast.FnDecl, result: Any, shapes: dict[str, tuple[Any, ...]],
                     span: Span) -> Any:
        t = decl.ret
        assert isinstance(t, ast.TensorTypeExpr)
        if not isinstance(result, mx.array):
            if isinstance(result, (int, float)) and not isinstance(result, bool):
                return result
            raise TLRuntimeError(f"{decl.name}() is declared to return {_type_text(t)} but "
                                 f"returned {type_name(result)}", span)
        dims = t.dims
        if dims is None:
            return result
        shape = result.shape
        ok = len(dims) == len(shape)
        if ok:
            for i, d in enumerate(dims):
                if d.kind == "int":
                    want = d.value
                elif d.kind == "var" and d.value in shapes:
                    want = shapes[d.value][0]  # type: ignore[index]
                else:
                    continue
                if shape[i] != want:
                    ok = False
                    break
        if not ok:
            bound = ", ".join(f"{k}={v[0]}" for k, v in shapes.items())
            raise TLRuntimeError(f"{decl.name}() is declared to return {_type_text(t)} but "
                                 f"returned {tensor_type(result)}"
                                 + (f" ({bound})" if bound else ""), span).with_code("shape")
        return result

    def invoke(self, info: FnInfo, args: list[Any], span: Span,
               frame_out: list[Any] | None = None) -> Any:
        if frame_out is not None:  # the caller reads the frame: no compiled run
            return self.run_body(info, args, frame_out)
        if self.compile and not self.tracing and args and self.is_compilable(info):
            key = _trace_key(info.decl, args, info.dynamic)
            if key is not None:
                out = self.run_compiled(info, key, args)
                if out is not _UNCOMPILED:
                    return out
        return self.run_body(info, args)

    def run_compiled(self, info: FnInfo, key: tuple[Any, ...], args: list[Any]) -> Any:
        """Run `info` through mx.compile: one compiled function per `key` (the values of its
        int/float/bool/string parameters and the identity of its Model arguments, which are
        constants of the trace: a Model's tensors never change once loaded), run uncompiled
        on its first call, then traced once per shape of its tensor arguments and replayed.
        An int parameter whose value changes between calls (a decode step's position) is
        passed as a device scalar instead, and a KVCache as its buffers and lengths
        (tl_core.runtime.tracecache), so a whole decode step is one graph replayed per
        token. `_UNCOMPILED` when it must run uncompiled: the trace failed, or warned
        (warnings come from every call), or the function has had `_MAX_TRACES` different
        constants (they change on every call)."""
        entries = info.compiled
        if entries is None:
            entries = info.compiled = {}
        fn = entries.get(key, _UNCOMPILED)
        loaded = False
        if fn is _UNCOMPILED:
            changed = _changing_ints(key, entries, info.static)
            if changed:  # the same constants but these ints ran already: tensors are loaded
                info.dynamic |= changed
                key = _trace_key(info.decl, args, info.dynamic)
                fn = entries.get(key, _UNCOMPILED)
                loaded = True
        if fn is None:  # this key's trace warned or could not run
            return _UNCOMPILED
        if fn is _UNCOMPILED:
            if len(entries) >= _MAX_TRACES:
                info.compilable = False
                info.compiled = None
                return _UNCOMPILED
            # A new key's first call runs uncompiled, and is traced at its second: a call
            # made once costs no trace and no compilation. A function taking a KVCache
            # traces its first key at once: a prefill, made once per prompt, whose compiled
            # graph costs less than the uncompiled run (bench/generate.py --cold-prefill).
            # get_tensor evaluates what it loads, in a trace too, so a trace captures the
            # weights' data, not the loader's graph (a GGUF's dequantization per replay).
            first = self.trace_first
            if first is None:
                first = not entries and any(type(a) is KVCache for a in args)
            fn = entries[key] = _FIRST
            for a in args:  # a Model's compiled functions hold its tensors: drop them with it
                if type(a).__name__ == "Model":
                    weakref.finalize(a, entries.pop, key, None)
            if not loaded and not first:
                return _UNCOMPILED
        if fn is _FIRST:
            fn = entries[key] = mx.compile(self._traced(info, args, key))
        dynamic = [i for i, k in enumerate(key) if k is _DYNAMIC]
        caches = [a for a in args if type(a) is KVCache]
        warned = len(self.out.warnings)
        try:
            out = self._call_compiled(info, fn, key, args, caches, dynamic)
        except Interrupted:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. a host read inside the trace
            if dynamic:  # those ints must be constants: trace with their values again
                info.static |= frozenset(dynamic)
                info.dynamic -= frozenset(dynamic)
                entries.pop(key, None)
            elif caches or isinstance(exc, Untraceable):
                entries[key] = None
            elif not isinstance(exc, TLRuntimeError):
                info.compilable = False
                info.compiled = None
            # rerun uncompiled: an error is raised again with its own span
            return _UNCOMPILED
        if len(self.out.warnings) != warned:
            entries[key] = None
        if out is _UNCOMPILED:
            return out
        return out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out

    def _call_compiled(self, info: FnInfo, fn: Callable[..., Any], key: tuple[Any, ...],
                       args: list[Any], caches: list[KVCache], dynamic: list[int]) -> Any:
        """Call a compiled function: its inputs are the tensor arguments, each cache's
        buffers and lengths, and the dynamic ints as int32 scalars; its outputs the result
        and each cache's new buffers, which replace the old ones (the rows each layer gains
        are the trace's plan, so lengths are known on the host)."""
        tensors = [a for a in args if type(a) is mx.array]
        if not caches and not dynamic:
            self.tracing += 1
            try:
                return fn(*tensors)
            finally:
                self.tracing -= 1
        shapes = (key, tuple((t.shape, t.dtype) for t in tensors))
        known = info.plans.get(shapes)
        if known is not None:
            for c, plan in zip(caches, known[0], strict=True):
                reserve(c, plan)
        scalars = [mx.array(args[i], dtype=mx.int32) for i in dynamic]
        shared = [k[4] for k, a in zip(key, args, strict=True) if type(a) is KVCache]
        self.step_plans = None
        while True:
            inputs = tensors + [x for c, same in zip(caches, shared, strict=True)
                                for x in cache_inputs(c, same)] + scalars
            self.tracing += 1
            try:
                out = fn(*inputs)
            finally:
                self.tracing -= 1
            traced, self.step_plans = self.step_plans, None
            if traced is not None:  # this call traced: its plan is new
                known = info.plans[shapes] = traced
            assert known is not None
            if not any([reserve(c, plan) for c, plan in zip(caches, known[0], strict=True)]):
                break  # a cache grew: its buffers have a new shape, trace again
        for i, n in known[1]:  # gathers' bounds, checked on the host as uncompiled runs do
            try:
                ops.check_gather(mx.zeros((n, 0)), inputs[i], "ids")
            except OpError:
                return _UNCOMPILED  # the uncompiled run reports it
        outputs = iter(out[1:])
        for c, plan in zip(caches, known[0], strict=True):
            apply_outputs(c, plan, outputs)
        return out[0]

    def bound_in_trace(self, ids: mx.array, n: int) -> bool:
        """In a compiled step's trace, the bounds check of a gather whose ids are an input
        is left to the host after each call (`_call_compiled`): True. Ids computed in the
        trace cannot be checked: Untraceable. False outside a step's trace."""
        if self.trace_inputs is None:
            return False
        for i, x in enumerate(self.trace_inputs):
            if x is ids:
                self.trace_bounds.append((i, n))
                return True
        raise Untraceable("a gather with ids computed in the step")

    def _traced(self, info: FnInfo, args: list[Any], key: tuple[Any, ...]) -> Callable[..., Any]:
        """The body as a function of the tensor arguments (then each cache's buffers and
        lengths, then the dynamic ints); the others are constants (a Model weakly held: the
        compiled function must not keep it alive)."""
        n = len(args)
        tensors = [i for i, a in enumerate(args) if type(a) is mx.array]
        caches = {i: (a.n_layers, a.dtype, key[i][3], key[i][4], key[i][5])
                  for i, a in enumerate(args) if type(a) is KVCache}
        dynamic = [i for i, k in enumerate(key) if k is _DYNAMIC]
        consts: dict[int, Any] = {
            i: weakref.ref(a) if type(a).__name__ == "Model" else a
            for i, a in enumerate(args)
            if i not in caches and i not in dynamic and type(a) is not mx.array}
        models = {i for i, a in enumerate(args) if type(a).__name__ == "Model"}

        def traced(*arrays: mx.array) -> Any:
            step = bool(caches or dynamic)
            if step:
                self.trace_inputs, self.trace_bounds = list(arrays), []
            it = iter(arrays)
            full: list[Any] = [None] * n
            for i in tensors:
                full[i] = next(it)
            traced_caches = []
            for i, meta in caches.items():
                full[i] = traced_cache(meta, it)
                traced_caches.append(full[i])
            for i in dynamic:
                full[i] = DeviceInt(next(it))
            for i, c in consts.items():
                full[i] = c() if i in models else c
            try:
                out = self.run_body(info, full)
            finally:
                self.trace_inputs = None
            if not isinstance(out, mx.array):
                raise _NotArray()
            if not step:
                return out
            self.step_plans = (tuple(step_plan(c) for c in traced_caches),
                               tuple(self.trace_bounds))
            return (out, *[b for c in traced_caches for b in traced_outputs(c)])
        return traced

    def run_body(self, info: FnInfo, args: list[Any], frame_out: list[Any] | None = None) -> Any:
        decl = info.decl
        frame = Env(self.globals, frame=True)
        if frame_out is not None:
            frame_out.append(frame)
        for p, v in zip(decl.params, args, strict=True):
            frame.vars[p.name] = v
        saved = self.base_dir
        saved_text = self.text
        self.base_dir = info.base_dir
        self.text = info.text
        self.depth += 1
        try:
            stmts = decl.body.stmts
            for i, stmt in enumerate(stmts):
                if (i == len(stmts) - 1 and isinstance(stmt, ast.ExprStmt)
                        and decl.ret is not None and not _is_void(decl.ret)):
                    self.check_interrupt(stmt.span)
                    return self.eval(stmt.expr, frame)
                self.exec_stmt(stmt, frame)
        except _Return as r:
            return r.value
        except (_Break, _Continue):
            raise TLRuntimeError("break or continue outside a loop", decl.span) from None
        finally:
            self.depth -= 1
            self.base_dir = saved
            self.text = saved_text
        return None

    def is_compilable(self, info: FnInfo, seen: set[str] | None = None) -> bool:
        if info.compilable is not None:
            return info.compilable
        seen = seen or set()
        seen.add(info.decl.name)
        result = _pure_fn(info.decl, self, seen)
        info.compilable = result
        return result


class _NotArray(Exception):  # noqa: N818
    pass


_UNCOMPILED = object()  # Interpreter.run_compiled: run the body instead
_FIRST = object()  # a key called once, uncompiled: the next call traces it
# Different constant arguments one function is compiled for before it runs uncompiled.
_MAX_TRACES = 256
_TENSOR_ARG = object()  # a tensor argument's place in a trace key
_DYNAMIC = object()  # an int argument passed as a device scalar, in a trace key
_INT32 = 1 << 31  # the device scalar's range
# Parameters that may be constants of a compiled function.
_CONSTANT_PARAMS = frozenset({"int", "float", "bool", "string", "Model"})
# Impure built-ins that are safe in a compiled body: their host results depend only on the
# trace's constants and shapes (`get_tensor` of a loaded Model returns the same tensor).
_TRACE_SAFE = frozenset({"get_tensor", "len", "str", "range"})


def _trace_key(decl: ast.FnDecl, args: list[Any],
               dynamic: frozenset[int] = frozenset()) -> tuple[Any, ...] | None:
    """What a compiled function of `decl` is specialised on for these (checked) arguments;
    None when one cannot be a constant (a tensor given for an int, say) or none is a
    tensor. The ints at the `dynamic` positions are inputs (`_DYNAMIC`), a KVCache is
    keyed on its layout (`tracecache.cache_key`)."""
    key: list[Any] = []
    tensors = False
    for i, (p, a) in enumerate(zip(decl.params, args, strict=True)):
        t = type(a)
        if t is mx.array:
            if not isinstance(p.type, ast.TensorTypeExpr):
                return None
            key.append(_TENSOR_ARG)
            tensors = True
        elif t is int and i in dynamic and -_INT32 <= a < _INT32:
            key.append(_DYNAMIC)
        elif t is float:
            key.append((t, a.hex()))  # 0.0 and -0.0 differ; nan equals itself
        elif t in (int, bool, str):
            key.append((t, a))
        elif t.__name__ == "Model":
            key.append(("Model", id(a)))
        elif t is KVCache:
            if any(b is a for b in args[:i]):
                return None  # one cache given twice: its appends would not see each other
            key.append(cache_key(a))
        else:
            return None
    return tuple(key) if tensors else None


def _changing_ints(key: tuple[Any, ...], entries: dict[Any, Any],
                   static: frozenset[int]) -> frozenset[int]:
    """The int positions in which `key` differs from a known key equal in all else: ints
    whose value changes between calls, better passed as device scalars than traced anew
    for each value."""
    for known in entries:
        if len(known) != len(key):
            continue
        diff = [i for i, (a, b) in enumerate(zip(known, key, strict=True)) if a != b]
        if diff and all(type(key[i]) is tuple and key[i][0] is int and type(known[i]) is tuple
                        and i not in static for i in diff):
            return frozenset(diff)
    return frozenset()


# Call sites whose binding is remembered (Interpreter._plans) before the table starts over.
_MAX_PLANS = 100_000


@dataclass(frozen=True, slots=True)
class _BuiltinPlan:
    """The argument binding of one built-in call site (`Interpreter.builtin_plan`)."""

    builtin: Any
    positional: tuple[Any, ...]  # the positional arguments' expressions (receiver excluded)
    keywords: tuple[tuple[str, Any], ...]  # keyword name -> expression, as written
    sources: tuple[tuple[str, int | str], ...]  # fixed parameter -> position or keyword
    var_start: int  # variadic: the position of the first extra value; -1 when not variadic
    var_keyword_arg: str | None  # the variadic parameter given by name
    extra: tuple[str, ...]  # var_keyword: the keywords that are no parameter
    by_position: tuple[str, ...]  # variadic: the fixed parameters passed before the values
    by_keyword: tuple[str, ...]  # variadic: the keyword-only parameters given
    arg_spans: dict[str, Span]  # for errors: parameter (or #i, a variadic value) -> span
    arg_nodes: dict[str, Any]
    rest_nodes: list[Any]


_FLOATS = frozenset(DTYPES[n] for n in FLOAT_DTYPES)


def _nav_root(node: Any) -> Any:
    """The model expression at the root of a navigation (`m` of `m.blk[0].attn_q`)."""
    while isinstance(node, (ast.Field, ast.Index)):
        node = node.obj
    return node


def _leaf_kinds(v: Any) -> set[type] | None:
    """The Python types of the leaves of nested lists (None when a leaf is not a number)."""
    out: set[type] = set()
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, list):
            stack.extend(x)
        elif type(x) in (int, float):
            out.add(type(x))
        else:
            return None
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _is_void(t: Any) -> bool:
    return isinstance(t, ast.NamedTypeExpr) and t.name == "void"


def _type_text(t: Any) -> str:
    if isinstance(t, ast.TensorTypeExpr):
        if t.dims is None:
            return t.dtype
        return t.dtype + "[" + ", ".join(
            "?" if d.kind == "unknown" else str(d.value) for d in t.dims) + "]"
    return getattr(t, "name", "?")


def _model_error() -> type[Exception]:
    return ModelFileError


_NOWHERE = Span(0, 0, 0, 0, 0, 0)


def _pure_fn(decl: ast.FnDecl, interp: Interpreter, seen: set[str]) -> bool:
    """True when a function may run through mx.compile: tensor parameters and constant ones
    (`_CONSTANT_PARAMS`, specialised on), no side effects, no randomness, and no free
    variables (a captured global would be frozen)."""
    if not decl.params or not all(
            isinstance(p.type, ast.TensorTypeExpr) or (
                isinstance(p.type, ast.NamedTypeExpr)
                and p.type.name in (*_CONSTANT_PARAMS, "KVCache")
                and p.type.name not in interp.struct_defs.decls) for p in decl.params):
        return False
    bound = {p.name for p in decl.params}
    caches = {p.name for p in decl.params
              if isinstance(p.type, ast.NamedTypeExpr) and p.type.name == "KVCache"}
    for node in ast.walk(decl.body):
        if isinstance(node, (ast.Let, ast.For)):
            bound.add(node.name if isinstance(node, ast.Let) else node.var)
        elif isinstance(node, ast.Assign) and isinstance(node.target, ast.Name):
            bound.add(node.target.id)
        elif isinstance(node, ast.MatchArm):
            for sub in ast.walk(node.pattern):
                if isinstance(sub, ast.PatBind):
                    bound.add(sub.name)
    for node in ast.walk(decl.body):
        if isinstance(node, (ast.TensorCtor, ast.Path, ast.StructLit, ast.Rule, ast.Query,
                             ast.Infer, ast.ErrorExpr, ast.ErrorStmt, ast.SetLiteral)):
            return False
        if isinstance(node, ast.Assign) and not isinstance(node.target, ast.Name):
            return False
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.name if isinstance(f, ast.Field) \
                else None
            if name in _CACHE_METHODS and _on_cache(node, caches):
                continue  # a cache parameter's rows: traced as its buffers
            if name is None or name == "panic" or (name in BUILTINS and not BUILTINS[name].pure
                                                    and name not in _TRACE_SAFE):
                return False
            if isinstance(f, ast.Field) and any(name in ms for ms in
                                                interp.struct_defs.methods.values()):
                return False  # a struct's method: its receiver is no tensor
            if name in interp.fns and name not in seen:
                callee = interp.fns[name]
                seen.add(name)
                if not _pure_fn(callee.decl, interp, seen):
                    return False
        if isinstance(node, ast.Name) and node.id not in bound:
            if node.id not in interp.fns and node.id not in BUILTINS \
                    and node.id not in _DEVICE_NAMES:
                return False
    return True


# The KVCache calls a compiled function may make on a cache parameter (tracecache).
_CACHE_METHODS = frozenset({"append", "get_k", "get_v"})


def _on_cache(call: ast.Call, caches: set[str]) -> bool:
    """True when `call`'s receiver (`c.append(...)`) or first argument (`get_k(c, 0)`) is
    one of the `caches` parameters."""
    f = call.func
    if isinstance(f, ast.Field):
        target = f.obj
    elif call.args and call.args[0].name is None:
        target = call.args[0].value
    else:
        return False
    return isinstance(target, ast.Name) and target.id in caches


_ORDERINGS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def binary_op(op: str, a: Any, b: Any, eq_tolerance: float = 0.0) -> Any:
    """The operators of LANGUAGE.md section 4 on runtime values; with `eq_tolerance`, `==`
    and `!=` on numbers compare floats within it (a constraint's, UPSTREAM.md 17.3)."""
    if isinstance(a, str) or isinstance(b, str):
        if op == "+" and isinstance(a, str) and isinstance(b, str):
            return a + b
        if op == "*" and isinstance(a, str) != isinstance(b, str):
            n = b if isinstance(a, str) else a
            if isinstance(n, int) and not isinstance(n, bool):
                return repeat(a if isinstance(a, str) else b, n)
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op in _ORDERINGS and isinstance(a, str) and isinstance(b, str):
            return _ORDERINGS[op](a, b)  # by code point: Rust's byte order of UTF-8
        raise OpError(f"{type_name(a)} {op} {type_name(b)}: not defined for strings")
    if isinstance(a, list) and isinstance(b, list) and op in ("==", "!="):
        return (a == b) == (op == "==")
    if isinstance(a, list):
        a = ops.as_tensor(a, "a")
    if isinstance(b, list):
        b = ops.as_tensor(b, "b")
    scalar = not isinstance(a, mx.array) and not isinstance(b, mx.array)
    for v in (a, b):
        if not isinstance(v, (int, float, bool, mx.array)):
            raise OpError(f"{type_name(a)} {op} {type_name(b)}: not defined for {type_name(v)}")
    if scalar:
        return _scalar_binary(op, a, b, eq_tolerance)
    if op in ("+", "-", "*", "/", "⊙", "**", "%"):
        fn = {"+": ops.op_add, "-": ops.op_sub, "*": ops.op_mul, "⊙": ops.op_mul,
              "/": ops.op_div, "**": ops.op_pow}.get(op)
        if fn is not None:
            if op in ("*", "⊙", "+", "-") and isinstance(a, mx.array) and isinstance(b, mx.array):
                ops._broadcast_check(a, b, op)
            return fn(None, a, b)
        if isinstance(a, mx.array) and isinstance(b, mx.array):
            ops._broadcast_check(a, b, op)
        return mx.remainder(a, b)
    if op == "@":
        return ops.op_matmul(None, a, b)
    if op == "⊗":
        ta, tb = ops.as_tensor(a, "a"), ops.as_tensor(b, "b")
        return ta.reshape(*ta.shape, *([1] * tb.ndim)) * tb
    if op == "≈":
        return _within(op, a, b, APPROX_TOLERANCE)
    if eq_tolerance and op in ("==", "!="):
        near = _within(op, a, b, eq_tolerance)
        return near if op == "==" else mx.logical_not(near)
    cmp = {"==": mx.equal, "!=": mx.not_equal, "<": mx.less, "<=": mx.less_equal,
           ">": mx.greater, ">=": mx.greater_equal}.get(op)
    if cmp is not None:
        if isinstance(a, mx.array) and isinstance(b, mx.array):
            ops._broadcast_check(a, b, op)
        return cmp(a, b)
    raise OpError(f"unknown operator {op}")


APPROX_TOLERANCE = 1e-3  # `a ≈ b`, the original's constraint tolerance (UPSTREAM.md 17.3)
CONSTRAINT_TOLERANCE = 1e-6  # `==` on floats in the original's constraints (17.3)
# the calls whose comparisons are the original's constraints `rank(x) OP n`, `norm(x) OP v`
_CONSTRAINT_CALLS = frozenset({"rank", "norm"})


def _is_constraint(cond: Any) -> bool:
    """Whether an `if`/`while` condition starts with the word `not` (UPSTREAM.md 2)."""
    while type(cond) is ast.Binary and cond.op in ("&&", "||"):
        cond = cond.left
    return type(cond) is ast.Unary and cond.word


def _within(op: str, a: Any, b: Any, tolerance: float) -> mx.array:
    """|a - b| < tolerance element-wise, computed in float32, for tensor operands (a number
    becomes a float32 value, not the float16 of a tensor literal)."""
    if isinstance(a, mx.array) and isinstance(b, mx.array):
        ops._broadcast_check(a, b, op)
    ta, tb = (v if isinstance(v, mx.array) else mx.array(v, dtype=mx.float32) for v in (a, b))
    return mx.abs(ta.astype(mx.float32) - tb.astype(mx.float32)) < tolerance


def _scalar_binary(op: str, a: Any, b: Any, eq_tolerance: float = 0.0) -> Any:
    if op in ("+", "-", "*", "⊙", "%", "**") and (isinstance(a, bool) or isinstance(b, bool)):
        raise OpError(f"{type_name(a)} {op} {type_name(b)}: arithmetic on bool")
    if op in ("+", "-", "*", "⊙"):
        result = a + b if op == "+" else a - b if op == "-" else a * b
        return checked_int(result) if type(result) is int else result
    if op == "/":
        if b == 0:
            raise OpError(f"division by zero ({a} / {b})")
        if isinstance(a, int) and isinstance(b, int):
            return int_div(a, b)  # truncates toward zero, as in the original
        return a / b
    if op == "%":
        if b == 0:
            raise OpError(f"division by zero ({a} % {b})")
        return rem(a, b)
    if op == "**":
        if isinstance(a, int) and isinstance(b, int) and not isinstance(b, bool) and b < 0:
            raise OpError(f"{a} ** {b}: an int raised to a negative int is not an int; write "
                          f"{a}.0 ** {b} for a float")
        return power(a, b)
    if op == "≈" or (eq_tolerance and op in ("==", "!=")):
        # the original's `≈` and a constraint's `==`: ints exactly, floats within tolerance
        if isinstance(a, int) and isinstance(b, int):
            near = a == b
        else:
            near = abs(a - b) < (APPROX_TOLERANCE if op == "≈" else eq_tolerance)
        return near if op != "!=" else not near
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op in ("@", "⊗"):
        raise OpError(f"{type_name(a)} {op} {type_name(b)}: needs tensors")
    raise OpError(f"unknown operator {op}")


_EVAL: dict[type, Callable[[Interpreter, Any, Env], Any]] = {
    ast.Name: Interpreter.eval_name,
    ast.Number: Interpreter.eval_number,
    ast.String: Interpreter.eval_string,
    ast.Bool: Interpreter.eval_bool,
    ast.ArrayLiteral: Interpreter.eval_array,
    ast.TupleExpr: Interpreter.eval_tuple,
    ast.Call: Interpreter.eval_call,
    ast.TensorCtor: Interpreter.eval_tensor_ctor,
    ast.Field: Interpreter.eval_field,
    ast.Path: Interpreter.eval_path,
    ast.Index: Interpreter.eval_index,
    ast.Unary: Interpreter.eval_unary,
    ast.Binary: Interpreter.eval_binary,
    ast.Cast: Interpreter.eval_cast,
    ast.StructLit: Interpreter.eval_struct,
    ast.Match: Interpreter.eval_match,
    ast.BlockExpr: Interpreter.eval_block_expr,
}
