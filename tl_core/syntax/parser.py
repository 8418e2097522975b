"""The TensorLogic parser: lark's LALR(1) tables, driven by our own loop.

lark builds the tables from `grammar.lark`, and its callbacks for `_Builder` (an inline
transformer) run on every reduction, so the AST is built directly, without a `Tree`. We
drive the tables ourselves (`_Run`) with our own lexer (lexer.py) instead of lark's parser
loop and contextual lexer: it is several times faster (see docs/benchmarks.md) and makes
error recovery simple. lark's own parser stays the test oracle (`lark_parse_chunk`): on
valid text both give the same tree. The contextual lexing is done at feed time: a token
the current state does not accept is re-read the way lark's contextual lexer would
(`_adjust`: layout brackets, declaration keywords, split operators; contextual keywords).

Error recovery, one error reported per problem:

1. Repair by insertion: when the offending token starts a line, closes a bracket, or is the
   end of the chunk, we try inserting up to three tokens (closing brackets for the open ones,
   an `ErrorExpr`, an empty name) and keep the insertion if the offending token is then
   accepted. `let y = model.get_tensor(` then a new line keeps the `let`.
2. Otherwise panic mode: pop the parser stack back to a statement boundary and skip tokens
   (bracket-aware) to the next line that starts a statement, the `}` of the enclosing block,
   a `;` or the end; the popped and skipped text becomes one `ErrorStmt`.

The file is parsed chunk by chunk (see scanner.py), so an error never spreads past its
top-level item.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path as _FsPath

from lark import Lark, Token, Tree
from lark.parse_tree_builder import ChildFilter
from lark.parsers.lalr_analysis import Shift

from tl_core.diagnostics import Diagnostic, Related
from tl_core.lang.dtypes import ELEMENT_TYPES
from tl_core.lang.keywords import RESERVED
from tl_core.lang.stubs import PYTHON_INTEGRATION
from tl_core.limits import literal_problem
from tl_core.syntax import ast as A
from tl_core.syntax.fastnew import N
from tl_core.syntax.lexer import FastLexer, Tok
from tl_core.syntax.span import Anchor, Span, new_anchored_span

MAX_BRACKET_DEPTH = 128  # deeper nesting is an error (keeps later recursive passes safe)
MAX_CHAIN = 256  # operators/fields/calls chained in one expression spine
MAX_TREE_DEPTH = 400  # deeper items become ErrorStmts (brackets x chains can multiply)
# The longest line parsed. A statement holding a longer line is one error, not parsed: a
# 5 MB line of `1 + 1 + ...` or of list elements took 20 s and 1 GB to parse and check,
# and no program is written that way (data belongs in a model or tensor file).
MAX_LINE_CHARS = 1 << 20


_TT = (Tok, Token)  # our tokens, and lark's (when lark parses, as the test oracle)
_NL_TYPES = frozenset({"NL_LPAR", "NL_LSQB", "NL_LBRACE"})
_OPEN = {
    "LPAR": "RPAR", "NL_LPAR": "RPAR", "LSQB": "RSQB", "NL_LSQB": "RSQB",
    "LBRACE": "RBRACE", "NL_LBRACE": "RBRACE",
}
_CLOSERS = frozenset({"RPAR", "RSQB", "RBRACE"})


class _Ctx(threading.local):
    """Per-thread state of the chunk being parsed: the sink for errors found inside
    callbacks (escapes, invalid targets), its text, and the anchor its spans hang from."""

    def __init__(self) -> None:
        self.errors: list[Diagnostic] = []
        self.text = ""
        self.anchor = Anchor()


_ctx = _Ctx()


def _S(start: int, end: int, line: int, col: int, end_line: int, end_col: int) -> Span:
    """A span of the chunk being parsed, relative to its anchor (see tl_core/syntax/span)."""
    return new_anchored_span(_ctx.anchor, start, end, line, col, end_line, end_col)


def _err(span: Span, message: str) -> None:
    _ctx.errors.append(Diagnostic(span, message, code="syntax"))


# ---------------------------------------------------------------------------
# spans


def _ts(t: Token) -> Span:
    if t.type in _NL_TYPES:  # a bracket that starts a line: the span is the bracket only
        e = t.end_pos
        return _S(e - 1, e, t.end_line - 1, t.end_column - 2, t.end_line - 1, t.end_column - 1)
    return _S(t.start_pos, t.end_pos, t.line - 1, t.column - 1, t.end_line - 1, t.end_column - 1)


def _cover(a, b) -> Span:  # noqa: ANN001
    if type(a) is Tok and a.type not in _NL_TYPES:
        start, line, col = a.start_pos, a.line - 1, a.column - 1
    else:
        sa = _ts(a) if type(a) in _TT else a.span
        start, line, col = sa.start, sa.line, sa.col
    if type(b) is Tok:
        return _S(start, b.end_pos, line, col, b.end_line - 1, b.end_column - 1)
    sb = _ts(b) if type(b) in _TT else b.span
    return _S(start, sb.end, line, col, sb.end_line, sb.end_col)


def _is_tok(x, type_: str) -> bool:  # noqa: ANN001
    return type(x) in _TT and x.type == type_


def _int_literal(t: Token) -> int:
    """The value of an integer literal token; one too long to read is an error (and 0)."""
    problem = literal_problem(t.value)
    if problem is not None:
        _err(_ts(t), problem)
        return 0
    return int(t.value)


def _error_stmt(t: Token) -> A.ErrorStmt:
    return N.ErrorStmt(_ts(t), t.value)


def _stmts(items) -> tuple:  # noqa: ANN001
    return tuple(_error_stmt(x) if type(x) in _TT else x for x in items)


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
# `\u00e9` (four hex digits) or `\u{1F600}` (one to six): a Unicode code point
_UNICODE_ESC = re.compile(r"\\u(?:([0-9A-Fa-f]{4})|\{([0-9A-Fa-f]{1,6})\})")


def _unescape(t: Token) -> str:
    raw = t.value[1:-1]
    if "\\" not in raw:
        return raw
    out = []
    i = 0
    n = len(raw)
    while i < n:
        ch = raw[i]
        if ch == "\\" and i + 1 < n:
            nxt = raw[i + 1]
            rep = _ESCAPES.get(nxt)
            if nxt == "u" and (u := _UNICODE_ESC.match(raw, i)) is not None:
                code = int(u.group(1) or u.group(2), 16)
                if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                    out.append(chr(code))
                    i = u.end()
                    continue
            if rep is None:
                s = t.start_pos + 1 + i
                c = t.column + i  # 0-based column of the backslash
                _err(
                    _S(s, s + 2, t.line - 1, c, t.line - 1, c + 2),
                    f"unknown escape '\\{_show(nxt)}' in a string; the escapes are "
                    "\\\" \\\\ \\n \\t \\r \\uXXXX \\u{X...} (write \\\\ for a backslash)",
                )
                rep = nxt
            out.append(rep)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _show(s: str, limit: int = 24) -> str:
    """Text for a message: non-printable characters as \\uXXXX, long text cut."""
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in s)


def _spine(x, limit: int) -> int:  # noqa: ANN001
    """Length of the chain of operators/fields/calls below `x`, counting up to `limit`."""
    d = 0
    while d < limit:
        tx = type(x)
        if tx is A.Binary:
            x = x.left
        elif tx is A.Unary:
            x = x.operand
        elif tx is A.Field or tx is A.Index:
            x = x.obj
        elif tx is A.Call:
            x = x.func
        else:
            break
        d += 1
    return d


def _too_long(span: Span, *parts) -> A.ErrorExpr | None:  # noqa: ANN002
    for p in parts:
        if type(p) is A.ErrorExpr and _ctx.errors and _ctx.errors[-1].span.start == p.span.start:
            if _ctx.errors[-1].message.startswith("expression too long"):
                return N.ErrorExpr(_S(p.span.start, span.end, p.span.line, p.span.col,
                                        span.end_line, span.end_col))
    for p in parts:
        if _spine(p, MAX_CHAIN) >= MAX_CHAIN:
            _err(span, f"expression too long: more than {MAX_CHAIN} operators, fields or "
                       "calls chained; split it with `let`")
            return N.ErrorExpr(span)
    return None


def _bad_comment(t: Token) -> Token:
    s = t.start_pos
    _err(_S(s, s + 2, t.line - 1, t.column - 1, t.line - 1, t.column + 1),
         "unterminated block comment: add '*/' to close the comment started here")
    return t


def _glued_name(span: Span) -> str | None:
    """The name of a statement that starts right after a digit (`2.0i`, `2x`: the number
    ended the previous statement), else None."""
    text, s0 = _ctx.text, span.start
    if s0 == 0 or not text[s0 - 1].isdigit() or not (text[s0].isalpha() or text[s0] == "_"):
        return None
    end = s0
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    return text[s0:end]


# ---------------------------------------------------------------------------
# The original's word operators are the same as ours: `not` is `!`, `and` `&&`, `or` `||`.
_WORD_OPS = {"not": "!", "and": "&&", "or": "||"}

# the callbacks (one per rule or alias of grammar.lark)


class _Builder:
    # ---- program and declarations
    def start(self, c):
        return _stmts(c)

    def fn_decl(self, c):
        fn, name = c[0], c[1]
        i = 2
        tps: tuple[str, ...] = ()
        if type(c[2]) is tuple:
            tps = c[2]
            i = 3
        i += 1  # LPAR
        params = []
        while not _is_tok(c[i], "RPAR"):
            params.append(c[i])
            i += 1
        i += 1
        ret = c[i + 1] if _is_tok(c[i], "ARROW") else None
        body = c[-1]
        return N.FnDecl(_cover(fn, body), name.value, _ts(name), tps, tuple(params), ret, body)

    def type_params(self, c):
        return tuple(t.value for t in c[1:-1])

    def param(self, c):
        name = c[0]
        if len(c) == 1:
            return N.Param(_ts(name), name.value, _ts(name), None)
        return N.Param(_cover(name, c[1]), name.value, _ts(name), c[1])

    def main_block(self, c):
        return N.MainBlock(_cover(c[0], c[1]), c[1])

    def test_decl(self, c):
        return N.TestDecl(_cover(c[0], c[2]), c[1].value, _ts(c[1]), c[2])

    def bench_decl(self, c):
        return N.BenchDecl(_cover(c[0], c[2]), c[1].value, _ts(c[1]), c[2])

    def import_decl(self, c):
        return N.Import(_cover(c[0], c[1]), _unescape(c[1]), _ts(c[1]))

    def struct_decl(self, c):
        name = c[1]
        tps: tuple[str, ...] = ()
        rest = c[3:-1]
        if type(c[2]) is tuple:
            tps = c[2]
            rest = c[4:-1]
        return N.StructDecl(_cover(c[0], c[-1]), name.value, _ts(name), tps, tuple(rest))

    def struct_field(self, c):
        return N.StructField(_cover(c[0], c[1]), c[0].value, _ts(c[0]), c[1])

    def impl_decl(self, c):
        i = 1
        tps: tuple[str, ...] = ()
        if type(c[1]) is tuple:
            tps = c[1]
            i = 2
        first = c[i]
        i += 1
        trait = None
        target = first
        if _is_tok(c[i], "FOR"):
            trait = first.name
            target = c[i + 1]
            i += 2
        methods = tuple(c[i + 1 : -1])
        return N.ImplDecl(_cover(c[0], c[-1]), tps, trait, target, methods)

    def entity_decl(self, c):
        members = c[2] if len(c) > 2 else None
        return N.EntityDecl(_cover(c[0], c[-1]), c[1].value, _ts(c[1]), members)

    def set_lit(self, c):
        return N.SetLiteral(_cover(c[0], c[-1]), tuple(N.Name(_ts(t), t.value) for t in c[1:-1]))

    def relation_decl(self, c):
        i = 3
        params = []
        while not _is_tok(c[i], "RPAR"):
            params.append(c[i])
            i += 1
        embed = c[i + 2] if len(c) > i + 2 else None
        return N.RelationDecl(_cover(c[0], c[-1]), c[1].value, _ts(c[1]), tuple(params), embed)

    def embedding_decl(self, c):
        kind = "relation_embedding" if c[0].type == "RELATION_EMBEDDING" else "embedding"
        return N.EmbeddingDecl(_cover(c[0], c[-1]), kind, c[2 - 1].value, _ts(c[1]),
                               tuple(c[3:-1]))

    def config_field(self, c):
        return N.ConfigField(_cover(c[0], c[1]), c[0].value, _ts(c[0]), c[1])

    def learn_block(self, c):
        return N.LearnBlock(_cover(c[0], c[-1]), _stmts(c[2:-1]))

    # ---- types
    def type_plain(self, c):
        name = c[0]
        dims = None
        qual = None
        last = c[-1]
        if type(last) in _TT and (last.type == "LEARNABLE" or last.type == "FROZEN"):
            qual = last.value
        if len(c) > 1 and _is_tok(c[1], "LSQB"):
            j = 2
            ds = []
            while not _is_tok(c[j], "RSQB"):
                ds.append(c[j])
                j += 1
            dims = tuple(ds)
        span = _cover(name, last)
        if dims is not None or name.value in ELEMENT_TYPES:
            return N.TensorTypeExpr(span, name.value, dims, qual)
        return N.NamedTypeExpr(span, name.value)

    def qualifier(self, c):
        return c[0]

    def dim(self, c):
        t = c[0]
        if t.type == "NUMBER":
            if literal_problem(t.value) is not None:
                _int_literal(t)  # the error
                return N.DimExpr(_ts(t), "unknown", None)
            try:
                return N.DimExpr(_ts(t), "int", int(t.value))
            except ValueError:
                _err(_ts(t), f"a dimension must be a whole number, found '{t.value}'")
                return N.DimExpr(_ts(t), "unknown", None)
        if t.type == "QMARK":
            return N.DimExpr(_ts(t), "unknown", None)
        return N.DimExpr(_ts(t), "var", t.value)

    def type_generic(self, c):
        return N.NamedTypeExpr(_cover(c[0], c[-1]), c[0].value, tuple(c[2:-1]))

    def named_type(self, c):
        return N.NamedTypeExpr(_cover(c[0], c[-1]), c[0].value, tuple(c[2:-1]))

    # ---- statements
    def block(self, c):
        return N.Block(_cover(c[0], c[-1]), _stmts(c[1:-1]))

    def let_stmt(self, c):
        type_ = c[2] if len(c) == 4 else None
        return N.Let(_cover(c[0], c[-1]), c[1].value, _ts(c[1]), type_, c[-1])

    def tensor_decl(self, c):
        type_ = c[2]
        if type(type_) is A.NamedTypeExpr:
            type_ = N.TensorTypeExpr(type_.span, type_.name, None)
        value = c[3] if len(c) > 3 else None
        return N.TensorDecl(_cover(c[0], c[-1]), c[1].value, _ts(c[1]), type_, value)

    def return_stmt(self, c):
        return N.Return(_cover(c[0], c[-1]), c[1] if len(c) > 1 else None)

    def if_stmt(self, c):
        orelse = c[4] if len(c) > 4 else None
        return N.If(_cover(c[0], c[-1]), c[1], c[2], orelse)

    def for_stmt(self, c):
        return N.For(_cover(c[0], c[-1]), c[1].value, _ts(c[1]), c[3], c[4])

    def with_stmt(self, c):
        return N.With(_cover(c[0], c[-1]), c[1].value, _ts(c[1]), c[2])

    def while_stmt(self, c):
        return N.While(_cover(c[0], c[-1]), c[1], c[2])

    def loop_stmt(self, c):
        return N.Loop(_cover(c[0], c[-1]), c[1])

    def break_stmt(self, c):
        return N.Break(_ts(c[0]))

    def continue_stmt(self, c):
        return N.Continue(_ts(c[0]))

    def block_stmt(self, c):
        return N.BlockStmt(c[0].span, c[0])

    def expr_stmt(self, c):
        span = c[0].span
        glued = _glued_name(span)
        if glued is not None:
            _err(span, f"a number directly followed by the name '{glued}': complex literals "
                       f"such as 2.0i are not supported (the original does not implement "
                       f"them either); write an operator between them (2.0 * {glued}) or, "
                       f"for complex values, two real tensors")
            return N.ErrorStmt(span, _ctx.text[span.start : span.end])
        return N.ExprStmt(span, c[0])

    def assign_stmt(self, c):
        target, op, value = c
        span = _cover(target, value)
        if type(target) not in (A.Name, A.Field, A.Index, A.ErrorExpr):
            _err(target.span, f"cannot assign to {_what(target)}: the left side of "
                              f"'{op.value}' must be a name, a field or an index")
        return N.Assign(span, target, op.value, value)

    def rule_stmt(self, c):
        head = c[0]
        span = _cover(head, c[-1])
        if type(head) is not A.Call:
            _err(head.span, f"the head of a rule must be an atom such as "
                            f"Grandparent(X, Z), found {_what(head)}")
            return N.ErrorStmt(span, _ctx.text[span.start : span.end])
        return N.Rule(span, head, tuple(c[2:]))

    def _query(self, atom, rest, span):  # noqa: ANN001
        constraints = tuple(x for x in rest if type(x) not in _TT)
        if type(atom) is not A.Call:
            _err(atom.span, f"a query must be an atom such as Parent(alice, X)?, found {_what(atom)}")
            return None
        return N.Query(span, atom, constraints)

    def query_stmt(self, c):
        span = _cover(c[0], c[-1])
        q = self._query(c[0], c[2:], span)
        return q if q is not None else N.ErrorStmt(span, _ctx.text[span.start : span.end])

    def infer_stmt(self, c):
        items = tuple(x for x in c[1:] if type(x) not in _TT)
        return N.Infer(_cover(c[0], c[-1]), items)

    def infer_item(self, c):
        mode = c[0]
        qspan = _cover(c[1], c[-1])
        q = self._query(c[1], c[3:], qspan)
        if q is None:
            q = N.Query(qspan, N.Call(c[1].span, c[1], (), c[1].span))
        return N.InferItem(_cover(mode, c[-1]), mode.value, _ts(mode), q)

    # ---- expressions
    def binary(self, c):
        left, op, right = c
        span = _cover(left, right)
        bad = _too_long(span, left, right)
        if bad is not None:
            return bad
        return N.Binary(span, _WORD_OPS.get(op.value, op.value), left, right, _ts(op))

    def unary(self, c):
        op, operand = c
        span = _cover(op, operand)
        bad = _too_long(span, operand)
        if bad is not None:
            return bad
        return N.Unary(span, _WORD_OPS.get(op.value, op.value), operand, op.value == "not")

    def cast(self, c):
        e, _as, name = c
        tspan = _ts(name)
        if name.value in ELEMENT_TYPES:
            type_ = N.TensorTypeExpr(tspan, name.value, None)
        else:
            type_ = N.NamedTypeExpr(tspan, name.value)
        return N.Cast(_cover(e, name), e, type_)

    def call(self, c):
        func = c[0]
        span = _cover(func, c[-1])
        bad = _too_long(span, func)
        if bad is not None:
            return bad
        return N.Call(span, func, tuple(c[2:-1]), _ts(c[1]))

    def field(self, c):
        obj, _dot, name = c
        span = _cover(obj, name)
        bad = _too_long(span, obj)
        if bad is not None:
            return bad
        return N.Field(span, obj, name.value, _ts(name))

    def index(self, c):
        obj = c[0]
        span = _cover(obj, c[-1])
        bad = _too_long(span, obj)
        if bad is not None:
            return bad
        return N.Index(span, obj, tuple(c[2:-1]))

    def slice(self, c):
        parts = [None, None, None]
        k = 0
        for x in c:
            if type(x) in _TT:
                k += 1
            else:
                parts[k] = x
        return N.Slice(_cover(c[0], c[-1]), parts[0], parts[1], parts[2])

    def struct_lit(self, c):
        return N.StructLit(_cover(c[0], c[-1]), c[0].value, _ts(c[0]), tuple(c[2:-1]))

    def field_init(self, c):
        return N.FieldInit(_cover(c[0], c[2]), c[0].value, _ts(c[0]), c[2])

    def arg(self, c):
        return N.Arg(c[0].span, c[0])

    def kwarg(self, c):
        name, _sep, value = c
        text = _unescape(name) if name.type == "STRING" else name.value
        return N.Arg(_cover(name, value), value, text, _ts(name))

    def name(self, c):
        t = c[0]
        return N.Name(_ts(t), t.value)

    def number(self, c):
        t = c[0]
        text = t.value
        if "." in text or "e" in text or "E" in text:
            return N.Number(_ts(t), float(text), text, True)
        return N.Number(_ts(t), _int_literal(t), text, False)

    def string(self, c):
        return N.String(_ts(c[0]), _unescape(c[0]))

    def true(self, c):
        return N.Bool(_ts(c[0]), True)

    def false(self, c):
        return N.Bool(_ts(c[0]), False)

    def paren(self, c):
        return c[1]

    def tuple(self, c):
        return N.TupleExpr(_cover(c[0], c[-1]), tuple(c[1:-1]))

    def array(self, c):
        return N.ArrayLiteral(_cover(c[0], c[-1]), tuple(c[1:-1]))

    def tensor_ctor(self, c):
        return N.TensorCtor(_cover(c[0], c[-1]), c[2].value, _ts(c[2]), tuple(c[5:-1]), _ts(c[4]))

    def tensor_call(self, c):
        """`tensor(literal)`: `tensor<float16>(literal)` (the original's form without `<T>`)."""
        return N.TensorCtor(_cover(c[0], c[-1]), "float16", _ts(c[0]), tuple(c[2:-1]), _ts(c[1]))

    def path(self, c):
        base, _cc, member = c
        return N.Path(_cover(base, member), base.value, _ts(base), member.value, _ts(member))

    def error_expr(self, c):
        return N.ErrorExpr(_ts(c[0]))

    def match_expr(self, c):
        return N.Match(_cover(c[0], c[-1]), c[1], tuple(c[3:-1]))

    def match_arm(self, c):
        pattern = c[0]
        guard = c[2] if len(c) == 4 else None
        body = c[-1]
        if type(body) is A.Block:
            body = N.BlockExpr(body.span, body)
        return N.MatchArm(_cover(pattern, body), pattern, guard, body)

    # ---- patterns
    def pat_number(self, c):
        t = c[-1]
        neg = len(c) == 2
        text = ("-" if neg else "") + t.value
        if "." in text or "e" in text or "E" in text:
            value: int | float = float(text)
            is_float = True
        else:
            value = _int_literal(t) * (-1 if neg else 1)
            is_float = False
        span = _cover(c[0], t)
        return N.PatLiteral(span, N.Number(span, value, text, is_float))

    def pat_string(self, c):
        s = N.String(_ts(c[0]), _unescape(c[0]))
        return N.PatLiteral(s.span, s)

    def pat_bool(self, c):
        b = N.Bool(_ts(c[0]), c[0].type == "TRUE")
        return N.PatLiteral(b.span, b)

    def pat_name(self, c):
        t = c[0]
        if t.value == "_":
            return N.PatWildcard(_ts(t))
        return N.PatBind(_ts(t), t.value)

    def pat_paren(self, c):
        return c[1]

    def pat_tuple(self, c):
        return N.PatTuple(_cover(c[0], c[-1]), tuple(c[1:-1]))

    def pat_struct(self, c):
        return N.PatStruct(_cover(c[0], c[-1]), c[0].value, _ts(c[0]), tuple(c[2:-1]))

    def pat_field(self, c):
        pattern = c[2] if len(c) == 3 else None
        return N.PatField(_cover(c[0], c[-1]), c[0].value, _ts(c[0]), pattern)

    def pat_or(self, c):
        return N.PatOr(_cover(c[0], c[-1]), tuple(x for x in c if type(x) not in _TT))


def _what(node) -> str:  # noqa: ANN001
    names = {
        A.Call: "a call", A.Number: "a number", A.String: "a string", A.Bool: "a boolean",
        A.Binary: "an operator expression", A.Unary: "an operator expression",
        A.ArrayLiteral: "a list", A.TupleExpr: "a tuple", A.Name: "a name",
        A.Field: "a field", A.Index: "an index", A.StructLit: "a struct literal",
        A.Match: "a match", A.Cast: "a cast", A.TensorCtor: "a tensor constructor",
        A.Path: "a path", A.ErrorExpr: "an invalid expression",
    }
    return names.get(type(node), "an expression")


# ---------------------------------------------------------------------------
# plain-words descriptions of tokens

_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "$END": "end of file",
    "NL_LPAR": "'('", "NL_LSQB": "'['", "NL_LBRACE": "'{'",
    "TEST": "'test'", "BENCH": "'bench'", "ENTITY": "'entity'", "RELATION": "'relation'",
    "EMBEDDING": "'embedding'", "RELATION_EMBEDDING": "'relation_embedding'",
    "LEARN": "'learn'", "INFER": "'infer'", "NOT": "'not'", "AND": "'and'", "OR": "'or'",
    "WITH": "'with'",
}
_EXPR_START = frozenset(
    {"NAME", "NUMBER", "STRING", "LPAR", "NL_LPAR", "LSQB", "NL_LSQB", "MINUS", "BANG",
     "TRUE", "FALSE", "TENSOR", "MATCH", "ERREXPR", "NOT"}
)
_STMT_START = frozenset(
    {"LET", "RETURN", "IF", "FOR", "WHILE", "LOOP", "BREAK", "CONTINUE", "LBRACE",
     "NL_LBRACE", "INFER", "ERRSTMT", "_SEMI"}
)
_ITEM_START = frozenset(
    {"FN", "MAIN", "TEST", "BENCH", "IMPORT", "STRUCT", "IMPL", "ENTITY", "RELATION",
     "EMBEDDING", "RELATION_EMBEDDING", "LEARN"}
)
_KEYWORDS = RESERVED
_ORDER = ["RPAR", "RSQB", "RBRACE", "COMMA", "COLON", "EQUAL", "LBRACE", "LPAR", "LSQB",
          "ARROW", "FATARROW", "QMARK", "NAME", "NUMBER", "STRING"]
