"""Conversions between LSP (lsprotocol types, client position encodings) and tl_core answers.

Inside tl_core every column is a code point (a Python string index). The client counts
columns in UTF-16 code units unless UTF-8 or UTF-32 was negotiated (`positionEncodings`).
This module is the only place that converts between the two; nothing here knows the
language: it only translates `tl_core.ide` / `tl_core.diagnostics` dataclasses.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

if TYPE_CHECKING:
    from tl_core.syntax.span import LineIndex, Span

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"
SUPPORTED_ENCODINGS = (UTF16, UTF8, UTF32)


def negotiate_encoding(capabilities: lsp.ClientCapabilities | None) -> str:
    """The position encoding for a client: its first listed encoding we support, else UTF-16.

    This is the rule the LSP specification gives (the client lists encodings in order of
    preference, UTF-16 is mandatory) and the same rule pygls uses to fill the
    `positionEncoding` server capability, so the two always agree.
    """
    general = capabilities.general if capabilities is not None else None
    offered = general.position_encodings if general is not None else None
    for enc in offered or ():
        value = enc.value if isinstance(enc, lsp.PositionEncodingKind) else str(enc)
        if value in SUPPORTED_ENCODINGS:
            return value
    return UTF16


# ---------------------------------------------------------------------------
# Columns


def _line_content(line_text: str) -> str:
    """A line without its line break (LineIndex keeps the `\\r` of a `\\r\\n`)."""
    return line_text[:-1] if line_text.endswith("\r") else line_text


def col_to_units(line_text: str, col: int, encoding: str) -> int:
    """Code-point column -> client units on one line."""
    col = max(0, min(col, len(line_text)))
    if encoding == UTF32 or line_text.isascii():
        return col
    head = line_text[:col]
    if encoding == UTF8:
        return len(head.encode("utf-8", "surrogatepass"))
    return len(head.encode("utf-16-le", "surrogatepass")) // 2


def units_to_col(line_text: str, units: int, encoding: str) -> int:
    """Client units -> code-point column on one line, clamped to the line's end.

    A position inside a character (between the two halves of a surrogate pair, or inside a
    multi-byte UTF-8 sequence) resolves to the start of that character.
    """
    content = _line_content(line_text)
    units = max(0, units)
    if encoding == UTF32 or content.isascii():
        return min(units, len(content))
    used = 0
    for i, ch in enumerate(content):
        if encoding == UTF8:
            width = len(ch.encode("utf-8", "surrogatepass"))
        else:
            width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > units:
            return i
        used += width
    return len(content)


_EOL = re.compile(r"\r\n|\r|\n")


class Positions:
    """Offset/Span <-> LSP Position/Range for one text in one client encoding.

    Lines are the client's: LSP ends a line at `\n`, `\r\n` or a lone `\r`. `index` is
    tl_core's `LineIndex` (lines end at `\n` only), for line/column numbers that come from
    tl_core or the kernel; the two agree on every text without a lone `\r`.
    """

    __slots__ = ("text", "encoding", "index", "_ascii", "_starts", "_ends")

    def __init__(self, text: str, encoding: str = UTF16, index: LineIndex | None = None):
        # imported here: `tl_core.syntax` loads the whole AST module, which `tl-lsp` must not
        # pay for before answering `initialize`
        from tl_core.syntax.span import LineIndex

        self.text = text
        self.encoding = encoding
        self.index = index if index is not None and index.text is text else LineIndex(text)
        self._ascii = encoding == UTF32 or text.isascii()
        if "\r" in text:
            starts, ends = [0], []
            for m in _EOL.finditer(text):
                ends.append(m.start())
                starts.append(m.end())
            ends.append(len(text))
            self._starts: list[int] = starts
            self._ends: list[int] | None = ends
        else:
            self._starts = self.index.starts
            self._ends = None

    def line_count(self) -> int:
        return len(self._starts)

    def line_bounds(self, line: int) -> tuple[int, int]:
        """Offsets of the first code point of client line `line` and of its line break."""
        start = self._starts[line]
        if self._ends is not None:
            return start, self._ends[line]
        return start, self._starts[line + 1] - 1 if line + 1 < len(self._starts) else len(self.text)

    def line_of(self, offset: int) -> int:
        return bisect_right(self._starts, offset) - 1

    # tl_core -> client
    def position(self, offset: int) -> lsp.Position:
        offset = max(0, min(offset, len(self.text)))
        line = self.line_of(offset)
        start, end = self.line_bounds(line)
        col = min(offset, end) - start  # inside a `\r\n`: the end of the line
        if not self._ascii:
            col = col_to_units(self.text[start:end], col, self.encoding)
        return lsp.Position(line=line, character=col)

    def range(self, start: int, end: int) -> lsp.Range:
        start = max(0, min(start, len(self.text)))
        end = max(start, min(end, len(self.text)))
        return lsp.Range(start=self.position(start), end=self.position(end))

    def span_range(self, span: Span) -> lsp.Range:
        return self.range(span.start, span.end)

    # client -> tl_core
    def offset(self, pos: lsp.Position) -> int:
        line = pos.line
        if line < 0:
            return 0
        if line >= len(self._starts):
            return len(self.text)
        start, end = self.line_bounds(line)
        return start + units_to_col(self.text[start:end], pos.character, self.encoding)

    def offsets(self, rng: lsp.Range) -> tuple[int, int]:
        start, end = self.offset(rng.start), self.offset(rng.end)
        return (start, end) if start <= end else (end, start)


def apply_change_at(text: str, change: Any, encoding: str,
                    pos: Positions | None = None) -> tuple[str, int, int]:
    """`text` with one `TextDocumentContentChangeEvent` (incremental or whole) applied, and
    the code-point offsets of the stretch of `text` it replaced (all of it for a
    whole-document change). `pos`: a converter for `text`, if there is one."""
    rng = getattr(change, "range", None)
    if rng is None:
        return change.text, 0, len(text)
    if pos is None or pos.text is not text or pos.encoding != encoding:
        pos = Positions(text, encoding)
    start, end = pos.offsets(rng)
    return text[:start] + change.text + text[end:], start, end


class MovedPositions(Positions):
    """Positions of the current text for an answer made on an older analysis: the offsets
    of that answer (its spans) are first mapped through `to_new` (the edits since, see
    `tl_core.syntax.edits.EditLog`); one that an edit touched becomes `fallback`."""

    __slots__ = ("_to_new", "_fallback")

    def __init__(self, current: Positions, to_new: Any, fallback: int):  # noqa: D107
        for name in Positions.__slots__:
            object.__setattr__(self, name, getattr(current, name))
        self._to_new = to_new
        self._fallback = fallback

    def range(self, start: int, end: int) -> lsp.Range:
        new_start, new_end = self._to_new(start), self._to_new(end)
        if new_start is None or new_end is None:
            new_start = new_end = self._fallback
        return super().range(new_start, new_end)


# ---------------------------------------------------------------------------
# Kinds (plain strings from tl_core.ide -> LSP enums)

COMPLETION_KINDS: dict[str, lsp.CompletionItemKind] = {
    "function": lsp.CompletionItemKind.Function,
    "builtin": lsp.CompletionItemKind.Function,
    "method": lsp.CompletionItemKind.Method,
    "variable": lsp.CompletionItemKind.Variable,
    "parameter": lsp.CompletionItemKind.Variable,
    "keyword": lsp.CompletionItemKind.Keyword,
    "module": lsp.CompletionItemKind.Module,
    "model": lsp.CompletionItemKind.Module,
    "field": lsp.CompletionItemKind.Field,
    "tensor": lsp.CompletionItemKind.Field,
    "property": lsp.CompletionItemKind.Property,
    "snippet": lsp.CompletionItemKind.Snippet,
    "file": lsp.CompletionItemKind.File,
    "folder": lsp.CompletionItemKind.Folder,
    "struct": lsp.CompletionItemKind.Struct,
    "class": lsp.CompletionItemKind.Class,
    "type": lsp.CompletionItemKind.TypeParameter,
    "type_parameter": lsp.CompletionItemKind.TypeParameter,
    "constant": lsp.CompletionItemKind.Constant,
    "value": lsp.CompletionItemKind.Value,
    "enum": lsp.CompletionItemKind.Enum,
    "enum_member": lsp.CompletionItemKind.EnumMember,
    "text": lsp.CompletionItemKind.Text,
}

SYMBOL_KINDS: dict[str, lsp.SymbolKind] = {
    "file": lsp.SymbolKind.File,
    "module": lsp.SymbolKind.Module,
    "model": lsp.SymbolKind.Module,
    "namespace": lsp.SymbolKind.Namespace,
    "class": lsp.SymbolKind.Class,
    "struct": lsp.SymbolKind.Struct,
    "impl": lsp.SymbolKind.Class,
    "method": lsp.SymbolKind.Method,
    "property": lsp.SymbolKind.Property,
    "field": lsp.SymbolKind.Field,
    "tensor": lsp.SymbolKind.Field,
    "function": lsp.SymbolKind.Function,
    "fn": lsp.SymbolKind.Function,
    "test": lsp.SymbolKind.Method,
    "bench": lsp.SymbolKind.Method,
    "main": lsp.SymbolKind.Function,
    "variable": lsp.SymbolKind.Variable,
    "constant": lsp.SymbolKind.Constant,
    "entity": lsp.SymbolKind.Enum,
    "enum": lsp.SymbolKind.Enum,
    "relation": lsp.SymbolKind.Interface,
    "rule": lsp.SymbolKind.Event,
    "event": lsp.SymbolKind.Event,
    "object": lsp.SymbolKind.Object,
    "key": lsp.SymbolKind.Key,
    "type_parameter": lsp.SymbolKind.TypeParameter,
}

FOLDING_KINDS: dict[str, lsp.FoldingRangeKind] = {
    "comment": lsp.FoldingRangeKind.Comment,
    "imports": lsp.FoldingRangeKind.Imports,
    "region": lsp.FoldingRangeKind.Region,
}

INLAY_KINDS: dict[str, lsp.InlayHintKind] = {
    "type": lsp.InlayHintKind.Type,
    "parameter": lsp.InlayHintKind.Parameter,
}

SEVERITIES: dict[str, lsp.DiagnosticSeverity] = {
    "error": lsp.DiagnosticSeverity.Error,
    "warning": lsp.DiagnosticSeverity.Warning,
    "info": lsp.DiagnosticSeverity.Information,
    "hint": lsp.DiagnosticSeverity.Hint,
}


# the plain numbers, for completion_list_json: an enum's `.value` is a descriptor call, paid
# per item of every list
_COMPLETION_KIND_VALUES: dict[str, int] = {k: v.value for k, v in COMPLETION_KINDS.items()}


def symbol_kind(kind: str) -> lsp.SymbolKind:
    return SYMBOL_KINDS.get(kind, lsp.SymbolKind.Variable)


# ---------------------------------------------------------------------------
# Answers


def diagnostic(d: Any, pos: Positions, uri: str) -> lsp.Diagnostic:
    severity = getattr(d.severity, "value", d.severity)
    related = [
        lsp.DiagnosticRelatedInformation(
            location=lsp.Location(uri=uri, range=pos.span_range(r.span)), message=r.message
        )
        for r in d.related
    ]
    return lsp.Diagnostic(
        range=pos.span_range(d.span),
        message=d.message,
        severity=SEVERITIES.get(str(severity), lsp.DiagnosticSeverity.Error),
        code=d.code,
        source=d.source,
        related_information=related or None,
    )


def hover(h: Any, pos: Positions) -> lsp.Hover:
    return lsp.Hover(
        contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=h.markdown),
        range=pos.span_range(h.span) if h.span is not None else None,
    )


_PLACEHOLDER = re.compile(r"\$\{\d+:([^}]*)\}|\$\{\d+\}|\$\d+")


def snippet_to_text(snippet: str) -> str:
    """A snippet as plain text for clients without snippet support (placeholders keep their
    default text, tab stops vanish, `\\$` becomes `$`)."""
    return _PLACEHOLDER.sub(lambda m: m.group(1) or "", snippet).replace("\\$", "$")


def _range_json(r: lsp.Range) -> dict[str, Any]:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


def run_result_json(result: Any, pos: Positions) -> dict[str, Any]:
    """A run's result (`tl_core.kernel.protocol.RunResult`, docs/kernel.md) for the run
    command's caller: the kernel's JSON, its errors' ranges in the client's encoding (`pos`:
    the text that ran)."""
    out = result.to_json()
    out["errors"] = [
        {
            **e.to_json(),
            "range": _range_json(pos.span_range(d.span)),
            "related": [
                {"range": _range_json(pos.span_range(r.span)), "message": r.message}
                for r in d.related
            ],
        }
        for e, d in zip(result.errors, result.diagnostics(pos.index), strict=True)
    ]
    return out


class RawJSON:
    """A result that is already JSON-ready: pygls hands objects that are not attrs classes to
    `json.dumps` through `__dict__` (pygls 2 `_serialize_message`), so cattrs does not walk
    every nested dict again (about 10 ms for a 1,000-item completion list). Tested through
    the completion tests, which parse what the server sent."""

    def __init__(self, payload: dict[str, Any]):
        self.__dict__ = payload


class RawJSONList:
    """A list result that is already JSON-ready (as `RawJSON` for an object): pygls passes
    what is not an attrs class to `json.dumps` through `__dict__`, so that is the list.
    Why: pygls' converter walks a 10,000-line file's document symbols in ~360 ms as attrs
    objects and ~60 ms as plain dicts; this way not at all."""

    __slots__ = ("items",)

    def __init__(self, items: list[Any]):
        self.items = items

    @property
    def __dict__(self) -> list[Any]:  # type: ignore[override]
        return self.items


def _offset_to_position(pos: Positions) -> Callable[[int], tuple[int, int]]:
    """`pos.position` as (line, character), for building thousands of ranges: no
    `lsp.Position` objects, and the ASCII test once per line."""
    text = pos.text
    n = len(text)
    starts = pos._starts
    plain = _ascii_lines(pos)
    encoding = pos.encoding
    bounds = pos.line_bounds

    def at(offset: int) -> tuple[int, int]:
        offset = 0 if offset < 0 else n if offset > n else offset
        line = bisect_right(starts, offset) - 1
        start, end = bounds(line)
        col = min(offset, end) - start
        if plain is not None and not plain(line):
            col = col_to_units(text[start:end], col, encoding)
        return line, col

    return at


def document_symbols_json(symbols: Iterable[Any], pos: Positions,
                          pause: Callable[[], None] | None = None) -> RawJSONList:
    """What `[document_symbol(s, pos) for s in symbols]` unstructures to, built directly
    (tests/lsp/test_lsp_protocol.py compares the two). `pause`: called every 64 symbols."""
    at = _offset_to_position(pos)
    count = [0]

    def rng(a: tuple[int, int], b: tuple[int, int]) -> dict[str, Any]:
        return {"start": {"line": a[0], "character": a[1]},
                "end": {"line": b[0], "character": b[1]}}

    def one(s: Any) -> dict[str, Any]:
        count[0] += 1
        if pause is not None and not count[0] & 63:
            pause()
        r0, r1 = at(s.span.start), at(max(s.span.start, s.span.end))
        s0, s1 = at(s.selection_span.start), at(max(s.selection_span.start,
                                                     s.selection_span.end))
        s0 = s0 if s0 >= r0 else r0  # selectionRange inside range (`_inside`)
        s1 = s1 if s1 <= r1 else r1
        if s0 > s1:
            s0 = s1 = r0
        out: dict[str, Any] = {"name": s.name or "?",
                               "kind": SYMBOL_KINDS.get(s.kind, lsp.SymbolKind.Variable).value,
                               "range": rng(r0, r1), "selectionRange": rng(s0, s1)}
        if s.detail:
            out["detail"] = s.detail
        if s.children:
            out["children"] = [one(c) for c in s.children]
        return out

    return RawJSONList([one(s) for s in symbols])


def completion_list_json(
    items: Sequence[Any],
    pos: Positions,
    lazy: bool,
    snippets: bool,
    cid: int,
    incomplete: bool = False,
    edit_range_default: bool = False,
) -> dict[str, Any]:
    """The CompletionList of `items` as plain JSON-ready dicts (what lsprotocol's classes and
    cattrs would give for the same items: tests/lsp/oracles.py builds those).

    Written out by hand for speed: a list of ~1,000 names (no prefix typed in a 10,000-line
    file) costs about 45 ms through lsprotocol objects and cattrs, and a few ms this way.
    tests/lsp/test_lsp_protocol.py checks it against cattrs' output for the oracle.

    `edit_range_default` (the client lists "editRange" in `completionList.itemDefaults`,
    LSP 3.17): when every item replaces the same range, it is sent once as
    `itemDefaults.editRange` and the items carry only their text when it is not the label
    (less than half the bytes to write, send and read for a 200-item list).
    """
    shared = None  # the one range every item replaces, sent once (itemDefaults.editRange)
    if edit_range_default and items:
        spans = {(c.replace_span.start, c.replace_span.end) if c.replace_span is not None
                 else None for c in items}
        if len(spans) == 1 and None not in spans:
            shared = _range_json(pos.span_range(items[0].replace_span))
    ranges: dict[tuple[int, int], dict[str, Any]] = {}
    out = []
    kinds, text_kind = _COMPLETION_KIND_VALUES, lsp.CompletionItemKind.Text.value
    for i, c in enumerate(items):
        insert = c.insert_text or c.label
        is_snippet = c.is_snippet and snippets
        if c.is_snippet and not snippets:
            insert = snippet_to_text(insert)
        item: dict[str, Any] = {"label": c.label, "kind": kinds.get(c.kind, text_kind)}
        if c.detail:
            item["detail"] = c.detail
        if c.doc and not lazy:
            item["documentation"] = {"kind": "markdown", "value": c.doc}
        if c.sort_text:
            item["sortText"] = c.sort_text
        if shared is not None:
            if insert != c.label:
                item["textEditText"] = insert
        elif c.replace_span is not None and c.replace_span.start != c.replace_span.end:
            key = (c.replace_span.start, c.replace_span.end)
            rng = ranges.get(key)
            if rng is None:
                rng = ranges[key] = _range_json(pos.span_range(c.replace_span))
            item["textEdit"] = {"range": rng, "newText": insert}
        elif insert != c.label:
            item["insertText"] = insert
        if is_snippet:
            item["insertTextFormat"] = 2
        if lazy:
            item["data"] = {"cid": cid, "i": i}
        out.append(item)
    if shared is not None:
        return {"isIncomplete": incomplete, "itemDefaults": {"editRange": shared}, "items": out}
    return {"isIncomplete": incomplete, "items": out}


def markdown(text: str) -> lsp.MarkupContent:
    return lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text)


def signature_help(s: Any) -> lsp.SignatureHelp:
    sigs = [
        lsp.SignatureInformation(
            label=sig.label,
            documentation=markdown(sig.doc) if sig.doc else None,
            parameters=[
                lsp.ParameterInformation(label=label, documentation=doc or None)
                for label, doc in sig.params
            ],
        )
        for sig in s.signatures
    ]
    return lsp.SignatureHelp(
        signatures=sigs,
        active_signature=s.active_signature,
        active_parameter=s.active_param,
    )


def text_edit(e: Any, pos: Positions) -> lsp.TextEdit:
    return lsp.TextEdit(range=pos.span_range(e.span), new_text=e.new_text)


def _inside(inner: lsp.Range, outer: lsp.Range) -> lsp.Range:
    """`inner` clamped into `outer` (LSP requires selectionRange inside range)."""

    def key(p: lsp.Position) -> tuple[int, int]:
        return (p.line, p.character)

    start = inner.start if key(inner.start) >= key(outer.start) else outer.start
    end = inner.end if key(inner.end) <= key(outer.end) else outer.end
    if key(start) > key(end):
        start = end = outer.start
    return lsp.Range(start=start, end=end)


def document_symbol(s: Any, pos: Positions) -> lsp.DocumentSymbol:
    rng = pos.span_range(s.span)
    return lsp.DocumentSymbol(
        name=s.name or "?",
        kind=symbol_kind(s.kind),
        range=rng,
        selection_range=_inside(pos.span_range(s.selection_span), rng),
        detail=s.detail or None,
        children=[document_symbol(c, pos) for c in s.children] or None,
    )


def workspace_symbol(s: Any, container: str | None, uri: str, pos: Positions):
    return lsp.WorkspaceSymbol(
        name=s.name or "?",
        kind=symbol_kind(s.kind),
        location=lsp.Location(uri=uri, range=pos.span_range(s.selection_span)),
        container_name=container,
    )


def folding_range(f: Any, pos: Positions) -> lsp.FoldingRange | None:
    """A fold; its lines are tl_core's (ending at `\n`), turned into the client's."""
    last = max(0, len(pos.index.starts) - 1)
    start = pos.line_of(pos.index.offset(max(0, min(f.start_line, last)), 0))
    end = pos.line_of(pos.index.offset(max(0, min(f.end_line, last)), 0))
    if end <= start:
        return None
    return lsp.FoldingRange(
        start_line=start, end_line=end, kind=FOLDING_KINDS.get(f.kind) if f.kind else None
    )


def folding_ranges_json(folds: Iterable[Any], pos: Positions) -> RawJSONList:
    """What the `folding_range` objects of `folds` unstructure to, built directly
    (tests/lsp/test_lsp_protocol.py compares the two)."""
    out = []
    for f in folds:
        r = folding_range(f, pos)
        if r is not None:
            d: dict[str, Any] = {"startLine": r.start_line, "endLine": r.end_line}
            if r.kind is not None:
                d["kind"] = r.kind.value
            out.append(d)
    return RawJSONList(out)


def inlay_hint(h: Any, pos: Positions) -> lsp.InlayHint:
    label = h.label
    return lsp.InlayHint(
        position=pos.position(h.offset),
        label=label,
        kind=INLAY_KINDS.get(h.kind),
        padding_left=label.startswith(("=", "→", "->", ":")) or None,
    )


def code_lens(lens: Any, pos: Positions, uri: str) -> lsp.CodeLens:
    args = []
    for a in lens.arguments:
        if isinstance(a, dict):
            a = {"uri": uri, **{k: v for k, v in a.items() if v is not None}}
        args.append(a)
    if not args:
        args = [{"uri": uri}]
    return lsp.CodeLens(
        range=pos.span_range(lens.span),
        command=lsp.Command(title=lens.title, command=lens.command, arguments=args),
    )


# ---------------------------------------------------------------------------
# Semantic tokens


def encode_semantic_tokens(
    tokens: Iterable[Any],
    pos: Positions,
    types: Sequence[str],
    modifiers: Sequence[str],
    pause: Callable[[], None] | None = None,
) -> list[int]:
    """The LSP relative 5-integer encoding; multi-line tokens are split per line. `pause`,
    when given, is called every 1,024 tokens (see tl_lsp/yield_gate.py).

    Written for speed (a 10,000-line file has ~45,000 tokens, and editors ask again after
    every edit; the plain way, `Positions.position` and an `lsp.Position` per end, took
    ~6 us a token, ~260 ms a request): tokens come in text order, so the line is found by
    stepping forward, and on a line of ASCII text a column is a subtraction. Tokens that
    span lines take the plain way. tests/lsp/test_lsp_semantic_encode.py compares it with
    the plain version (the oracle)."""
    type_index = {t: i for i, t in enumerate(types)}
    mod_bit = {m: 1 << i for i, m in enumerate(modifiers)}
    bits_of: dict[tuple[str, ...], int] = {}
    text = pos.text
    text_len = len(text)
    starts = pos._starts
    ends = pos._ends
    n_lines = len(starts)
    encoding = pos.encoding
    plain_line = _ascii_lines(pos)
    pieces: list[tuple[int, int, int, int, int]] = []
    add = pieces.append
    ordered = True
    last_line = last_char = -1
    line = 0
    next_start = starts[1] if n_lines > 1 else text_len + 1
    for k, tok in enumerate(tokens):
        if pause is not None and not k & 1023:
            pause()
        t = type_index.get(tok.type)
        if t is None:
            continue
        mods = tok.modifiers
        bits = bits_of.get(mods)
        if bits is None:
            bits = 0
            for m in mods:
                bits |= mod_bit.get(m, 0)
            bits_of[mods] = bits
        sp = tok.span
        start = sp.start
        end = sp.end
        if not 0 <= start < end <= text_len:
            start = max(0, min(start, text_len))
            end = max(start, min(end, text_len))
            if end <= start:
                continue
        if start >= next_start or start < starts[line]:
            line = bisect_right(starts, start) - 1
            next_start = starts[line + 1] if line + 1 < n_lines else text_len + 1
        ls = starts[line]
        le = ends[line] if ends is not None else (
            next_start - 1 if line + 1 < n_lines else text_len)
        if end > le:  # spans lines: split per line, the plain way
            ordered = False
            pieces += [(*piece, t, bits) for piece in _per_line(pos, start, end, line)]
            continue
        if plain_line is None or plain_line(line):
            char = start - ls
            length = end - start
        else:
            line_text = text[ls:le]
            char = col_to_units(line_text, start - ls, encoding)
            length = col_to_units(line_text, end - ls, encoding) - char
        if ordered and (line < last_line or line == last_line and char <= last_char):
            ordered = False  # (equal starts too: the sort orders them by the rest)
        last_line, last_char = line, char
        add((line, char, length, t, bits))
    if not ordered:
        pieces.sort()
    data: list[int] = []
    push = data.extend
    prev_line = prev_char = 0
    last_end = -1
    last_line = -1
    for line, char, length, t, bits in pieces:
        if length <= 0 or line == last_line and char < last_end:
            continue  # overlapping tokens are not allowed: keep the first
        push((line - prev_line, char - prev_char if line == prev_line else char, length, t,
              bits))
        prev_line = last_line = line
        prev_char = char
        last_end = char + length
    return data


def _per_line(pos: Positions, start: int, end: int, line: int) -> Iterator[tuple[int, int, int]]:
    """(line, character, length) of each line's piece of `start`..`end` (from `line`)."""
    while start < end:
        piece_end = min(end, pos.line_bounds(line)[1])
        if piece_end > start:
            p0 = pos.position(start)
            yield p0.line, p0.character, pos.position(piece_end).character - p0.character
        if line + 1 >= pos.line_count():
            return
        line += 1
        start = max(start, pos.line_bounds(line)[0])


def _ascii_lines(pos: Positions) -> Callable[[int], bool] | None:
    """None when the whole text is ASCII (or columns are code points), else a memoized
    test of one line."""
    if pos._ascii:
        return None
    text = pos.text
    memo: dict[int, bool] = {}

    def plain(line: int) -> bool:
        v = memo.get(line)
        if v is None:
            start, end = pos.line_bounds(line)
            v = memo[line] = text[start:end].isascii()
        return v

    return plain


def semantic_tokens_edits(old: Sequence[int], new: Sequence[int]) -> list[lsp.SemanticTokensEdit]:
    """One edit replacing the differing middle of two token arrays (empty when equal)."""
    if list(old) == list(new):
        return []
    n, m = len(old), len(new)
    prefix = 0
    while prefix < n and prefix < m and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < n - prefix and suffix < m - prefix and old[n - 1 - suffix] == new[m - 1 - suffix]
    ):
        suffix += 1
    return [
        lsp.SemanticTokensEdit(
            start=prefix, delete_count=n - prefix - suffix, data=list(new[prefix : m - suffix])
        )
    ]
