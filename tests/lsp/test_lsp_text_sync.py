"""The server holds exactly the editor's text (issue 18): random edit sequences sent to a
real `tl-lsp`, in each position encoding, compared with an oracle written here.

The oracle follows the LSP specification only: a line ends at `\\n`, `\\r\\n` or a lone
`\\r` (never at U+2028, U+0085, `\\f` or the other breaks of `str.splitlines`); a column
counts code units of the negotiated encoding; a column past the line's end means the line's
end, a line past the last line the document's end; a column inside a character (between
the halves of a surrogate pair) means that character's start. The server's text comes from
its `tensorlogic/documentText` request.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lsp.stdio_client import StdioClient

ENCODINGS = ("utf-16", "utf-8", "utf-32")


def oracle_lines(text: str) -> list[tuple[int, int]]:
    """(first offset, offset of the line break) of every LSP line."""
    out, start, i = [], 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\n" or ch == "\r":
            out.append((start, i))
            i += 2 if text[i : i + 2] == "\r\n" else 1
            start = i
        else:
            i += 1
    out.append((start, len(text)))
    return out


def width(ch: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(ch.encode("utf-8"))
    if encoding == "utf-16":
        return 2 if ord(ch) >= 0x10000 else 1
    return 1


def oracle_offset(text: str, line: int, character: int, encoding: str) -> int:
    lines = oracle_lines(text)
    if line >= len(lines):
        return len(text)
    i, end = lines[line]
    used = 0
    while i < end and used + width(text[i], encoding) <= character:
        used += width(text[i], encoding)
        i += 1
    return i


def line_units(text: str, line: int, encoding: str) -> int:
    lines = oracle_lines(text)
    if line >= len(lines):
        return 0
    start, end = lines[line]
    return sum(width(ch, encoding) for ch in text[start:end])


def oracle_apply(text: str, change: dict, encoding: str) -> str:
    if "range" not in change:
        return change["text"]
    s, e = change["range"]["start"], change["range"]["end"]
    a = oracle_offset(text, s["line"], s["character"], encoding)
    b = oracle_offset(text, e["line"], e["character"], encoding)
    a, b = min(a, b), max(a, b)
    return text[:a] + change["text"] + text[b:]


# ---------------------------------------------------------------------------
# the oracle itself, on hand-made cases


def test_oracle_lines_end_only_at_lf_crlf_and_cr():
    text = "a\u2028b\u0085c\fd\x1ce\r\nf\rg\nh"
    assert [text[s:e] for s, e in oracle_lines(text)] == ["a\u2028b\u0085c\fd\x1ce", "f", "g", "h"]


def test_oracle_offsets():
    assert oracle_offset("ab", 0, 5, "utf-16") == 2  # past the end: the line's end
    assert oracle_offset("a😀b", 0, 2, "utf-16") == 1  # inside the pair: its start
    assert oracle_offset("a😀b", 0, 3, "utf-16") == 2
    assert oracle_offset("a😀b", 0, 5, "utf-8") == 2
    assert oracle_offset("a😀b", 0, 2, "utf-32") == 2
    assert oracle_offset("x\r\ny", 0, 9, "utf-16") == 1  # before the \r\n
    assert oracle_offset("x\r\ny", 7, 0, "utf-16") == 4  # past the last line: the end


# ---------------------------------------------------------------------------
# a real server per encoding


@pytest.fixture(scope="module", params=ENCODINGS)
def server(request, tmp_path_factory):
    client = StdioClient()
    caps = {"general": {"positionEncodings": [request.param]}}
    result = client.initialize(tmp_path_factory.mktemp("sync"), {"diagnosticsDelayMs": 5}, caps)
    assert result["capabilities"]["positionEncoding"] == request.param
    client.encoding = request.param  # type: ignore[attr-defined]
    yield client
    client.close()


_uris = (f"file:///sync/doc{i}.tl" for i in itertools.count())


def server_text(server: StdioClient, uri: str) -> str | None:
    got = server.request("tensorlogic/documentText", {"uri": uri})
    return None if got is None else got["text"]


def change_at(line: int, start: int, end: int, text: str, end_line: int | None = None) -> dict:
    return {
        "range": {
            "start": {"line": line, "character": start},
            "end": {"line": line if end_line is None else end_line, "character": end},
        },
        "text": text,
    }


def send(server: StdioClient, uri: str, version: int, changes: list[dict]) -> None:
    server.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
    )


# the two cases of issue 18 (pygls' own sync rewrote the positions before ours saw them)


def test_insert_past_the_line_end_lands_at_the_end(server):
    uri = next(_uris)
    server.open(uri, "ab")
    send(server, uri, 2, [change_at(0, 5, 5, "X")])
    assert server_text(server, uri) == "abX"


def test_insert_on_a_line_holding_u2028_lands_where_asked(server):
    uri = next(_uris)
    text = "// a\u2028b"  # one LSP line of 6 code units in every encoding but UTF-8
    server.open(uri, text)
    col = {"utf-8": 8}.get(server.encoding, 6)
    send(server, uri, 2, [change_at(0, col, col, "X")])
    assert server_text(server, uri) == "// a\u2028bX"
    send(server, uri, 3, [change_at(0, 5, 5, "Y")])  # U+2028 is 3 bytes in UTF-8
    expected = "// a\u2028Y" + "bX" if server.encoding != "utf-8" else "// aY\u2028bX"
    assert server_text(server, uri) == expected


def test_closed_documents_have_no_text(server):
    uri = next(_uris)
    server.open(uri, "let a = 1\n")
    assert server_text(server, uri) == "let a = 1\n"
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert server_text(server, uri) is None


# ---------------------------------------------------------------------------
# random edit sequences

PIECES = [
    "a", "é", "가", "😀", "𝔸", "\u2028", "\u2029", "\u0085", "\f", "\v", "\x1c", "\x1d", "\x1e",
    "\r\n", "\r", "\n", "\t", " ", "let x = 1", "// %%", "fn f(", ")", "\"", "{", "}",
]  # fmt: skip
fragment = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)


@st.composite
def edits(draw, text: str, encoding: str) -> list[dict]:
    """1-3 content changes as one didChange: ranges anywhere, past line ends and the last
    line included, in the encoding's units (also inside a character); sometimes the whole
    document."""
    changes = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 9)) == 0:
            change = {"text": draw(fragment)}
        else:
            n_lines = len(oracle_lines(text))
            points = []
            for _ in range(2):
                line = draw(st.integers(0, n_lines))
                points.append((line, draw(st.integers(0, line_units(text, line, encoding) + 3))))
            (l1, c1), (l2, c2) = sorted(points)
            change = change_at(l1, c1, c2, draw(fragment), end_line=l2)
        changes.append(change)
        text = oracle_apply(text, change, encoding)
    return changes


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), first=fragment)
def test_random_edits_keep_the_servers_text_equal_to_the_oracle(server, data, first):
    encoding = server.encoding
    uri = next(_uris)
    text = first
    server.open(uri, text)
    for version in range(2, 2 + data.draw(st.integers(1, 12))):
        changes = data.draw(edits(text, encoding))
        for change in changes:
            text = oracle_apply(text, change, encoding)
        send(server, uri, version, changes)
        assert server_text(server, uri) == text, changes
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