_BINOPS = frozenset(
    {"OROR", "ANDAND", "EQEQ", "NOTEQ", "LT", "LE", "GT", "GE", "PLUS", "MINUS", "STAR",
     "SLASH", "PERCENT", "AT", "ODOT", "POW", "OTIMES", "AS", "DOT", "APPROX", "AND", "OR"}
)


def _found(t: Token, next_word: str) -> str:
    ty = t.type
    if ty == "$END":
        return f"'{next_word}'" if next_word else "end of file"
    if ty == "STRING":
        return f"the string {_show(t.value)}"
    return f"'{_show(t.value if ty not in _NL_TYPES else t.value.strip())}'"


class _Terminals:
    """Display names of terminals ("')'", "'let'") from the grammar's patterns."""

    def __init__(self, lark: Lark) -> None:
        self.words = dict(_WORDS)
        for term in lark.terminals:
            if term.name in self.words:
                continue
            if term.pattern.type == "str":
                self.words[term.name] = f"'{term.pattern.value}'"
            else:
                m = re.match(r"^([a-z_]+)\(\?!", term.pattern.value)
                if m:
                    self.words[term.name] = f"'{m.group(1)}'"
        self.words["COMMA"] = "','"
        self.words["_SEMI"] = "';'"

    def word(self, ty: str) -> str:
        return self.words.get(ty, ty.lower())


