"""Checking `learn` blocks and `embedding` declarations against what the runtime accepts
(tl_core.logic.learn, tl_core.logic.run): field names, the optimizer and scheduler and
their arguments, the objective's size, `epochs`, `dimension` and `init`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tl_core.diagnostics import Severity
from tl_core.lang.learning import FIELDS, INITS, OPTIMIZERS, SCHEDULERS
from tl_core.lang.types import ScalarType, TensorType
from tl_core.syntax import ast as A

if TYPE_CHECKING:
    from tl_core.check.context import CheckContext
    from tl_core.check.names import Scope


def check_learn(c: CheckContext, block: A.LearnBlock, scope: Scope) -> None:
    fields: dict[str, A.ConfigField] = {}
    for x in block.items:
        if not isinstance(x, A.ConfigField):
            c.check_stmt(x, scope)
        elif x.name not in FIELDS:
            c.error(x.name_span, f"unknown learn field '{x.name}'; the fields are "
                                 f"{', '.join(FIELDS)}", "learn")
        elif x.name in fields:
            c.error(x.name_span, f"learn field '{x.name}' is given twice", "learn")
        else:
            fields[x.name] = x
    for need in ("objective", "optimizer", "epochs"):
        if need not in fields:
            c.error(block.span, f"learn needs `{need}:` (fields: objective, optimizer, "
                                f"epochs, and optionally scheduler)", "learn")
    if "objective" in fields:
        e = fields["objective"].value
        t = c.infer(e, scope)
        size = _size(t)
        if isinstance(t, ScalarType) or (size is not None and size != 1):
            c.error(e.span, f"the objective must be a tensor with one element (the loss), "
                            f"found {t}; reduce it, e.g. with mean(...)", "learn")
    if "epochs" in fields:
        e = fields["epochs"].value
        t = c.infer(e, scope)
        if isinstance(t, ScalarType) and t.name != "int":
            c.error(e.span, f"epochs must be a whole number >= 0, found {t}", "learn")
    if "optimizer" in fields:
        _config_call(c, fields["optimizer"].value, OPTIMIZERS, "optimizer", scope)
    if "scheduler" in fields:
        _config_call(c, fields["scheduler"].value, SCHEDULERS, "scheduler", scope)


def _size(t: Any) -> int | None:
    if not isinstance(t, TensorType) or t.dims is None:
        return None
    n = 1
    for d in t.dims:
        if not isinstance(d, int):
            return None
        n *= d
    return n


def _config_call(c: CheckContext, e: Any, table: dict[str, dict[str, Any]], what: str,
                 scope: Scope) -> None:
    if isinstance(e, A.Name):
        name, name_span, args = e.id, e.span, ()
    elif isinstance(e, A.Call) and isinstance(e.func, A.Name):
        name, name_span, args = e.func.id, e.func.span, e.args
    else:
        c.error(e.span, f"{what} must be one of {', '.join(table)}, e.g. "
                        f"{next(iter(table))}(...)", "learn")
        return
    if name not in table:
        c.error(name_span, f"unknown {what} '{name}'; expected one of {', '.join(table)}",
                "learn")
        return
    known = list(table[name])
    for i, a in enumerate(args):
        c.infer(a.value, scope)
        key = a.name if a.name is not None else (known[i] if i < len(known) else None)
        if key not in table[name]:
            c.error(a.name_span or a.span, f"{name}() has no argument {key or i + 1}; it is "
                                           f"ignored (known: {', '.join(known)})", "learn",
                    Severity.WARNING)


def check_embedding(c: CheckContext, decl: A.EmbeddingDecl, scope: Scope) -> None:
    key = "entities" if decl.kind == "embedding" else "relations"
    seen: set[str] = set()
    for f in decl.fields:
        if f.name not in (key, "dimension", "init"):
            c.error(f.name_span, f"unknown {decl.kind} field '{f.name}'; the fields are "
                                 f"{key}, dimension, init", "learn")
            continue
        seen.add(f.name)
        if f.name == "dimension":
            t = c.infer(f.value, scope)
            if isinstance(t, ScalarType) and t.name != "int":
                c.error(f.value.span, f"dimension must be a whole number >= 1, found {t}",
                        "learn")
        elif f.name == "init" and not (isinstance(f.value, A.Name) and f.value.id in INITS):
            c.error(f.value.span, f"init must be one of {', '.join(INITS)}", "learn")
    for need in (key, "dimension"):
        if need not in seen:
            c.error(decl.name_span, f"{decl.kind} {decl.name} needs `{key}:` and "
                                    f"`dimension:`", "learn")
            break
