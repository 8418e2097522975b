"""10,000 random edits (hypothesis) with requests between them, against one real server.

20 examples x 500 incremental edits, sent in UTF-16 positions computed here independently,
through lines holding Korean text and emoji, ending in `\n`, `\r\n` or a lone `\r` (all
line breaks for LSP). After every 100 edits a round of requests: the
server must answer each (no internal error), stay alive, and every range it returns must lie
inside the document as the client knows it.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.lsp.stdio_client import LspError, StdioClient

pytestmark = pytest.mark.slow

EXAMPLES = 20
EDITS = 500
ROUND = 100

SEED = """\
// 시작 😀
model = load_model("missing.safetensors")
fn f(a: float16[N, D]) -> float16[N, D] {
    return a + a
}
/* 가나 */ let x = tensor<float16>([[1.0, 2.0]], device: cpu)
// %%
let y = f(x) @ x.T
print(y)
"""

PIECES = [
    "a", "x", " ", "\n", "(", ")", "{", "}", "[", "]", ",", '"', "/", ".", "@", "+", "=",
    "let ", "fn ", "if ", "loop ", "return ", "model.get_tensor(\"", "softmax(", "// %%\n",
    "/*", "*/", "//", "가", "😀", "é", "1.5", "float16[2, 3]", "\t", "::", "->", "x.shape", "\r\n",
]  # fmt: skip

edit = st.tuples(
    st.floats(0, 1),  # where
    st.integers(0, 6),  # how many code points to delete
    st.lists(st.sampled_from(PIECES), max_size=3).map("".join),
)


def u16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


EOL = re.compile(r"\r\n|\r|\n")  # LSP: a line ends at \n, \r\n or a lone \r


def client_lines(text: str) -> list[str]:
    return EOL.split(text)


def lsp_pos(text: str, offset: int) -> dict:
    """The client's position of `offset` (never between the \r and \n of a \r\n)."""
    line, start = 0, 0
    for m in EOL.finditer(text, 0, offset):
        if m.end() > offset:
            break
        line, start = line + 1, m.end()
    return {"line": line, "character": u16(text[start:offset])}


def valid_offset(text: str, offset: int) -> int:
    return (
        offset - 1 if 0 < offset < len(text) and text[offset - 1 : offset + 1] == "\r\n" else offset
    )


def check_range(lines: list[str], rng: dict, what: str) -> None:
    for key in ("start", "end"):
        p = rng[key]
        assert 0 <= p["line"] < len(lines) or (p["line"] == len(lines) and p["character"] == 0), (
            what,
            rng,
            len(lines),
        )
        if p["line"] < len(lines):
            assert 0 <= p["character"] <= u16(lines[p["line"]]), (what, rng, lines[p["line"]])
    s, e = rng["start"], rng["end"]
    assert (s["line"], s["character"]) <= (e["line"], e["character"]), (what, rng)


def walk_ranges(value, lines, what):
    """Every `range`/`selectionRange`/`position` anywhere inside a JSON answer."""
    if isinstance(value, dict):
        for k, v in value.items():
            if (
                k in ("range", "selectionRange", "targetRange", "targetSelectionRange")
                and isinstance(v, dict)
                and "start" in v
            ):
                check_range(lines, v, what)
            elif k == "position" and isinstance(v, dict) and "line" in v:
                check_range(lines, {"start": v, "end": v}, what)
            else:
                walk_ranges(v, lines, what)
    elif isinstance(value, list):
        for v in value:
            walk_ranges(v, lines, what)


def check_tokens(data: list[int], lines: list[str]) -> None:
    line = char = 0
    for i in range(0, len(data), 5):
        dl, dc, length = data[i : i + 3]
        line += dl
        char = char + dc if dl == 0 else dc
        assert line < len(lines) and char + length <= u16(lines[line]), (line, char, length)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    client = StdioClient()
    client.initialize(tmp_path_factory.mktemp("fuzz"), {"diagnosticsDelayMs": 5})
    yield client
    client.close()


_uris = (f"file:///fuzz/doc{i}.tl" for i in itertools.count())


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # shrinking 500 edits takes minutes
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(
    st.lists(edit, min_size=EDITS, max_size=EDITS),
    st.lists(st.floats(0, 1), min_size=10, max_size=10),
)
def test_random_edits_keep_the_server_alive_and_ranges_inside(server, edits, probes):
    uri = next(_uris)
    text = SEED
    server.open(uri, text)
    doc = {"textDocument": {"uri": uri}}
    version = 1
    for n, (where, delete, insert) in enumerate(edits, 1):
        start = valid_offset(text, int(where * len(text)))
        end = valid_offset(text, min(len(text), start + delete))
        change = {
            "range": {"start": lsp_pos(text, start), "end": lsp_pos(text, end)},
            "text": insert,
        }
        text = text[:start] + insert + text[end:]
        version += 1
        server.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
        )
        if n % ROUND:
            continue
        lines = client_lines(text)
        at = lsp_pos(text, valid_offset(text, int(probes[(n // ROUND) % len(probes)] * len(text))))
        here = {**doc, "position": at}
        whole = {"start": {"line": 0, "character": 0}, "end": lsp_pos(text, len(text))}
        asks = [
            ("textDocument/hover", here),
            ("textDocument/completion", here),
            ("textDocument/signatureHelp", here),
            ("textDocument/definition", here),
            ("textDocument/references", {**here, "context": {"includeDeclaration": True}}),
            ("textDocument/prepareRename", here),
            ("textDocument/documentSymbol", doc),
            ("textDocument/foldingRange", doc),
            ("textDocument/inlayHint", {**doc, "range": whole}),
            ("textDocument/codeLens", doc),
            ("textDocument/formatting", {**doc, "options": {"tabSize": 4, "insertSpaces": True}}),
        ]
        for method, params in asks:
            try:
                answer = server.request(method, params)
            except LspError as exc:
                pytest.fail(f"{method} at {at} failed: {exc}\n--- text ---\n{text}")
            walk_ranges(answer, lines, method)
            if method == "textDocument/foldingRange":
                for f in answer or []:
                    assert 0 <= f["startLine"] <= f["endLine"] < len(lines)
        tokens = server.request("textDocument/semanticTokens/full", doc)
        check_tokens(tokens["data"], lines)
        assert server.alive()
    diags = server.wait_notification(
        "textDocument/publishDiagnostics", lambda p: p["uri"] == uri and p.get("version") == version
    )
    walk_ranges(diags, client_lines(text), "diagnostics")
    server.notify("textDocument/didClose", doc)