# ---------------------------------------------------------------------------
# the engine


def _is_tree_builder(f: object) -> bool:
    return isinstance(f, functools.partial) and f.func is Tree


def _fast_callback(cb):  # noqa: ANN001, ANN202
    """lark's reduction callback, as generated code that builds no `Tree`.

    lark wraps our `_Builder` methods in child filters (dropping anonymous tokens, splicing
    in the children of `_rule`s), and builds a `Tree` for each `_rule` only for its parent
    to splice. Here a `_rule`'s value is the plain list of its children and each filter is
    one generated expression, e.g. `nb([c[0], *c[2]])`: about 15% of a full parse before.
    The parse trees are the same (tests compare with lark's own parse).
    """
    if _is_tree_builder(cb):
        return _as_list  # a `_rule` with every child kept: the children, spliced later
    if type(cb).__name__ != "ChildFilterLALR_NoPlaceholders":
        if isinstance(cb, ChildFilter) or isinstance(cb, functools.partial):
            raise ValueError(f"lark callback {cb!r}: add its kind to parser._fast_callback")
        return cb  # one of our methods, every child kept
    nb = cb.node_builder
    parts = [f"*c[{i}]" if expand else f"c[{i}]" for i, expand in cb.to_include]
    env: dict = {"nb": nb}
    if cb.to_include and cb.to_include[0] == (0, True) and len(parts) > 1:
        # left recursion (`__items: __items item`): extend the child's list in place (it
        # is consumed by this reduction only), as lark does, instead of copying it
        lines = ["def f(c):", "    out = c[0]"]
        for (i, expand) in cb.to_include[1:]:
            lines.append(f"    out.{'extend' if expand else 'append'}(c[{i}])")
        lines.append("    return out" if _is_tree_builder(nb) else "    return nb(out)")
    else:
        lst = f"[{', '.join(parts)}]"
        lines = ["def f(c):", f"    return {lst}" if _is_tree_builder(nb) else f"    return nb({lst})"]
    exec("\n".join(lines) + "\n", env)  # noqa: S102 - generated from lark's child filter
    return env["f"]


