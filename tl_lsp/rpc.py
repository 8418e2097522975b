"""The server's LSP protocol: pygls' own, minus pygls' copy of the documents.

pygls keeps a second copy of every open document (its `Workspace`) and updates it before
our `didChange` handler runs, on the same params object; its position conversion clamps a
column past the line's end to `len - 1` *in place* and splits lines with `str.splitlines`
(U+2028, U+0085, `\\f`... end lines there, not in LSP). So the edit our handler saw was
already moved, and the text diverged from the editor's. Here the document notifications go
to our handlers untouched; `tl_lsp.documents.Documents` is the only document store.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from lsprotocol import types as lsp
from pygls.protocol import LanguageServerProtocol, lsp_method


class TensorLogicProtocol(LanguageServerProtocol):
    def _user_handler(self, method: str, params: Any) -> Generator[Any, Any, None]:
        handler = self.fm.features.get(method)
        if handler is not None:
            yield handler, (params,), None

    # same names as pygls' built-in features, so these replace them
    @lsp_method(lsp.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: lsp.DidOpenTextDocumentParams):
        yield from self._user_handler(lsp.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: lsp.DidChangeTextDocumentParams):
        yield from self._user_handler(lsp.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: lsp.DidCloseTextDocumentParams):
        yield from self._user_handler(lsp.TEXT_DOCUMENT_DID_CLOSE, params)
