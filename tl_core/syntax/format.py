"""`format_text(text) -> str`: the canonical layout of a TensorLogic document.

The formatter works on tokens, not on the tree: it keeps every token, every comment and
every line break of the source (at most one blank line in a row), and only rewrites the
spaces inside lines and the indentation. So the tree of the result equals the tree of the
input (modulo positions), and formatting twice changes nothing more. Text with syntax
errors is returned unchanged.

- Indentation: 4 spaces per open bracket level, counted per line (brackets opened on one
  line indent the next lines once); a line that starts with a closing bracket goes back to
  the level of the line that opened it; a line that continues an expression (after a
  binary operator, or starting with `.` or an operator) gets one more level.
- Spaces: one around binary operators, `=`, `:=`, `->`, `=>`, `<-`, `~` and pattern `|`;
  one after `,` and `;` and after the `:` of fields, keyword arguments and types (none
  before); none inside `()`/`[]`, around `.`, `::`, slice colons, generic `<...>`, before
  a call's `(` or an index's `[`, or after a unary `-`/`!`; one inside `{ ... }` on one line.
- Comments keep their text (trailing spaces of `//` comments removed); one space before a
  comment that follows code on its line.

The result is parsed again and compared with the input's tree; should they ever differ,
the text is returned unchanged.
"""

from __future__ import annotations

import dataclasses

from tl_core.syntax import ast as A
from tl_core.syntax.span import Span

INDENT = "    "

_OPEN = {"LPAR", "LSQB", "LBRACE", "NL_LPAR", "NL_LSQB", "NL_LBRACE"}
_CLOSE = {"RPAR", "RSQB", "RBRACE"}
_BINARY = {"OROR", "ANDAND", "EQEQ", "NOTEQ", "LE", "GE", "LT", "GT", "PLUS", "MINUS",
           "STAR", "SLASH", "PERCENT", "AT", "ODOT", "POW", "OTIMES", "APPROX", "EQUAL", "COLONEQ",
           "ARROW", "FATARROW", "LARROW", "TILDE", "BAR"}
# a token after which a `-` is binary (it ends an operand)
_OPERAND_END = {"NAME", "NUMBER", "STRING", "RPAR", "RSQB", "RBRACE", "TRUE", "FALSE", "QMARK"}
# lines ending with these continue the expression on the next line
_CONT_END = _BINARY - {"BAR"} | {"AS", "DOT"}
_CONT_START = (_BINARY - {"BAR", "EQUAL", "COLONEQ", "LARROW", "FATARROW", "MINUS"}) | {"DOT", "AS"}
# a `(` or `[` right after these is a call or an index (words that are keywords only in
# their own place, like `learnable` or `embedding`, are names before a bracket)
_CALLABLE = {"NAME", "RPAR", "RSQB", "GGT", "STRING", "FORWARD", "BACKWARD", "GRADIENT",
             "SYMBOLIC", "WHERE", "EMBED", "LEARNABLE", "FROZEN"}
# pairs that would lex as one token if written together
_GLUE = {(":", ":"), (":", "="), ("<", "-"), ("-", ">"), ("=", ">"), ("*", "*"), ("|", "|"),
         ("=", "="), ("!", "="), ("<", "="), (">", "="), ("/", "/"), ("/", "*"), ("-", "-")}


def format_text(text: str) -> str:
    """The formatted document, or `text` unchanged if it has syntax errors."""
    # lazy: lark loads with the first format, not with tl_core.syntax
    from tl_core.syntax import parse
    from tl_core.syntax.parser import engine

    result = parse(text)
    if result.errors:
        return text
    toks, _bad = engine().lexer.tokens(text, 0, len(text), 0)
    items: list[tuple[int, int, int, str, str]] = []  # (start, line, end_line, type, text)
    for t in toks:
        if t.type in ("NL_LPAR", "NL_LSQB", "NL_LBRACE"):
            e = t.end_pos
            items.append((e - 1, t.end_line - 1, t.end_line - 1, t.type[3:], t.value[-1]))
        else:
            items.append((t.start_pos, t.line - 1, t.end_line - 1, t.type, t.value))
    for c in result.comments:
        body = c.text.rstrip() if c.text.startswith("//") else c.text
        items.append((c.span.start, c.span.line, c.span.end_line, "COMMENT", body))
    items.sort(key=lambda x: x[0])
    generic_lt = _generic_openers(result.program, text)
    out = _emit(items, generic_lt)
    # a safety net: whitespace can matter to the lexer in corner cases (a byte-order mark
    # inside a line, say); if the result does not parse to the same tree, keep the text
    after = parse(out)
    if after.errors or not same_tree(result.program, after.program):
        return text
    return out


def same_tree(a: object, b: object) -> bool:
    """Are two trees equal when positions are ignored? (iterative: deep trees are fine)"""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, tuple):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif dataclasses.is_dataclass(x):
            if isinstance(x, Span):
                continue
            for f in dataclasses.fields(x):
                stack.append((getattr(x, f.name), getattr(y, f.name)))
        elif x != y:
            return False
    return True