def _as_list(children: list) -> list:
    return children


class _Engine:
    """The grammar compiled once: lark's LALR tables as plain dicts, and the fast lexer."""

    def __init__(self) -> None:
        grammar = (_FsPath(__file__).with_name("grammar.lark")).read_text(encoding="utf-8")
        # lark caches its grammar analysis in the temp directory, keyed by a hash of the
        # grammar and options (1 s to build here, 0.1 s to load); a broken cache file is
        # rebuilt by lark.
        self.lark = Lark(
            grammar, parser="lalr", lexer="contextual", transformer=_Builder(),
            maybe_placeholders=False, start="start",
            lexer_callbacks={"BAD_COMMENT": _bad_comment}, cache=True,
        )
        lalr = self.lark.parser.parser
        table = lalr.parser.parse_table
        callbacks = lalr.parser.callbacks
        self.start_state = table.start_states["start"]
        self.end_state = table.end_states["start"]
        # act[state][terminal] is a shift target (int) or a reduction (size, origin, callback);
        # goto[state][rule name] is the state after a reduction. A callback of None marks a
        # `?rule` with one child, whose value is that child.
        infos: dict = {}
        self.act: dict[int, dict] = {}
        self.goto: dict[int, dict] = {}
        for state, row in table.states.items():
            a: dict = {}
            g: dict = {}
            for key, (kind, arg) in row.items():
                key = str.__str__(key)  # lark's names may be Token (slow __eq__): plain str
                if kind is Shift:
                    (a if key.isupper() else g)[key] = arg
                else:
                    info = infos.get(arg)
                    if info is None:
                        passthrough = (arg.options.expand1 and len(arg.expansion) == 1
                                       and not arg.alias)
                        info = (len(arg.expansion), str.__str__(arg.origin.name),
                                None if passthrough else _fast_callback(callbacks[arg]))
                        infos[arg] = info
                    a[key] = info
            self.act[state] = a
            self.goto[state] = g
        self.chains: dict[tuple[int, int, str], int] = {}  # memo of unit_chain
        self.sim_memo: dict[tuple, bool] = {}  # memo of sim for short stacks
        self.lexer = FastLexer.from_terminals(self.lark.terminals, self.lark.lexer_conf.ignore)
        self.terms = _Terminals(self.lark)

    def unit_chain(self, below: int, top: int, ty: str) -> int:
        """The top state after every one-child reduction that lookahead `ty` triggers."""
        act = self.act
        goto = self.goto
        a = act[top].get(ty)
        while a is not None and a.__class__ is tuple and a[2] is None:
            top = goto[below][a[1]]
            a = act[top].get(ty)
        return top

    def sim(self, stack: list, types: list[str]) -> bool:
        """Would the parser accept `types` in order from `stack`? (tables only, no callbacks)

        Memoized for short stacks (every chunk ends with a check of `$END`).
        """
        if len(stack) <= 12:
            key = (tuple(stack), tuple(types))
            hit = self.sim_memo.get(key)
            if hit is None:
                if len(self.sim_memo) > 200_000:  # a keyed cache, kept bounded
                    self.sim_memo.clear()
                hit = self.sim_memo[key] = self._sim(stack, types)
            return hit
        return self._sim(stack, types)

    def _sim(self, stack: list, types: list[str]) -> bool:
        st = list(stack)
        act = self.act
        goto = self.goto
        for ty in types:
            while True:
                a = act[st[-1]].get(ty)
                if a is None:
                    return False
                if a.__class__ is int:
                    st.append(a)
                    break
                size, origin, cb = a
                if cb is None:  # one-child reductions: memoized chain, as in the main loop
                    key = (st[-2], st[-1], ty)
                    top = self.chains.get(key)
                    if top is None:
                        top = self.chains[key] = self.unit_chain(st[-2], st[-1], ty)
                    st[-1] = top
                    continue
                if size:
                    del st[-size:]
                g = goto[st[-1]].get(origin)
                if g is None:
                    return False
                st.append(g)
                if ty == "$END" and g == self.end_state:
                    return True
        return True


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def engine() -> _Engine:
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = _Engine()
    return _engine


