"""`Session`: a persistent environment per document, as in a notebook.

`Session.run(text, range=None)` (re)defines every `fn` of the text, then runs the selected
statements (the whole text when no range) and returns a `RunResult`. Importing this module
does not import MLX; the interpreter loads on the first run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tl_core.diagnostics import Diagnostic, Related, Severity
from tl_core.runtime.errors import TLRuntimeError
from tl_core.syntax import parse
from tl_core.syntax.span import LineIndex, Span


@dataclass(frozen=True, slots=True)
class ValueSummary:
    """The last expression's value: `kind` is tensor|int|float|bool|string|list|model|
    tuple|record|function|none; `text` is the abbreviated rendering."""

    kind: str
    text: str
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    device: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text,
                "shape": list(self.shape) if self.shape is not None else None,
                "dtype": self.dtype, "device": self.device, "line": self.line}


@dataclass(frozen=True, slots=True)
class RunResult:
    stdout: str
    value: ValueSummary | None
    elapsed_ms: float
    device: str
    errors: tuple[Diagnostic, ...]
    interrupted: bool = False
    relations: tuple[tuple[str, int], ...] = ()  # facts (given and derived) per relation

    @property
    def ok(self) -> bool:
        return not any(d.severity == Severity.ERROR for d in self.errors)


def blank_outside(text: str, start: int, end: int) -> str:
    """The text up to `end` with everything before `start` replaced by spaces (newlines
    kept), so a selection parses alone with the document's own offsets, lines and columns,
    and a half statement's error sits at the end of the selection."""
    return "".join(c if c == "\n" else " " for c in text[:start]) + text[start:end]


class Session:
    def __init__(self, base_dir: str | Path | None = None, device: str | None = None,
                 path: str | Path | None = None) -> None:
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        # the document's file, when it has one: an import of it is a cycle, as in `tl check`
        self.path = Path(path).resolve() if path is not None else None
        self.device_request = device
        self._interrupt = threading.Event()
        self._interp: Any = None
        self._lock = threading.Lock()

    @property
    def interpreter(self) -> Any:
        if self._interp is None:
            # lazy: MLX loads with the first run (the kernel imports this module)
            from tl_core.runtime.interpreter import Interpreter

            self._interp = Interpreter(self.base_dir, self.device_request,
                                       interrupt=self._interrupt)
        return self._interp

    @property
    def device(self) -> str:
        return self.interpreter.device

    def interrupt(self) -> None:
        """Stop the running `run` at its next statement or loop iteration (thread-safe)."""
        self._interrupt.set()

    def run(self, text: str, range: tuple[int, int] | Span | None = None,  # noqa: A002
            on_output: Callable[[str], None] | None = None,
            on_progress: Callable[[str, int, int, str], None] | None = None) -> RunResult:
        """Run `text` (or the `range` of it); `on_output` sees printed text as it is
        printed (the result's `stdout` holds all of it too); `on_progress(title, done,
        total, message)` sees the progress of long work (a learn block's epochs)."""
        with self._lock:
            self.interpreter.on_progress = on_progress
            try:
                return self._run(text, range, on_output)
            finally:
                self.interpreter.on_progress = None

    def _run(self, text: str, sel: tuple[int, int] | Span | None,
             on_output: Callable[[str], None] | None = None) -> RunResult:
        start_time = time.perf_counter()
        interp = self.interpreter
        self._interrupt.clear()
        out: list[str] = []
        if on_output is None:
            interp._write = out.append
        else:
            def write(chunk: str) -> None:
                out.append(chunk)
                on_output(chunk)

            interp._write = write
        interp.out.warnings.clear()
        interp.out.last_value = None
        interp.out.has_value = False
        interp.out.last_value_span = None

        def result(errors: list[Diagnostic], interrupted: bool = False) -> RunResult:
            value = None
            if interp.out.has_value and interp.out.last_value is not None and not any(
                    d.severity == Severity.ERROR for d in errors):
                value = summarize(interp.out.last_value, interp.device,
                                  interp.out.last_value_span)
            facts = () if interrupted or interp._logic is None else \
                interp._logic.fact_counts()
            return RunResult("".join(out), value,
                             (time.perf_counter() - start_time) * 1000.0, interp.device,
                             tuple(interp.out.warnings) + tuple(errors), interrupted, facts)

        full = parse(text)
        interp.text = text
        interp.source_path = self.path
        interp._imported.clear()  # imports load afresh on every run (edited libraries)
        if sel is None:
            if full.errors:
                return result(list(full.errors))
            items = full.program.items
            interp.define_functions(full.program)
        else:
            start, end = (sel.start, sel.end) if isinstance(sel, Span) else sel
            start = max(0, min(start, len(text)))
            end = max(start, min(end, len(text)))
            interp.define_functions(full.program)
            part = parse(blank_outside(text, start, end))
            if part.errors:
                return result(list(part.errors))
            items = part.program.items
            interp.define_functions(part.program)
        try:
            interp.run_items(items)
        except TLRuntimeError as exc:
            span = exc.span or _first_span(text)
            diag = Diagnostic(span, exc.message, Severity.ERROR, exc.code,
                              tuple(Related(s, m) for s, m in exc.related))
            return result([diag], interrupted=exc.code == "interrupted")
        except RecursionError:
            return result([Diagnostic(_first_span(text), "recursion too deep",
                                      Severity.ERROR, "runtime")])
        return result([])


def _first_span(text: str) -> Span:
    return LineIndex(text).span(0, 0)


def summarize(value: Any, device: str, span: Span | None) -> ValueSummary:
    import mlx.core as mx  # lazy: MLX and the modules on it, as in `Session.interpreter`

    from tl_core.runtime.printing import format_value, tensor_values, value_kind
    from tl_core.runtime.values import dtype_name

    line = span.line if span is not None else None
    if isinstance(value, mx.array):
        return ValueSummary("tensor", tensor_values(value), tuple(value.shape),
                            dtype_name(value.dtype), device, line)
    return ValueSummary(value_kind(value), format_value(value, device), None, None, None, line)
