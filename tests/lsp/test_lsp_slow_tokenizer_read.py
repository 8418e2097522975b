"""The language server keeps answering while a tokenizer file named by a program is slow to
read (issue 17): a tokenizer.json of tens of megabytes on a network disk is read and parsed
by the checker for hover (vocabulary size, kind, special tokens).

The real server runs with its tokenizer.json load made slow for one folder (`slowtok/`): the
load signals that it started, then blocks until the test releases it. Meanwhile hover,
documentSymbol and workspace/symbol must be answered; the document gets an information
diagnostic, and once the load ends it is analysed again and hover shows the tokenizer.
"""

from __future__ import annotations

from pathlib import Path

from tests.lsp.test_lsp_slow_model_read import (
    _hover,
    _symbols,
    analysed_after_release,
    open_while_slow,
    slowed_server,
    still_reading,
)
from tests.tokenizer.builders import write_tokenizer_json

# The server, with tl_core.tokenizer.tokenizer._load_json (the read and parse of a
# tokenizer.json under load_tokenizer's cache) blocking on `slowtok/tokenizer.json` until
# the release file exists (at most 120 s).
SLOW_SERVER = """
import os, sys, time
import tl_core.tokenizer.tokenizer as T

_real = T._load_json

def _slow(path):
    if path.endswith(os.path.join("slowtok", "tokenizer.json")):
        open(os.environ["TL_TEST_STARTED"], "w").close()
        end = time.monotonic() + 120
        while not os.path.exists(os.environ["TL_TEST_RELEASE"]) and time.monotonic() < end:
            time.sleep(0.02)
    return _real(path)

T._load_json = _slow
from tl_lsp.__main__ import main
sys.exit(main(["--stdio"]))
"""

SLOW = """fn scale(x: float) -> float {
    return x * 2.0
}
let tok = load_tokenizer("slowtok")
let ids = tokenize(tok, "hello world", false)
"""



def test_server_answers_while_a_tokenizer_read_is_slow(tmp_path: Path) -> None:
    (tmp_path / "slowtok").mkdir()
    write_tokenizer_json(tmp_path / "slowtok" / "tokenizer.json")
    (tmp_path / "lib.tl").write_text("fn lib_fn(a: int) -> int {\n    return a\n}\n")
    with slowed_server(tmp_path, SLOW_SERVER) as (client, started, release):
        slow_uri = open_while_slow(client, started, ("slow.tl", SLOW))
        assert _symbols(client, slow_uri)[:2] == ["scale", "tok"]
        found = client.request("workspace/symbol", {"query": "lib_fn"})
        assert [s["name"] for s in found] == ["lib_fn"]
        assert not release.exists(), "the answers waited for the tokenizer read to end"
        assert still_reading(client, slow_uri) == [
            ({"line": 3, "character": 25}, 3, "still reading 'slowtok' (a slow disk?): what it "
                                             "holds is checked when the read ends")]
        analysed_after_release(client, release, slow_uri)
        assert "vocabulary: 3 tokens" in _hover(client, slow_uri, 3, 5)
        assert "int32[2]" in _hover(client, slow_uri, 4, 5)