def forget_memos() -> None:
    """Empty the parser tables' memos (`_Engine.sim_memo`, `chains`; they refill as texts
    are parsed). For a server whose last document closed: the entries made while it was
    open sit amid its freed objects and kept Python's allocator from returning that
    memory (issue 18). Safe while another thread parses (it refills what it needs)."""
    e = _engine
    if e is not None:
        e.sim_memo.clear()
        e.chains.clear()


@dataclass(frozen=True, slots=True)
class ChunkResult:
    items: tuple
    errors: tuple[Diagnostic, ...]
    uses_next_word: bool = False  # an error names the word after the chunk
    anchor: Anchor = field(default_factory=Anchor)  # the spans' anchor: (start, line)


def parse_chunk(text: str, start: int, end: int, line: int, next_word: str = "") -> ChunkResult:
    """Parse `text[start:end]` (which begins at column 0 of `line`) into items.

    Spans read as document positions; they hang from a new anchor at (`start`, `line`)
    (`ChunkResult.anchor`), which `IncrementalParser` moves when text before it changes.
    Never raises for any input.
    """
    eng = engine()
    chunk = text[start:end]
    anchor = Anchor(0, 0)  # the chunk is parsed at 0:0, then the anchor moves to its place
    if len(chunk) > MAX_LINE_CHARS:
        long_line = _long_line(chunk, line, anchor)
        if long_line is not None:
            anchor.start, anchor.line = start, line
            return ChunkResult((long_line[0],), (long_line[1],), False, anchor)
    old = _ctx.errors, _ctx.text, _ctx.anchor
    _ctx.errors = []
    _ctx.text = chunk
    _ctx.anchor = anchor
    try:
        run = _Run(eng, chunk, 0, len(chunk), 0, next_word, line)
        items = run.parse()
        errors = run.errors + _ctx.errors
        if len(run.toks) > MAX_TREE_DEPTH:  # only a chunk this long can make a tree this deep
            items = _flatten_deep(items, chunk, errors)
    finally:
        _ctx.errors, _ctx.text, _ctx.anchor = old
    anchor.start = start
    anchor.line = line
    errors.sort(key=lambda d: (d.span.start, d.span.end))
    return ChunkResult(tuple(items), tuple(errors), run.used_next_word, anchor)


def _long_line(chunk: str, line: int, anchor: Anchor) -> tuple | None:
    """(ErrorStmt of the chunk, its error) when a line of `chunk` (starting at document
    line `line`) is longer than MAX_LINE_CHARS; None otherwise."""
    at, n = 0, 0
    while at <= len(chunk):
        end = chunk.find("\n", at)
        end = len(chunk) if end < 0 else end
        if end - at > MAX_LINE_CHARS:
            old = _ctx.anchor
            _ctx.anchor = anchor
            try:
                where = _S(at, at + 1, n, 0, n, 1)
                whole = _S(0, len(chunk), 0, 0, chunk.count("\n"),
                           len(chunk) - chunk.rfind("\n") - 1)
                error = Diagnostic(
                    where, f"line too long: {end - at} characters; lines are limited to "
                           f"{MAX_LINE_CHARS} characters (keep large data in a model file "
                           f"and load it)", code="syntax")
                return N.ErrorStmt(whole, chunk), error
            finally:
                _ctx.anchor = old
        at, n = end + 1, n + 1
    return None


def _depth(node) -> int:  # noqa: ANN001
    """The depth of a tree, without recursion."""
    best = 0
    stack = [(node, 1)]
    while stack:
        n, d = stack.pop()
        if d > best:
            best = d
        for c in A.children(n):
            stack.append((c, d + 1))
    return best


def _flatten_deep(items, text: str, errors: list) -> tuple:  # noqa: ANN001
    """Items nested deeper than MAX_TREE_DEPTH become ErrorStmts (with an error), so that
    every later pass may recurse over the tree safely."""
    out = []
    for item in items:
        if _depth(item) > MAX_TREE_DEPTH:
            sp = item.span
            errors.append(Diagnostic(
                _S(sp.start, min(sp.end, sp.start + 1), sp.line, sp.col, sp.line, sp.col + 1),
                f"nested too deeply: more than {MAX_TREE_DEPTH} levels in one statement; "
                "split it with `let`", code="syntax"))
            item = N.ErrorStmt(sp, text[sp.start:sp.end])
        out.append(item)
    return tuple(out)


