"""tl_lsp.protocol: position encodings and conversions of ide answers (no server process)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types as lsp

from tests.lsp import oracles
from tl_core.diagnostics import Diagnostic, Related, Severity
from tl_core.ide.results import Completion, Fold, Hover, Lens, Symbol
from tl_core.ide.results import SemanticToken as Token
from tl_core.ide.results import TextEdit as Edit
from tl_core.syntax.span import LineIndex, Span
from tl_lsp import protocol as proto

# "가" is one UTF-16 unit and 3 UTF-8 bytes; "😀" (U+1F600) is 2 UTF-16 units, 4 bytes.
LINE = "x = 1 // 가나 😀 y"
TEXT = "let a = 1\n" + LINE + "\nend"


def span_of(text: str, start: int, end: int) -> Span:
    return LineIndex(text).span(start, end)


def caps(*encodings: str) -> lsp.ClientCapabilities:
    return lsp.ClientCapabilities(
        general=lsp.GeneralClientCapabilities(position_encodings=list(encodings))
    )


def test_negotiation_prefers_the_clients_first_supported_encoding():
    assert proto.negotiate_encoding(None) == "utf-16"
    assert proto.negotiate_encoding(lsp.ClientCapabilities()) == "utf-16"
    assert proto.negotiate_encoding(caps("utf-8", "utf-16")) == "utf-8"
    assert proto.negotiate_encoding(caps("utf-32")) == "utf-32"
    assert proto.negotiate_encoding(caps("utf-7", "utf-16")) == "utf-16"
    assert proto.negotiate_encoding(caps("latin-1")) == "utf-16"


@pytest.mark.parametrize(
    "encoding, expected",
    [
        # column of "y" (code points: 14): 2 Hangul syllables and 1 emoji before it
        ("utf-32", 14),
        ("utf-16", 15),
        ("utf-8", 9 + 3 + 3 + 1 + 4 + 1),
    ],
)
def test_column_of_y_after_korean_and_emoji(encoding, expected):
    col = LINE.index("y")
    assert col == 14
    assert proto.col_to_units(LINE, col, encoding) == expected
    assert proto.units_to_col(LINE, expected, encoding) == col


def test_positions_round_trip_on_korean_and_emoji_line():
    y = TEXT.index("y")
    for enc, char in (("utf-16", 15), ("utf-32", 14), ("utf-8", 21)):
        pos = proto.Positions(TEXT, enc)
        assert pos.position(y) == lsp.Position(line=1, character=char)
        assert pos.offset(lsp.Position(line=1, character=char)) == y


def test_position_inside_a_character_snaps_to_its_start():
    emoji = LINE.index("😀")
    u16 = proto.col_to_units(LINE, emoji, "utf-16")
    assert proto.units_to_col(LINE, u16 + 1, "utf-16") == emoji  # between the surrogates
    u8 = proto.col_to_units(LINE, LINE.index("가"), "utf-8")
    assert proto.units_to_col(LINE, u8 + 2, "utf-8") == LINE.index("가")


def test_client_lines_end_at_lf_crlf_and_lone_cr():
    text = "a😀\r\nb\rc가\nd"
    pos = proto.Positions(text, "utf-16")
    assert pos.line_count() == 4
    assert pos.position(text.index("b")) == lsp.Position(1, 0)
    assert pos.position(text.index("c")) == lsp.Position(2, 0)  # after the lone \r
    assert pos.position(text.index("d")) == lsp.Position(3, 0)
    assert pos.position(text.index("\n")) == lsp.Position(0, 3)  # inside \r\n: end of line
    assert pos.offset(lsp.Position(2, 2)) == text.index("가") + 1
    assert pos.offset(lsp.Position(0, 99)) == text.index("\r")
    change = lsp.TextDocumentContentChangePartial(
        range=lsp.Range(lsp.Position(2, 0), lsp.Position(2, 1)), text="C"
    )
    assert oracles.apply_change(text, change, "utf-16") == text.replace("c", "C")


def test_positions_past_the_end_clamp():
    pos = proto.Positions("ab\r\ncd", "utf-16")
    assert pos.offset(lsp.Position(line=0, character=99)) == 2  # before the \r
    assert pos.offset(lsp.Position(line=7, character=0)) == 6
    assert pos.position(len(pos.text)) == lsp.Position(line=1, character=2)


def test_incremental_change_after_emoji():
    text = "a😀b\n"
    change = lsp.TextDocumentContentChangePartial(
        range=lsp.Range(start=lsp.Position(line=0, character=3), end=lsp.Position(0, 4)),
        text="XY",
    )
    assert oracles.apply_change(text, change, "utf-16") == "a😀XY\n"
    change8 = lsp.TextDocumentContentChangePartial(
        range=lsp.Range(start=lsp.Position(0, 5), end=lsp.Position(0, 6)), text="Z"
    )
    assert oracles.apply_change(text, change8, "utf-8") == "a😀Z\n"
    whole = lsp.TextDocumentContentChangeWholeDocument(text="new")
    assert oracles.apply_change(text, whole, "utf-16") == "new"


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab \n가😀é\t\r")), max_size=40),
    st.sampled_from(["utf-8", "utf-16", "utf-32"]),
    st.data(),
)
def test_offset_position_round_trip(text, encoding, data):
    pos = proto.Positions(text, encoding)
    offset = data.draw(st.integers(0, len(text)))
    inside_crlf = 0 < offset < len(text) and text[offset - 1 : offset + 1] == "\r\n"
    assert pos.offset(pos.position(offset)) == (offset - 1 if inside_crlf else offset)


def test_diagnostic_with_related_information_in_utf16():
    d = Diagnostic(
        span=span_of(TEXT, TEXT.index("y"), TEXT.index("y") + 1),
        message="undefined name `y`",
        severity=Severity.WARNING,
        code="undefined-name",
        related=(Related(span_of(TEXT, 4, 5), "`a` is defined here"),),
    )
    out = proto.diagnostic(d, proto.Positions(TEXT, "utf-16"), "file:///t.tl")
    assert out.range == lsp.Range(start=lsp.Position(1, 15), end=lsp.Position(1, 16))
    assert out.severity == lsp.DiagnosticSeverity.Warning
    assert out.code == "undefined-name"
    assert out.source == "tensorlogic"
    assert out.related_information == [
        lsp.DiagnosticRelatedInformation(
            location=lsp.Location(
                uri="file:///t.tl", range=lsp.Range(lsp.Position(0, 4), lsp.Position(0, 5))
            ),
            message="`a` is defined here",
        )
    ]


def test_hover_is_markdown_with_range():
    h = proto.hover(Hover(span_of(TEXT, 4, 5), "`a`: float16[2, 3]"), proto.Positions(TEXT))
    assert h.contents == lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="`a`: float16[2, 3]")
    assert h.range == lsp.Range(lsp.Position(0, 4), lsp.Position(0, 5))


def test_completion_item_kinds_snippets_and_replace_range():
    text = 'w = m.get_tensor("blk.0.'
    c = Completion(
        label="blk.0.attn_q.weight",
        kind="field",
        detail="float16[576, 576]",
        doc="Q4_1",
        insert_text="blk.0.attn_q.weight",
        replace_span=span_of(text, 18, 24),
        sort_text="0001",
    )
    item = oracles.completion_item(c, proto.Positions(text), data={"i": 0}, with_doc=False)
    assert item.kind == lsp.CompletionItemKind.Field
    assert item.text_edit == lsp.TextEdit(
        range=lsp.Range(lsp.Position(0, 18), lsp.Position(0, 24)), new_text="blk.0.attn_q.weight"
    )
    assert item.documentation is None and item.data == {"i": 0}
    assert item.insert_text_format is None  # plain text: the protocol's default
    assert item.filter_text is None  # the label: the protocol's default
    snip = oracles.completion_item(
        Completion("fn", "snippet", insert_text="fn ${1:name}() {\n}", is_snippet=True, doc="d"),
        proto.Positions(text),
    )
    assert snip.insert_text_format == lsp.InsertTextFormat.Snippet
    assert snip.kind == lsp.CompletionItemKind.Snippet
    assert snip.documentation.value == "d"
    plain = oracles.completion_item(
        Completion("fn", "snippet", insert_text="fn ${1:name}($2) {\n\t$0\n}", is_snippet=True),
        proto.Positions(text),
        snippets=False,
    )
    assert plain.insert_text == "fn name() {\n\t\n}"
    assert plain.insert_text_format is None
    for kind in ("function", "variable", "keyword", "module", "file"):
        assert oracles.completion_kind(kind).name.lower() == kind
    assert oracles.completion_kind("something-new") == lsp.CompletionItemKind.Text


def test_document_symbols_are_hierarchical_and_selection_inside_range():
    text = 'm = load_model("a.safetensors")\n'
    child = Symbol("layer.0.weight", "field", span_of(text, 0, 1), span_of(text, 0, 1))
    sym = Symbol("m", "module", span_of(text, 0, 31), span_of(text, 0, 40), "safetensors", (child,))
    out = proto.document_symbol(sym, proto.Positions(text))
    assert out.kind == lsp.SymbolKind.Module
    assert out.children[0].name == "layer.0.weight"
    assert out.selection_range.end.character <= out.range.end.character


def test_semantic_tokens_relative_encoding_in_utf16_and_delta():
    text = "😀 ab\ncd  ef"
    toks = [
        Token(span_of(text, 2, 4), "variable"),
        Token(span_of(text, 5, 7), "function", ("declaration",)),
        Token(span_of(text, 9, 11), "variable", ("readonly", "declaration")),
        Token(span_of(text, 0, 0), "variable"),  # empty: dropped
        Token(span_of(text, 0, 1), "unknown-type"),  # not in legend: dropped
    ]
    types = ["function", "variable"]
    mods = ["declaration", "readonly"]
    data = proto.encode_semantic_tokens(toks, proto.Positions(text, "utf-16"), types, mods)
    assert data == [0, 3, 2, 1, 0, 1, 0, 2, 0, 1, 0, 4, 2, 1, 3]
    new = data[:5] + [1, 0, 2, 0, 1]
    edits = proto.semantic_tokens_edits(data, new)
    assert oracles.apply_semantic_edits(data, edits) == new
    assert proto.semantic_tokens_edits(data, data) == []


def test_multiline_token_is_split_per_line():
    text = "/* a\nbb */ x"
    toks = [Token(span_of(text, 0, 10), "comment")]
    data = proto.encode_semantic_tokens(toks, proto.Positions(text), ["comment"], [])
    assert data == [0, 0, 4, 0, 0, 1, 0, 5, 0, 0]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=10), st.data())
def test_semantic_delta_always_reproduces_new(pairs, data):
    old = [a for a, _ in pairs]
    new = [b for _, b in pairs] + data.draw(st.lists(st.integers(0, 5), max_size=5))
    assert oracles.apply_semantic_edits(old, proto.semantic_tokens_edits(old, new)) == new


def test_folding_inlay_and_code_lens():
    text = "// %%\nx = 1\n// %%\ny = 2\n"
    pos = proto.Positions(text)
    assert proto.folding_range(Fold(0, 1, "region"), pos) == lsp.FoldingRange(
        start_line=0, end_line=1, kind=lsp.FoldingRangeKind.Region
    )
    assert proto.folding_range(Fold(3, 3, None), pos) is None
    assert proto.folding_range(Fold(2, 99, "comment"), pos).end_line == 4
    # a lone \r is a line break for the client, not for tl_core: fold lines move down
    cr = proto.Positions("a\rb\nc\nd")
    assert proto.folding_range(Fold(1, 2, None), cr) == lsp.FoldingRange(start_line=2, end_line=3)

    @dataclass(frozen=True)
    class Hint:
        offset: int
        label: str
        kind: str

    hint = proto.inlay_hint(Hint(7, ": float16[]", "type"), pos)
    assert hint.position == lsp.Position(1, 1) and hint.kind == lsp.InlayHintKind.Type
    lens = proto.code_lens(
        Lens(span_of(text, 0, 5), "Run cell", "tensorlogic.runCell", ({"line": 0},)), pos, "u"
    )
    assert lens.command == lsp.Command(
        title="Run cell", command="tensorlogic.runCell", arguments=[{"uri": "u", "line": 0}]
    )
    whole = proto.code_lens(
        Lens(span_of(text, 0, 0), "Run file", "tensorlogic.runFile", ()), pos, "u"
    )
    assert whole.command.arguments == [{"uri": "u"}]


def test_text_edits():  # range formatting: tests/ide/test_ide_format.py
    text = "a  =  1\nb=2\nc   = 3\n"
    formatted = "a = 1\nb = 2\nc = 3\n"
    whole = Edit(span_of(text, 0, len(text)), formatted)
    out = proto.text_edit(whole, proto.Positions(text))
    assert out.range == lsp.Range(lsp.Position(0, 0), lsp.Position(3, 0))
    assert out.new_text == formatted


@pytest.mark.parametrize("lazy, snippets", [(False, True), (True, False)])
def test_fast_completion_json_equals_cattrs_output(lazy, snippets):
    """The hand-written JSON of completion lists against lsprotocol + cattrs (the oracle)."""
    from pygls.protocol import default_converter

    text = '/* 가 😀 */ m.get_tensor("blk.'
    items = [
        Completion("blk.0.w", "field", "float16[2, 3]", "doc **0**", "blk.0.w", False,
                   span_of(text, 25, 29), "0001"),
        Completion("fn", "snippet", "", "a fn", "fn ${1:name}() {\n}", True, None, ""),
        Completion("softmax", "function", "", "", "", False, None, "s"),
        # every kind, and one the protocol does not know (Text)
        *(Completion(f"k_{k}", k) for k in [*proto.COMPLETION_KINDS, "mystery"]),
    ]  # fmt: skip
    pos = proto.Positions(text)
    fast = proto.completion_list_json(items, pos, lazy, snippets, cid=7)
    slow = default_converter().unstructure(
        lsp.CompletionList(
            is_incomplete=False,
            items=[
                oracles.completion_item(
                    c, pos, data={"cid": 7, "i": i} if lazy else None, with_doc=not lazy,
                    snippets=snippets,
                )
                for i, c in enumerate(items)
            ],
        )
    )  # fmt: skip
    assert fast == slow


def test_long_completion_lists_are_cut_best_first():
    # the cut is tl_core's (tests/ide/test_completion_limit.py compares it with the old one)
    from tl_core.ide.completion import best_completions

    items = [Completion(f"n{i:04d}", "variable", sort_text=f"{9999 - i:04d}") for i in range(1000)]
    kept, incomplete = best_completions(items, 200)
    assert incomplete and len(kept) == 200
    assert kept[0].label == "n0999" and kept[-1].label == "n0800"
    assert best_completions(items[:5], 200) == (items[4::-1], False)  # best first too
    assert best_completions(items[:5], 0) == (items[:5], False)  # no limit: as listed
    out = proto.completion_list_json(kept, proto.Positions(""), False, True, 1, incomplete)
    assert out["isIncomplete"] is True and len(out["items"]) == 200


def test_document_symbols_json_equals_the_lsprotocol_objects():
    """`document_symbols_json` builds what `document_symbol` objects unstructure to, on every
    example and a document with Korean text, emoji and `\\r\\n`, in each encoding."""
    from pathlib import Path

    from lsprotocol.converters import get_converter

    from tl_core import ide
    from tl_core.check.analyzer import analyze

    root = Path(__file__).resolve().parents[2]
    texts = [p.read_text(encoding="utf-8") for p in sorted((root / "examples").rglob("*.tl"))]
    texts.append("// 가중치 😀\r\nfn f(a: float16[N]) -> float16[N] {\r\n    let b = a + a\r\n"
                 "    return b\r\n}\r\nstruct P { x: int }\r\nlet 😀x = 1\nlet y = f(ones([2]))\n")
    conv = get_converter()
    for text in texts:
        a = analyze(text, None, use_cache=False)
        symbols = ide.document_symbols(a)
        for encoding in (proto.UTF8, proto.UTF16, proto.UTF32):
            pos = proto.Positions(text, encoding)
            old = conv.unstructure([proto.document_symbol(s, pos) for s in symbols])
            assert proto.document_symbols_json(symbols, pos).__dict__ == old
    assert len(old) >= 3 and any("children" in s for s in old)


def test_folding_ranges_json_equals_the_lsprotocol_objects():
    from pathlib import Path

    from lsprotocol.converters import get_converter

    from tl_core import ide
    from tl_core.check.analyzer import analyze

    root = Path(__file__).resolve().parents[2]
    conv = get_converter()
    seen_kinds = set()
    for path in sorted((root / "examples").rglob("*.tl")):
        text = path.read_text(encoding="utf-8")
        a = analyze(text, None, use_cache=False)
        pos = proto.Positions(text)
        folds = ide.folding_ranges(a)
        old = conv.unstructure([r for f in folds if (r := proto.folding_range(f, pos))])
        assert proto.folding_ranges_json(folds, pos).__dict__ == old
        seen_kinds |= {f.get("kind") for f in old}
    assert {None, "comment"} <= seen_kinds