def _generic_openers(program: A.Program, text: str) -> set[int]:
    """Offsets of `<` that open generic arguments in types written as `Name<T>`."""
    out: set[int] = set()
    for node in A.walk(program):
        if isinstance(node, A.NamedTypeExpr) and node.args:
            i = text.find("<", node.span.start, node.span.end)
            if i != -1:
                out.add(i)
        elif isinstance(node, A.TensorCtor):
            i = text.find("<", node.span.start, node.dtype_span.start)
            if i != -1:
                out.add(i)
    return out


def _emit(items: list, generic_lt: set[int]) -> str:
    lines: list[str] = []
    cur: list[str] = []
    stack: list[tuple[str, int]] = []  # (open type, indent level of the line that opened it)
    line_level = 0
    prev = None  # previous item on the current line
    prev_item = None  # previous item overall
    prev2_type = None
    generic_depth = 0
    last_line = -1
    for item in items:
        start, line, end_line, ty, value = item
        if line != last_line:
            # a new source line
            if cur:
                lines.append("".join(cur).rstrip())
            if prev_item is not None:
                blank = line - prev_item[2] - 1
                if blank > 0 and lines:
                    lines.append("")
            first_ty = ty
            if first_ty in _CLOSE:
                level = stack[-1][1] if stack else 0
            else:
                level = stack[-1][1] + 1 if stack else 0
                if prev_item is not None and first_ty != "COMMENT":
                    p_ty = prev_item[3]
                    top = stack[-1][0] if stack else None
                    if p_ty in _CONT_END or first_ty in _CONT_START or (
                            p_ty == "COMMA" and top is None):
                        level += 1
            line_level = level
            cur = [INDENT * level]
            prev = None
        else:
            cur.append(_space(prev, item, prev2_type, stack, generic_lt, generic_depth))
        # generic angle brackets
        if ty == "LT" and (start in generic_lt or _type_params_start(prev, prev2_type)):
            generic_depth += 1
            item = (start, line, end_line, "GLT", value)
        elif ty == "GT" and generic_depth > 0:
            generic_depth -= 1
            item = (start, line, end_line, "GGT", value)
        cur.append(value)
        if ty in _OPEN:
            stack.append((ty, line_level))
        elif ty in _CLOSE and stack:
            # after a closer the line continues at the level where that bracket was opened
            line_level = stack.pop()[1]
        if ty != "COMMENT":
            prev2_type = prev[3] if prev is not None else (prev_item[3] if prev_item else None)
        prev = item
        prev_item = item
        last_line = end_line
    if cur:
        lines.append("".join(cur).rstrip())
    while lines and lines[-1] == "":
        lines.pop()
    while lines and lines[0] == "":
        lines.pop(0)
    return "\n".join(lines) + "\n" if lines else ""


def _type_params_start(prev, prev2_type) -> bool:  # noqa: ANN001
    if prev is None:
        return False
    if prev[3] in ("IMPL", "TENSOR"):
        return True
    return prev[3] == "NAME" and prev2_type in ("FN", "STRUCT")


def _space(prev, item, prev2_type, stack, generic_lt, generic_depth) -> str:  # noqa: ANN001, C901
    """The spaces between two tokens on one line."""
    if prev is None:
        return ""
    p_ty, p_val = prev[3], prev[4]
    ty, val = item[3], item[4]
    if ty == "COMMENT" or p_ty == "COMMENT":
        return " "
    if p_val and val and (p_val[-1], val[0]) in _GLUE:
        return " "
    top = stack[-1][0] if stack else None
    in_index = top in ("LSQB", "NL_LSQB")
    # closers and separators
    if ty in ("RPAR", "RSQB"):
        return ""
    if ty == "RBRACE":
        return "" if p_ty in ("LBRACE", "NL_LBRACE") else " "
    if ty in ("COMMA", "_SEMI", "DOT", "QMARK"):
        return ""
    if p_ty in ("COMMA", "_SEMI"):
        return " "
    if p_ty in ("LPAR", "NL_LPAR", "LSQB", "NL_LSQB", "DOT", "COLONCOLON"):
        return ""
    if p_ty in ("LBRACE", "NL_LBRACE"):
        return " "
    if ty == "COLONCOLON":
        return ""
    if ty == "COLON" or p_ty == "COLON":
        if in_index:
            return ""
        return "" if ty == "COLON" else " "
    # generics
    if ty == "LT" and (item[0] in generic_lt or _type_params_start(prev, prev2_type)):
        return ""
    if p_ty == "GLT":
        return ""
    if ty == "GT" and generic_depth > 0:
        return ""
    if p_ty == "GGT":
        return "" if ty in ("LPAR", "COMMA", "RPAR") else " "
    # unary operators
    if p_ty in ("MINUS", "BANG") and _is_unary(prev2_type):
        return ""
    # calls and indexing
    if ty in ("LPAR", "LSQB") and p_ty in _CALLABLE:
        return ""
    if ty == "LBRACE":
        return " "
    return " "


def _is_unary(before: str | None) -> bool:
    """Is a `-`/`!` preceded by `before` a unary operator?"""
    return before is None or before not in _OPERAND_END
