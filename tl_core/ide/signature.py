"""Signature help: the function or built-in being called around the cursor, its
parameters and the one being typed. Reads the tokens before the cursor
(`tl_core.ide.lex.tokens_before`): the text rarely parses while the user types."""

from __future__ import annotations

from tl_core.check.model import Analysis
from tl_core.ide.lex import Tok, current_keyword, tokens_before
from tl_core.ide.markdown import fn_label
from tl_core.ide.results import Signature, SignatureHelp
from tl_core.lang.builtins import BUFFER_METHODS, BUILTINS
from tl_core.lang.keywords import RESERVED
from tl_core.lang.registry import signature_label
from tl_core.lang.types import FnType


def signature_at(a: Analysis, offset: int) -> SignatureHelp | None:
    try:
        return signature(a, offset)
    except Exception:  # noqa: BLE001 - signature help must never break the editor
        return None



def signature(a: Analysis, offset: int) -> SignatureHelp | None:
    toks = tokens_before(a, offset)
    if toks and toks[-1].kind == "string" and not toks[-1].closed:
        pass  # typing inside a string argument: still inside the call
    elif toks and toks[-1].kind == "comment" and toks[-1].end >= offset:
        return None
    depth = 0
    commas = 0
    seg_start = len(toks)
    i = len(toks) - 1
    while i >= 0:
        t = toks[i]
        x = t.text
        if t.kind in ("string", "comment", "number"):
            i -= 1
            continue
        if x in (")", "]", "}"):
            depth += 1
        elif x in ("(", "[", "{"):
            if depth > 0:
                depth -= 1
            else:
                callee = _callee(toks, i) if x == "(" else None
                if callee is not None:
                    return _help(a, callee, commas, toks[i + 1:seg_start] if seg_start > i
                                 else [], toks, i, offset)
                if x == "{":
                    return None
                commas = 0
                seg_start = i
        elif x == "," and depth == 0:
            if commas == 0:
                seg_start = i
            commas += 1
        i -= 1
    return None


def _callee(toks: list[Tok], paren: int) -> tuple[str, bool, str | None] | None:
    """(name, is_method, namespace) of the call whose '(' is toks[paren]."""
    if paren == 0:
        return None
    prev = toks[paren - 1]
    if prev.text == ">":
        return ("tensor", False, None)
    if prev.kind != "ident" or prev.text in RESERVED:
        return None
    if paren >= 2 and toks[paren - 2].text == "fn":
        return None
    if paren >= 2 and toks[paren - 2].text == ".":
        return (prev.text, True, None)
    if paren >= 3 and toks[paren - 2].text == "::":
        return (prev.text, False, toks[paren - 3].text)
    return (prev.text, False, None)


def _help(a: Analysis, callee: tuple[str, bool, str | None], commas: int, _seg: list[Tok],
          toks: list[Tok], paren: int, offset: int) -> SignatureHelp | None:
    name, is_method, ns = callee
    kw = current_keyword(toks, paren)
    # both made at once: right after an edit (typing `(`) this places nothing
    fb = a.functions.get(name) if not is_method and ns is None else None
    visible = a.visible_at(offset).get(name) if not is_method and ns is None else None
    if visible is not None and visible.kind == "function":
        fb = visible
    if fb is not None and isinstance(fb.type, FnType):
        ft = fb.type
        params = tuple((f"{n}: {t}", "") for n, t in ft.params)
        label = fn_label(fb)[3:]
        active = commas
        if kw is not None:
            names = [n for n, _ in ft.params]
            active = names.index(kw) if kw in names else active
        return SignatureHelp((Signature(label, fb.doc, params),), 0,
                             min(active, max(len(params) - 1, 0)))
    if visible is not None:
        return None
    b = BUILTINS.get(name)
    if is_method and name in BUFFER_METHODS:  # `buf.zeros(`: a TensorBuffer's method
        b = BUILTINS[f"TensorBuffer::{name}"]
    if b is None:
        return None
    if is_method and not b.params:
        return None
    plist = []
    shown = b.shown_params
    for p in shown:
        if b.var_keyword and p is b.params[-1]:
            plist.append((f"**{p.name}: {p.kind}", p.doc))
        else:
            plist.append((p.label(b.variadic and p is b.params[-1]), p.doc))
    active = commas + (1 if is_method else 0)
    if kw is not None:
        names = [p.name for p in shown]
        active = names.index(kw) if kw in names else active
    elif b.variadic or b.var_keyword:
        active = min(active, shown.index(b.params[-1]))
    elif active >= len(plist):
        active = len(plist)  # past the last parameter: nothing highlighted
    return SignatureHelp((Signature(signature_label(b), b.doc, tuple(plist)),), 0, active)