def lark_parse_chunk(text: str) -> tuple[tuple, tuple[Diagnostic, ...]]:
    """The oracle: lark's own contextual lexer and LALR parser on `text`.

    Returns (items, errors found by the callbacks); raises on a syntax error.
    """
    old = _ctx.errors, _ctx.text, _ctx.anchor
    _ctx.errors, _ctx.text, _ctx.anchor = [], text, Anchor()
    try:
        items = tuple(engine().lark.parse(text))
        errors = sorted(_ctx.errors, key=lambda d: (d.span.start, d.span.end))
        return items, tuple(errors)
    finally:
        _ctx.errors, _ctx.text, _ctx.anchor = old


_NL_BASE = {"NL_LPAR": "LPAR", "NL_LSQB": "LSQB", "NL_LBRACE": "LBRACE"}
# tokens `_adjust` looks at even where the state accepts them: `::` is a path only before a
# name (`a::b`); in `x[a::2]` it is two slice colons
_ADJUST_ALWAYS = frozenset(_NL_BASE) | {"COLONCOLON"}
_SOFT_KW = frozenset({"TEST", "BENCH", "ENTITY", "RELATION", "EMBEDDING", "RELATION_EMBEDDING",
                      "LEARN", "INFER", "TENSOR", "NOT", "AND", "OR", "WITH"})
_SPLIT = {
    "LARROW": ("LT", "MINUS"), "COLONCOLON": ("COLON", "COLON"), "COLONEQ": ("COLON", "EQUAL"),
    "FATARROW": ("EQUAL", "GT"), "ARROW": ("MINUS", "GT"), "POW": ("STAR", "STAR"),
    "OROR": ("BAR", "BAR"), "LE": ("LT", "EQUAL"), "GE": ("GT", "EQUAL"),
    "EQEQ": ("EQUAL", "EQUAL"), "NOTEQ": ("BANG", "EQUAL"),
}
_STRONG = frozenset({"LET", "RETURN", "IF", "FOR", "WHILE", "LOOP"})
_CTX_KW = frozenset({"FORWARD", "BACKWARD", "GRADIENT", "SYMBOLIC", "WHERE", "EMBED",
                     "LEARNABLE", "FROZEN"})


def _retype(t: Tok, ty: str) -> Tok:
    return Tok(ty, t.value, t.start_pos, t.line, t.column, t.end_line, t.end_column, t.end_pos)


