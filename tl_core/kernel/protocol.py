"""The run contract between the language server, the kernel and the clients (docs/kernel.md).

One module owns the shapes of a `run` request and its result (frozen dataclasses, to and
from JSON) and every position conversion on the run path:

- the server's code-point offsets into the document -> the request's `range`
  (`RunRequest.for_offsets`),
- the request's `range` -> the worker's offsets into the text (`RunRequest.selection`),
- the runtime's `Diagnostic` spans -> the result's error ranges (`RunError.from_diagnostic`),
- a result's error ranges -> spans on the text that ran, or on the document as it is now
  (`RunError.diagnostic`),
- the lines that ran (`RunRequest.lines`: a range ending at a line's start ends on the line
  before) and the line a result is shown after (`result_line`).

Ranges are 0-based lines and Unicode code points, lines ending at `\\n` (`LineIndex`); the
language server converts them to its negotiated LSP encoding, and nothing else does.

It also formats results, once, for every client: `Labels` (the inline text, the line it
goes after, the output-log block and its parts) travel in the result, so editors only
display them. MLX-free and light: the kernel process imports it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from tl_core.diagnostics import Diagnostic, Related, Severity
from tl_core.runtime.session import ValueSummary as Value  # the value of a run's last statement
from tl_core.syntax.span import LineIndex, Span

DEVICES = ("gpu", "cpu")


class BadRequest(Exception):
    """A request that is not what docs/kernel.md describes (not a JSON object of finite
    numbers in UTF-8, ill-typed params); the message says what is wrong."""


# ---------------------------------------------------------------------------
# JSON lines


def dumps(msg: dict[str, Any]) -> str:
    """One message as one line (without the line break)."""
    # ASCII only: a lone surrogate in a document (valid in a JSON string escape, not in
    # UTF-8) travels as its \u escape instead of failing the write.
    return json.dumps(msg, ensure_ascii=True, separators=(",", ":"))


def _reject_constant(name: str) -> Any:
    raise BadRequest(f"numbers must be finite, found {name}")


def _finite_float(text: str) -> float:
    v = float(text)
    if v in (float("inf"), float("-inf")):
        raise BadRequest(f"numbers must be finite, found {text[:40]} (out of range)")
    return v


def parse_request(line: str | bytes) -> Any:
    """One request line as JSON; BadRequest says why it is not one (never another
    exception, whatever the bytes)."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"a request must be UTF-8: byte {line[exc.start]:#04x} at "
                             f"{exc.start} is not valid UTF-8") from None
    try:
        return json.loads(line, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"not JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("not JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise BadRequest(f"not JSON: {exc}") from None


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int(v: object, default: int = 0) -> int:
    return v if _is_int(v) else default  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# ranges


@dataclass(frozen=True, slots=True)
class Range:
    """A range of a text: 0-based lines (ending at `\\n`) and code points, end exclusive."""

    start_line: int
    start_char: int
    end_line: int
    end_char: int

    @staticmethod
    def from_offsets(index: LineIndex, start: int, end: int) -> Range:
        l0, c0 = index.position(start)
        l1, c1 = index.position(max(start, end))
        return Range(l0, c0, l1, c1)

    @staticmethod
    def from_span(span: Span) -> Range:
        return Range(span.line, span.col, span.end_line, span.end_col)

    def offsets(self, index: LineIndex) -> tuple[int, int]:
        """Offsets into `index`'s text (positions past a line's or the text's end clamp)."""
        start = index.offset(self.start_line, self.start_char)
        return start, max(start, index.offset(self.end_line, self.end_char))

    def span(self, index: LineIndex) -> Span:
        """The same lines and columns on `index`'s text (which may have changed since)."""
        return index.span(*self.offsets(index))

    def to_json(self) -> dict[str, Any]:
        return {"start": {"line": self.start_line, "character": self.start_char},
                "end": {"line": self.end_line, "character": self.end_char}}

    @staticmethod
    def from_json(obj: Any) -> Range:
        """Strict: BadRequest unless `{start: {line, character}, end: {...}}` of integers."""
        try:
            vals = [obj[end][key] for end in ("start", "end") for key in ("line", "character")]
        except (KeyError, TypeError, IndexError):
            vals = []
        if len(vals) != 4 or not all(_is_int(v) for v in vals):
            raise BadRequest('params.range must be {"start": {"line", "character"}, "end": '
                             '{"line", "character"}} of integers, or null')
        return Range(*vals)

    @staticmethod
    def read(obj: Any) -> Range:
        """Lenient, for results: what is missing or ill-typed reads as 0."""
        obj = obj if isinstance(obj, dict) else {}
        s = obj.get("start") if isinstance(obj.get("start"), dict) else {}
        e = obj.get("end") if isinstance(obj.get("end"), dict) else {}
        return Range(_int(s.get("line")), _int(s.get("character")),
                     _int(e.get("line")), _int(e.get("character")))


@dataclass(frozen=True, slots=True)
class Lines:
    """The lines a run covered: 0-based, both inclusive."""

    first: int
    last: int

    def to_json(self) -> dict[str, int]:
        return {"first": self.first, "last": self.last}

    @staticmethod
    def read(obj: Any) -> Lines:
        obj = obj if isinstance(obj, dict) else {}
        first = max(0, _int(obj.get("first")))
        return Lines(first, max(first, _int(obj.get("last"), first)))


def doc_name(uri: str, path: str | None = None) -> str:
    """The short name of a document in logs: its file name."""
    return PurePosixPath(path).name if path else uri.rsplit("/", 1)[-1]


# ---------------------------------------------------------------------------
# the request


@dataclass(frozen=True, slots=True)
class RunRequest:
    uri: str
    text: str
    range: Range | None = None  # None: the whole text
    path: str | None = None
    device: str | None = None

    @staticmethod
    def for_offsets(uri: str, text: str, start: int | None = None, end: int | None = None,
                    path: str | None = None, device: str | None = None) -> RunRequest:
        """A run of `text[start:end]` (code-point offsets; None: the whole text)."""
        rng = None
        if start is not None and end is not None:
            rng = Range.from_offsets(LineIndex(text), start, end)
        return RunRequest(uri, text, rng, path or None, device or None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uri": self.uri, "text": self.text}
        if self.range is not None:
            out["range"] = self.range.to_json()
        if self.path:
            out["path"] = self.path
        if self.device:
            out["device"] = self.device
        return out

    @staticmethod
    def from_json(params: Any) -> RunRequest:
        """The request's params, or BadRequest saying what is wrong with them."""
        if not isinstance(params, dict):
            raise BadRequest("params must be a JSON object")
        if not isinstance(params.get("uri"), str):
            raise BadRequest("run needs params.uri (a string)")
        if not isinstance(params.get("text"), str):
            raise BadRequest("run needs params.text (the document text)")
        rng = params.get("range")
        selected = Range.from_json(rng) if rng is not None else None
        dev = params.get("device")
        if dev not in (None, *DEVICES):
            raise BadRequest(f"params.device must be \"gpu\", \"cpu\" or null, found {dev!r}")
        path = params.get("path")
        return RunRequest(params["uri"], params["text"], selected,
                          path if isinstance(path, str) and path else None, dev)

    @property
    def name(self) -> str:
        return doc_name(self.uri, self.path)

    def file_path(self) -> Path | None:
        """`path`, else the path of a `file:` URI, else None."""
        if self.path:
            return Path(self.path)
        parsed = urlparse(self.uri)
        if parsed.scheme == "file":
            return Path(unquote(parsed.path))
        return None

    def selection(self, index: LineIndex | None = None) -> tuple[int, int] | None:
        """The code-point offsets the range selects (None: the whole text)."""
        if self.range is None:
            return None
        return self.range.offsets(index or LineIndex(self.text))

    def lines(self, index: LineIndex | None = None) -> Lines:
        """The lines that run; a range ending at a line's start ends on the line before."""
        index = index or LineIndex(self.text)
        start, end = self.selection(index) or (0, len(self.text))
        first = index.position(start)[0]
        last, col = index.position(end)
        if col == 0 and last > first:
            last -= 1
        return Lines(first, last)

    def head(self, index: LineIndex | None = None) -> str:
        """The first line of the run's block in the output log: `[run linear.tl:3-9]`."""
        lines = self.lines(index)
        return f"[run {self.name}:{lines.first + 1}-{lines.last + 1}]"


# ---------------------------------------------------------------------------
# the result


def read_value(obj: Any) -> Value | None:
    """A result's `value` (docs/kernel.md), or None for none or an ill-typed one."""
    if not isinstance(obj, dict) or obj.get("kind") in (None, "none"):
        return None
    shape = obj.get("shape")
    shape = tuple(d for d in shape if _is_int(d)) if isinstance(shape, list) else None
    line = obj.get("line")

    def opt(key: str) -> str | None:
        return str(obj[key]) if obj.get(key) is not None else None

    return Value(str(obj.get("kind")), str(obj.get("text", "")), shape, opt("dtype"),
                 opt("device"), line if _is_int(line) else None)


def type_text(value: Value) -> str | None:
    """`float16[4, 2]` for a tensor, else None."""
    if value.kind != "tensor" or value.shape is None:
        return None
    return f"{value.dtype or 'float16'}[{', '.join(str(d) for d in value.shape)}]"


@dataclass(frozen=True, slots=True)
class RunError:
    """One diagnostic of a run: syntax, runtime, shape errors and warnings alike."""

    range: Range
    message: str
    severity: str = "error"  # "error" | "warning"
    code: str = "runtime"
    related: tuple[tuple[Range, str], ...] = ()

    @staticmethod
    def from_diagnostic(d: Diagnostic) -> RunError:
        return RunError(Range.from_span(d.span), d.message, d.severity.value, d.code,
                        tuple((Range.from_span(r.span), r.message) for r in d.related))

    def diagnostic(self, index: LineIndex) -> Diagnostic:
        """The error as a tl_core Diagnostic on `index`'s text: the text that ran, or the
        document as it is now (the same lines and columns)."""
        try:
            severity = Severity(self.severity)
        except ValueError:
            severity = Severity.ERROR
        return Diagnostic(
            span=self.range.span(index), message=self.message, severity=severity,
            code=self.code, source="tensorlogic run",
            related=tuple(Related(r.span(index), m) for r, m in self.related))

    def to_json(self) -> dict[str, Any]:
        return {"range": self.range.to_json(), "message": self.message,
                "severity": self.severity, "code": self.code,
                "related": [{"range": r.to_json(), "message": m} for r, m in self.related]}

    @staticmethod
    def read(obj: Any) -> RunError:
        obj = obj if isinstance(obj, dict) else {}
        related = tuple((Range.read(r.get("range")), str(r.get("message", "")))
                        for r in obj.get("related") or () if isinstance(r, dict))
        return RunError(Range.read(obj.get("range")), str(obj.get("message", "")),
                        str(obj.get("severity", "error")), str(obj.get("code", "runtime")),
                        related)


@dataclass(frozen=True, slots=True)
class Labels:
    """A result as people read it, made once here for every client.

    `inline` goes after line `line` of the document (`⇒ float16[4, 2] on gpu · 0.8 ms`),
    `error` says whether it reports an error. `log` is the run's block in an output log:
    `head` (`[run linear.tl:3-9]`), a line break, the printed text, then `tail` (the value,
    the errors, how it ended). A client that shows printed text as it arrives writes `head`
    and a line break first, then the text, then `tail`.
    """

    inline: str
    line: int
    error: bool
    head: str
    tail: str
    log: str

    def to_json(self) -> dict[str, Any]:
        return {"inline": self.inline, "line": self.line, "error": self.error,
                "head": self.head, "tail": self.tail, "log": self.log}

    @staticmethod
    def read(obj: Any) -> Labels:
        obj = obj if isinstance(obj, dict) else {}
        return Labels(str(obj.get("inline", "")), max(0, _int(obj.get("line"))),
                      bool(obj.get("error")), str(obj.get("head", "")),
                      str(obj.get("tail", "")), str(obj.get("log", "")))


def duration(ms: float) -> str:
    """`0.8 ms`, `12 ms`, `1.25 s`."""
    v = ms if ms >= 0 else 0.0
    if v < 10:
        return f"{v:.1f} ms"
    if v < 1000:
        return f"{int(v + 0.5)} ms"  # half up
    return f"{v / 1000:.2f} s"


def one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _is_code(line: str) -> bool:
    t = line.strip()
    return t != "" and not t.startswith(("//", "/*", "*"))


def result_line(index: LineIndex, lines: Lines) -> int:
    """The line a result is shown after: the last line of the run holding code (blank lines,
    comments and the next cell's marker are skipped), else the run's first line."""
    last = min(lines.last, len(index.starts) - 1)
    for i in range(last, lines.first - 1, -1):
        if _is_code(index.line_text(i)):
            return i
    return max(0, min(lines.first, len(index.starts) - 1))


@dataclass(frozen=True, slots=True)
class RunResult:
    stdout: str
    value: Value | None
    elapsed_ms: float
    device: str | None
    errors: tuple[RunError, ...]
    interrupted: bool
    relations: dict[str, int]
    lines: Lines  # the lines that ran
    labels: Labels
    extra: dict[str, Any] = field(default_factory=dict)  # what a newer kernel adds

    @staticmethod
    def make(request: RunRequest, stdout: str, value: Value | None, elapsed_ms: float,
             device: str | None, errors: tuple[RunError, ...], interrupted: bool = False,
             relations: dict[str, int] | None = None) -> RunResult:
        """A result for `request`, with its lines and labels."""
        if value is not None and value.kind == "none":
            value = None
        index = LineIndex(request.text)
        lines = request.lines(index)
        labels = _labels(request.head(index), result_line(index, lines), request.name, stdout,
                         value, elapsed_ms, device, errors, interrupted)
        return RunResult(stdout, value, elapsed_ms, device, errors, interrupted,
                         dict(relations or {}), lines, labels)

    @property
    def failed(self) -> bool:
        return any(e.severity == "error" for e in self.errors)

    def diagnostics(self, index: LineIndex) -> tuple[Diagnostic, ...]:
        return tuple(e.diagnostic(index) for e in self.errors)

    def to_json(self) -> dict[str, Any]:
        return {**self.extra, "stdout": self.stdout,
                "value": self.value.to_json() if self.value else None,
                "elapsed_ms": round(self.elapsed_ms, 3), "device": self.device,
                "errors": [e.to_json() for e in self.errors], "interrupted": self.interrupted,
                "relations": dict(self.relations), "lines": self.lines.to_json(),
                "labels": self.labels.to_json()}

    @staticmethod
    def read(obj: Any) -> RunResult:
        """A result as the kernel sent it; ill-typed parts read as empty."""
        obj = obj if isinstance(obj, dict) else {}
        rel = obj.get("relations")
        relations = ({str(k): v for k, v in rel.items() if _is_int(v)}
                     if isinstance(rel, dict) else {})
        elapsed = obj.get("elapsed_ms")
        known = {"stdout", "value", "elapsed_ms", "device", "errors", "interrupted",
                 "relations", "lines", "labels"}
        return RunResult(
            stdout=str(obj.get("stdout") or ""), value=read_value(obj.get("value")),
            elapsed_ms=float(elapsed) if isinstance(elapsed, int | float) else 0.0,
            device=str(obj["device"]) if obj.get("device") is not None else None,
            errors=tuple(RunError.read(e) for e in obj.get("errors") or () if isinstance(e, dict)),
            interrupted=bool(obj.get("interrupted")), relations=relations,
            lines=Lines.read(obj.get("lines")), labels=Labels.read(obj.get("labels")),
            extra={k: v for k, v in obj.items() if k not in known})


def _labels(head: str, line: int, name: str, stdout: str, value: Value | None,
            elapsed_ms: float, device: str | None, errors: tuple[RunError, ...],
            interrupted: bool) -> Labels:
    time = duration(elapsed_ms)
    dev = device or "?"
    first_error = next((e for e in errors if e.severity == "error"), None)
    printed = [ln for ln in stdout.split("\n") if ln.strip()]
    if interrupted:
        inline = f"⇒ interrupted · {time}"
    elif first_error is not None:
        inline = f"⇒ error: {one_line(first_error.message, 80)}"
    elif value is not None and type_text(value) is not None:
        inline = f"⇒ {type_text(value)} on {value.device or dev} · {time}"
    elif value is not None:
        inline = f"⇒ {one_line(value.text, 60)} · {time}"
    elif printed:  # no value: the last line the run printed
        inline = f"⇒ {one_line(printed[-1], 60)} · {time}"
    else:
        inline = f"⇒ done on {dev} · {time}"

    tail: list[str] = []
    if value is not None:
        typed = type_text(value)
        tail.append(f"= {value.text}" + (f"  ({typed} on {value.device or dev})" if typed else ""))
    for e in errors:
        tail.append(f"{name}:{e.range.start_line + 1}:{e.range.start_char + 1}: "
                    f"{e.severity}: {e.message}")
    if interrupted:
        tail.append(f"(interrupted after {time} on {dev})")
    elif first_error is not None:
        tail.append(f"(failed after {time} on {dev})")
    else:
        tail.append(f"(done in {time} on {dev})")
    sep = "\n" if stdout and not stdout.endswith("\n") else ""
    tail_text = sep + "\n".join(tail) + "\n"
    return Labels(inline, line, first_error is not None, head, tail_text,
                  head + "\n" + stdout + tail_text)
