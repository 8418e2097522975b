"""Fast constructors for the frozen AST dataclasses and `Span`.

Why: a frozen dataclass's `__init__` sets each field through `object.__setattr__`
(about 1.3 µs for a `Span` here); the parser makes several objects per token. The
constructors below create the same objects (same class, equal, hashable, still frozen to
everyone else) by writing the slots directly, about 3x faster. They take the same
arguments, with the same defaults, as the dataclass constructors; tests compare both.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from tl_core.syntax import ast as A
from tl_core.syntax.span import Span


def fast_constructor(cls):  # noqa: ANN001, ANN201
    fields = dataclasses.fields(cls)
    params = []
    env: dict = {"_new": object.__new__, "_C": cls}
    body = ["    o = _new(_C)"]
    for i, f in enumerate(fields):
        env[f"_s{i}"] = cls.__dict__[f.name].__set__
        if f.default is not dataclasses.MISSING:
            env[f"_d{i}"] = f.default
            params.append(f"{f.name}=_d{i}")
        else:
            params.append(f.name)
        body.append(f"    _s{i}(o, {f.name})")
    body.append("    return o")
    src = f"def make({', '.join(params)}):\n" + "\n".join(body) + "\n"
    exec(src, env)  # noqa: S102 - generated from the dataclass fields above
    fn = env["make"]
    fn.__name__ = f"make_{cls.__name__}"
    return fn


def _all() -> SimpleNamespace:
    ns = {"Span": fast_constructor(Span)}
    for name in dir(A):
        cls = getattr(A, name)
        if (isinstance(cls, type) and dataclasses.is_dataclass(cls)
                and cls.__module__ == A.__name__):
            ns[name] = fast_constructor(cls)
    return SimpleNamespace(**ns)


N = _all()