class _Run:
    """One chunk parse: the LR loop over lark's tables, the bracket stack, error recovery."""

    def __init__(self, eng: _Engine, text: str, start: int, end: int, line: int,
                 next_word: str, message_line: int = 0) -> None:
        self.eng = eng
        self.text = text
        self.start = start
        self.end = end
        self.line0 = line + 1  # 1-based
        self.message_line = message_line  # added to lines written into messages
        self.next_word = next_word
        self.errors: list[Diagnostic] = []
        toks, bad = eng.lexer.tokens(text, start, end, line)
        for b in bad:
            _bad_comment(b)
        self.toks = toks
        self.st: list[int] = [eng.start_state]
        self.vs: list = []
        self.opens: list[tuple[Tok, str, str]] = []  # (open token, closer type, what)
        self.prev: Tok | None = None  # last token fed (real or synthetic)
        self.quiet = False  # an error was reported and no token was accepted since
        self._related: tuple[Related, ...] = ()
        self.used_next_word = False
        self._repairs = (-1, 0)  # (token index, repairs tried there)
        self.quiet_until = -1  # accepting tokens up to this index does not end `quiet`

    # ---- the main loop
    def parse(self) -> tuple:
        act = self.eng.act
        goto = self.eng.goto
        chains = self.eng.chains
        toks = self.toks
        st = self.st
        vs = self.vs
        opens = self.opens
        # `prev` and `quiet` live in locals here and are written back to `self` around the
        # calls that read or change them (recovery, the end)
        prev = self.prev
        quiet = self.quiet
        i = 0
        while i < len(toks):
            tok = toks[i]
            ty = tok.type
            row = act[st[-1]]
            if ty in _CTX_KW:
                # `where`, `forward`, ...: a keyword where the parser accepts it, else a
                # name. Where both could stand, a keyword only if the parser really accepts
                # it (LALR lookaheads over-state: lark would take `forward` as the infer
                # mode after `Q(x)? where x > 1` and fail on `forward = 2`).
                if "NAME" in row and (ty not in row or not self.eng.sim(st, [ty])):
                    ty = "NAME"
                    tok = _retype(tok, ty)
            elif ty not in row or ty in _ADJUST_ALWAYS:
                tok = self._adjust(i, tok, row)
                ty = tok.type
            while True:
                a = row.get(ty)
                if a is None:
                    self.prev, self.quiet = prev, quiet
                    i = self._recover(i, tok)
                    prev, quiet = self.prev, self.quiet
                    opens = self.opens
                    break
                if a.__class__ is int:
                    st.append(a)
                    vs.append(tok)
                    prev = tok
                    if quiet and i > self.quiet_until:
                        quiet = False
                    i += 1
                    if ty in _OPEN:
                        opens.append((tok, _OPEN[ty], self._what_open(tok)))
                        if len(opens) > MAX_BRACKET_DEPTH:
                            self.prev = prev
                            self._report(tok, f"too deeply nested: more than "
                                              f"{MAX_BRACKET_DEPTH} brackets open at once")
                            i = self._panic(i, None)
                            prev, quiet = self.prev, True
                            opens = self.opens
                    elif ty in _CLOSERS and opens:
                        opens.pop()
                    break
                size, origin, cb = a
                if cb is None:
                    # a chain of one-child `?rule` reductions: the value stays, only the
                    # state on top changes; memoized per (state below, top, lookahead)
                    key = (st[-2], st[-1], ty)
                    top = chains.get(key)
                    if top is None:
                        top = self.eng.unit_chain(st[-2], st[-1], ty)
                        chains[key] = top
                    st[-1] = top
                    row = act[top]
                    continue
                if size:
                    args = vs[-size:]
                    del vs[-size:]
                    del st[-size:]
                    v = cb(args)
                else:
                    v = cb([])
                st.append(goto[st[-1]][origin])
                vs.append(v)
                row = act[st[-1]]
        self.prev, self.quiet = prev, quiet
        return self._finish()

    def _adjust(self, i: int, tok: Tok, row: dict) -> Tok:
        """What lark's contextual lexer would have made of `tok` in this state."""
        ty = tok.type
        base = _NL_BASE.get(ty)
        if base is not None:
            if ty in row or base not in row:
                return tok
            e = tok.end_pos
            return Tok(base, tok.value[-1], e - 1, tok.end_line, tok.end_column - 1,
                       tok.end_line, tok.end_column, e)
        if ty in _SOFT_KW:
            return _retype(tok, "NAME") if "NAME" in row else tok
        if ty == "COLONCOLON" and ty in row:
            nxt = self.toks[i + 1] if i + 1 < len(self.toks) else None
            if (nxt is not None and nxt.type == "NAME") or "COLON" not in row:
                return tok  # a path (the only place the grammar takes `::`), or an error
        parts = _SPLIT.get(ty)
        if parts is not None and parts[0] in row:
            s, ln, c = tok.start_pos, tok.line, tok.column
            first = Tok(parts[0], tok.value[0], s, ln, c, ln, c + 1, s + 1)
            second = Tok(parts[1], tok.value[1], s + 1, ln, c + 1, ln, c + 2, s + 2)
            self.toks[i] = first
            self.toks.insert(i + 1, second)
            return first
        return tok

    def _feed(self, tok: Tok) -> None:
        """Feed one token through the tables (used for synthetic tokens; must be valid)."""
        act = self.eng.act
        goto = self.eng.goto
        st = self.st
        vs = self.vs
        ty = tok.type
        while True:
            a = act[st[-1]][ty]
            if a.__class__ is int:
                st.append(a)
                vs.append(tok)
                self.prev = tok
                return
            size, origin, cb = a
            if cb is None:  # one-child reductions: memoized chain, as in the main loop
                chains = self.eng.chains
                key = (st[-2], st[-1], ty)
                top = chains.get(key)
                if top is None:
                    top = chains[key] = self.eng.unit_chain(st[-2], st[-1], ty)
                st[-1] = top
                continue
            if size:
                args = vs[-size:]
                del vs[-size:]
                del st[-size:]
                v = cb(args)
            else:
                v = cb([])
            st.append(goto[st[-1]][origin])
            vs.append(v)
            if ty == "$END" and st[-1] == self.eng.end_state:
                return

    def _first_on_line(self, i: int, t: Tok | None = None) -> bool:
        """Is the token at index `i` (or `t`, standing there) the first on its line?"""
        if t is None:
            if i >= len(self.toks):
                return True
            t = self.toks[i]
        line = t.end_line if t.type in _NL_TYPES else t.line
        if i == 0:
            return True
        return line > self.toks[i - 1].end_line

    def _what_open(self, tok: Tok) -> str:
        row = self.eng.act[self.st[-1]]
        ty = tok.type
        vs = self.vs
        if ty == "LPAR" or ty == "NL_LPAR":
            if "RPAR" in row and "NUMBER" in row:
                return "call"
            if "RPAR" in row:
                return "parameter list"
            return "parentheses"
        if ty == "LSQB" or ty == "NL_LSQB":
            if "QMARK" in row:
                return "tensor type"
            if "COLON" in row:
                return "index"
            return "list"
        if "LET" in row:
            return "block"
        if "FN" in row:
            return "impl block"
        if "FORWARD" in row:
            return "infer block"
        if "MINUS" in row:
            return "match"
        prev = vs[-2] if len(vs) > 1 else None
        if type(prev) is Tok and prev.type == "NAME":
            pprev = vs[-3] if len(vs) > 2 else None
            if type(pprev) is Tok and pprev.type == "STRUCT":
                return "struct declaration"
            if type(pprev) is Tok and pprev.type in ("EMBEDDING", "RELATION_EMBEDDING"):
                return "embedding declaration"
            if type(pprev) is not Tok or pprev.type not in _ITEM_START:
                return "struct literal"
        return "braces"

    # ---- messages
    def _expected(self) -> set[str]:
        """Terminals the parser would really accept now (LALR lookaheads can over-state)."""
        eng = self.eng
        out = set()
        for k in eng.act[self.st[-1]]:
            if k not in ("ERRSTMT", "ERREXPR") and eng.sim(self.st, [k]):
                out.add(k)
        return out

    def _message(self, i: int, tok: Tok) -> str:
        ty = tok.type
        if ty == "INVALID":
            return _invalid_message(tok.value)
        if ty == "BAD_STRING":
            return "unterminated string: add a closing '\"' before the end of the line"
        eng = self.eng
        expected = self._expected()
        found = _found(tok, self.next_word)
        if ("NAME" in expected and "NUMBER" not in expected and tok.value in _KEYWORDS
                and ty != "$END"):
            found += " (a reserved word, which cannot be used as a name)"
        if ty in _CLOSERS and not any(c == ty for _, c, _ in self.opens):
            opener = {"RPAR": "(", "RSQB": "[", "RBRACE": "{"}[ty]
            return f"unexpected {found}: there is no open '{opener}' for it to close"
        if self.opens:
            open_tok, closer, what = self.opens[-1]
            if closer in expected:
                s = _ts(open_tok)
                self._related = (Related(s, f"the {what} starts here"),)
                where = f"the {what} started at {s.line + self.message_line + 1}:{s.col + 1}"
                word = eng.terms.word(closer)
                plain = (ty == "$END" or self._first_on_line(i, tok) or ty in _STMT_START
                         or ty in _ITEM_START)
                if not plain and ("NUMBER" in expected or "NAME" in expected):
                    what_item = "an expression" if "NUMBER" in expected else "a name"
                    return f"expected {what_item} or {word} to close {where}, found {found}"
                if not plain and "COMMA" in expected:
                    return f"expected ',' or {word} to close {where}, found {found}"
                return f"expected {word} to close {where}, found {found}"
        if "STRING" in expected and self.prev is not None and self.prev.type == "IMPORT" and \
                i >= 2 and self.toks[i - 2].type == "NAME" and self.toks[i - 2].value == "python":
            return PYTHON_INTEGRATION
        return f"expected {self._expected_words(expected)}, found {found}{self._hint(tok, expected)}"

    def _expected_words(self, expected: set[str]) -> str:
        eng = self.eng
        exp = set(expected) - {"ERRSTMT", "ERREXPR", "_SEMI"}
        words: list[str] = []
        if "LET" in exp or "FN" in exp:
            words.append("a statement" if "FN" not in exp else "a statement or declaration")
            exp -= _STMT_START | _ITEM_START | _EXPR_START
        elif "NUMBER" in exp and "NAME" in exp:
            words.append("an expression")
            exp -= _EXPR_START
        if len(exp & _BINOPS) > 3:
            words.insert(0, "an operator")
            exp -= _BINOPS | {"LPAR", "LSQB", "COLONCOLON", "QMARK", "LARROW", "DOT", "EQUAL",
                              "COLONEQ", "TILDE", "COMMA"}
        exp -= {"NL_LPAR", "NL_LSQB", "NL_LBRACE"}
        order = {t: i for i, t in enumerate(_ORDER)}
        rest = sorted(exp, key=lambda t: (order.get(t, len(order)), t))
        words.extend(dict.fromkeys(eng.terms.word(t) for t in rest))
        if not words:
            return "nothing more"
        if len(words) > 6:
            words = words[:5] + ["..."]
        if len(words) == 1:
            return words[0]
        return ", ".join(words[:-1]) + " or " + words[-1]

    def _hint(self, tok: Tok, expected: set[str]) -> str:
        if tok.type == "EQUAL" and "EQEQ" in expected:
            return "; to compare, write '=='"
        if "STRING" in expected and self.prev is not None and self.prev.type == "IMPORT":
            return f'; write the path in quotes: import "{_show(tok.value)}.tl"'
        return ""

    def _report(self, tok: Tok, message: str | None = None, i: int = 0) -> None:
        if tok.type == "$END":
            e = self.end
            self.used_next_word = True  # "found 'fn'" or "found end of file": both depend on it
            if self.next_word:
                line = tok.line - 1
                span = _S(e, e + len(self.next_word), line, 0, line, len(self.next_word))
            else:
                span = _S(e, e, tok.line - 1, tok.column - 1, tok.line - 1, tok.column - 1)
        else:
            span = _ts(tok)
        self._related = ()
        message = message or self._message(i, tok)
        self.errors.append(Diagnostic(span, message, code="syntax", related=self._related))

    # ---- recovery
    def _synthetic(self, ty: str) -> Tok:
        p = self.prev
        if p is None:
            return Tok(ty, "", self.start, self.line0, 1, self.line0, 1, self.start)
        return Tok(ty, "", p.end_pos, p.end_line, p.end_column, p.end_line, p.end_column,
                   p.end_pos)

    def _recover(self, i: int, tok: Tok) -> int:
        """Handle a token the parser refused; returns the index of the next token to feed."""
        ty = tok.type
        if ty == "BAD_STRING":
            # a string without its closing quote: report it, then read it as a string (so
            # `f("w` + a new line does not also leave the call open), and keep quiet until
            # a token after it is accepted
            self._report(tok, i=i)
            self.quiet = True
            self.quiet_until = i
            self.toks[i] = Tok("STRING", tok.value.rstrip("\\") + '"', tok.start_pos, tok.line,
                               tok.column, tok.end_line, tok.end_column, tok.end_pos)
            return i
        if ty == "INVALID":
            # a stray character: report it, skip it, go on
            self._report(tok, i=i)
            self.quiet = True
            return i + 1
        if not self.quiet:
            self._report(tok, i=i)
        self.quiet = True
        # repair by insertion at most twice at one token (the token is re-lexed for the new
        # state, so a repair is re-checked), then skip
        n = self._repairs[1] + 1 if self._repairs[0] == i else 1
        self._repairs = (i, n)
        if n <= 2 and self._repair(i, tok):
            return i
        return self._panic(i, tok)

    def _repair(self, i: int, tok: Tok) -> bool:
        """Insert up to three tokens so that `tok` is accepted; True when done."""
        ty = tok.type
        at_end = ty == "$END"
        line_start = at_end or self._first_on_line(i, tok)
        closing = ty in _CLOSERS
        if not (line_start or closing or ty == "COMMA" or ty == "_SEMI"):
            return False
        closers = [c for _, c, _ in reversed(self.opens)]
        fillers: list[list[str]] = [[], ["ERREXPR"]]
        if line_start or closing:
            fillers.append(["NAME"])
        if at_end:
            max_close = len(closers)
        elif line_start or closing:
            max_close = min(len(closers), 3)
        else:
            max_close = 0
        for k in range(0, max_close + 1):
            for fill in fillers:
                seq = fill + closers[:k]
                if seq and self.eng.sim(self.st, seq + [ty]):
                    for s in seq:
                        self._feed(self._synthetic(s))
                        if s in _CLOSERS and self.opens:
                            self.opens.pop()
                    return True
        return False

    def _panic(self, i: int, tok: Tok | None) -> int:
        """Pop to a statement boundary, skip to a restart point, feed an ERRSTMT.

        `tok` is the refused token at index `i` (None: restart from index `i`, nothing
        refused). Returns the index of the restart token.
        """
        eng = self.eng
        st = self.st
        vs = self.vs
        act = eng.act
        region_start = None  # (offset, line, col), 0-based
        region_end = None
        depth = 0  # brackets opened in the popped region and not closed
        if tok is None or not eng.sim(st, ["ERRSTMT"]):
            while len(st) > 1:
                v = vs.pop()
                st.pop()
                if type(v) is Tok:
                    if v.type in _OPEN:
                        depth += 1
                    elif v.type in _CLOSERS:
                        depth -= 1
                pos = _start_of(v)
                if pos is not None:
                    region_start = pos
                    if region_end is None:
                        region_end = _end_of(v)
                a = act[st[-1]].get("ERRSTMT")
                if a is not None and a.__class__ is int:
                    break
        if region_start is not None:
            rs = region_start[0]
            self.opens[:] = [o for o in self.opens if o[0].start_pos < rs]
        toks = self.toks
        n = len(toks)
        j = i
        last_skipped = None
        while j < n:
            t = toks[j]
            if self._sync_ok(j, t, depth, t is tok) and (j > i or region_start is not None):
                break
            if t.type in _OPEN:
                depth += 1
            elif t.type in _CLOSERS:
                depth -= 1
            last_skipped = t
            j += 1
        if last_skipped is not None:
            region_end = (last_skipped.end_pos, last_skipped.end_line - 1,
                          last_skipped.end_column - 1)
            if region_start is None:
                t0 = toks[i]
                region_start = (t0.start_pos, t0.line - 1, t0.column - 1)
        if region_start is not None and region_end is not None and region_end[0] > region_start[0]:
            s, sl, sc = region_start
            e, el, ec = region_end
            if eng.sim(st, ["ERRSTMT"]):
                self._feed(Tok("ERRSTMT", self.text[s:e], s, sl + 1, sc + 1, el + 1, ec + 1, e))
        return j

    def _sync_ok(self, j: int, t: Tok, depth: int, is_first: bool) -> bool:
        """Can the parse restart at `t` after an ErrorStmt?"""
        ty = t.type
        eng = self.eng
        if ty == "RBRACE":
            return depth <= 0 and eng.sim(self.st, ["ERRSTMT", "RBRACE"])
        if ty == "_SEMI":
            return depth <= 0
        if not self._first_on_line(j, t):
            return False
        if depth > 0 and not is_first and ty not in _ITEM_START and ty not in _STRONG:
            return False
        if ty in _STMT_START or ty in _ITEM_START or ty in _EXPR_START:
            base = _NL_BASE.get(ty, ty)
            return eng.sim(self.st, ["ERRSTMT", ty]) or eng.sim(self.st, ["ERRSTMT", base])
        return False

    def _end_token(self) -> Tok:
        toks = self.toks
        if toks:
            last = toks[-1]
            # the end of the chunk: count the lines after the last token
            tail = self.text[last.end_pos:self.end]
            k = tail.count("\n")
            if k:
                col = len(tail) - tail.rindex("\n")
                return Tok("$END", "", self.end, last.end_line + k, col, last.end_line + k, col,
                           self.end)
            col = last.end_column + len(tail)
            return Tok("$END", "", self.end, last.end_line, col, last.end_line, col, self.end)
        seg = self.text[self.start:self.end]
        k = seg.count("\n")
        col = len(seg) - seg.rindex("\n") if k else len(seg) + 1
        return Tok("$END", "", self.end, self.line0 + k, col, self.line0 + k, col, self.end)

    def _finish(self) -> tuple:
        end_tok = self._end_token()
        for _ in range(2):
            if self.eng.sim(self.st, ["$END"]):
                self._feed(end_tok)
                return self.vs[-1]
            if not self.quiet:
                self._report(end_tok)
            self.quiet = True
            if not self._repair(len(self.toks), end_tok):
                break
        return self._salvage(end_tok)

    def _salvage(self, end_tok: Tok) -> tuple:
        """Pop until the rest can be one ErrorStmt at the end of the chunk, then finish."""
        st = self.st
        vs = self.vs
        eng = self.eng
        region = None
        while len(st) > 1 and not eng.sim(st, ["ERRSTMT", "$END"]):
            v = vs.pop()
            st.pop()
            pos = _start_of(v)
            if pos is not None:
                region = pos
        if region is not None and region[0] < self.end:
            s, sl, sc = region
            self._feed(Tok("ERRSTMT", self.text[s:self.end], s, sl + 1, sc + 1,
                           end_tok.end_line, end_tok.end_column, self.end))
        self._feed(end_tok)
        return self.vs[-1]


def _start_of(v) -> tuple[int, int, int] | None:  # noqa: ANN001
    if type(v) is Token:
        s = _ts(v)
        return s.start, s.line, s.col
    span = getattr(v, "span", None)
    if span is not None:
        return span.start, span.line, span.col
    return None


def _end_of(v) -> tuple[int, int, int] | None:  # noqa: ANN001
    if type(v) is Token:
        return v.end_pos, v.end_line - 1, v.end_column - 1
    span = getattr(v, "span", None)
    if span is not None:
        return span.end, span.end_line, span.end_col
    return None


def _invalid_message(value: str) -> str:
    ch = value[0]
    if len(value) == 1:
        shown = f"'{ch}'" if ch.isprintable() else f"U+{ord(ch):04X}"
        msg = f"unexpected character {shown}"
    else:
        msg = f"unexpected characters '{_show(value)}'"
    if ch == "'":
        inner = value[1:-1] if len(value) > 1 and value.endswith("'") else value[1:]
        return f"strings use double quotes: write \"{_show(inner)}\" instead of {_show(value)}"
    elif ch == "#":
        msg += "; comments start with //"
    elif ch.isalpha():
        msg += "; names use ASCII letters, digits and '_' only (comments and strings may hold any text)"
    elif ch == "&" or ch == "|":
        msg += f"; did you mean '{ch}{ch}'?"
    return msg
