"""Model navigation: `model.blk[0].attn_q.weight` names the tensor `blk.0.attn_q.weight`.

A model's tensor names, split at their dots, form a tree. `.NAME` steps to the child NAME,
`[i]` to the child named by the integer `i` (`blk` -> `blk.0`); a step that ends on a
tensor's full name with nothing below it is that tensor. This is the original's navigation
(UPSTREAM.md §12.2: layer collections, layers, features, properties) at any depth, the same
for GGUF (`blk.0.attn_q.weight`) and SafeTensors (`model.layers.0.self_attn.q_proj.weight`).

A *prefix* is a dotted name of the tree (`""` is the model itself). The checker also walks
prefixes holding `*` for an index it cannot know before the run (`blk.*.attn_q`): such a
prefix stands for all the layers at once (`concrete`). The runtime walks concrete prefixes
only. Both go through the same `NameTree` (one per model header, cached: `tree_of`).

Pure Python; imports nothing beyond the standard library.
"""

from __future__ import annotations

import difflib
import threading
from collections import OrderedDict
from collections.abc import Iterable

WILD = "*"
MODEL_FIELDS = ("metadata", "path")  # a Model's own fields, which navigation cannot reach
# Tied output heads: a missing head and the embedding it shares its weights with.
TIED_HEADS = (("output", "token_embd"), ("lm_head", "model.embed_tokens"),
              ("lm_head", "embed_tokens"))


def join(prefix: str, part: str) -> str:
    return part if not prefix else f"{prefix}.{part}"


def written(prefix: str) -> str:
    """A prefix as a program writes it: `blk.0.attn_q` -> `blk[0].attn_q`, `*` -> `[i]`."""
    out = ""
    for part in prefix.split("."):
        if part.isdigit() or part == WILD:
            out += f"[{'i' if part == WILD else part}]"
        else:
            out = join(out, part)
    return out


def is_index(part: str) -> bool:
    return part.isdigit() and part.isascii()


class NameTree:
    """The tree of a model's tensor names (built once per header: `tree_of`)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.children: dict[str, dict[str, None]] = {"": {}}
        self.tensors: set[str] = set()
        kids = self.children
        for name in names:
            self.tensors.add(name)
            prefix = ""
            for part in name.split("."):
                below = kids.get(prefix)
                if below is None:
                    below = kids[prefix] = {}
                below[part] = None
                prefix = join(prefix, part)
        self._indices: dict[str, list[int]] = {}

    # -- one prefix

    def concrete(self, prefix: str) -> list[str]:
        """The concrete prefixes a prefix stands for (itself when it holds no `*`)."""
        if WILD not in prefix.split("."):
            return [prefix] if prefix in self.children or prefix in self.tensors else []
        out = [""]
        for part in prefix.split("."):
            nxt: list[str] = []
            for p in out:
                if part == WILD:
                    nxt.extend(join(p, str(i)) for i in self.indices(p))
                elif part in self.children.get(p, ()):
                    nxt.append(join(p, part))
            out = nxt
        return out

    def parts(self, prefix: str) -> list[str]:
        """The child parts below a prefix, in file order (a `*` prefix: of all its layers)."""
        seen: dict[str, None] = {}
        for p in self.concrete(prefix) if WILD in prefix.split(".") else [prefix]:
            seen.update(self.children.get(p, {}))
        return list(seen)

    def has(self, prefix: str, part: str) -> bool:
        """Is `part` a child below the prefix (below one of its layers, for a `*` prefix)?"""
        if WILD in prefix.split("."):
            return part in self.parts(prefix)
        return part in self.children.get(prefix, ())

    def fields(self, prefix: str) -> list[str]:
        """The children reached with `.name`, sorted."""
        return sorted(p for p in self.parts(prefix) if not is_index(p))

    def indices(self, prefix: str) -> list[int]:
        """The children reached with `[i]`, sorted."""
        if WILD in prefix.split("."):
            return sorted({int(p) for p in self.parts(prefix) if is_index(p)})
        hit = self._indices.get(prefix)
        if hit is None:
            hit = self._indices[prefix] = sorted(
                int(p) for p in self.children.get(prefix, {}) if is_index(p))
        return hit

    def is_tensor(self, prefix: str) -> bool:
        """Does the prefix end on tensors (all of them, for a `*` prefix) with nothing below?"""
        names = self.concrete(prefix)
        return bool(names) and all(n in self.tensors and n not in self.children
                                   for n in names)

    # -- steps

    def field(self, prefix: str, name: str) -> str | None:
        """The prefix `.name` leads to, or None when there is no such child."""
        if is_index(name) or not self.has(prefix, name):
            return None
        return join(prefix, name)

    def index(self, prefix: str, i: int | None) -> str | None:
        """The prefix `[i]` leads to (`i` None: unknown before the run), or None. A negative
        `i` counts from the end of the numbered children, as for lists."""
        idx = self.indices(prefix)
        if not idx:
            return None
        if i is None:
            return join(prefix, WILD)
        if i < 0:
            if -len(idx) <= i:
                return join(prefix, str(idx[i]))
            return None
        return join(prefix, str(i)) if self.has(prefix, str(i)) else None

    # -- messages

    def summary(self, prefix: str, limit: int = 12) -> str:
        """What a prefix holds, as a program reaches it: `blk[0..29], output_norm, token_embd`."""
        out = [self.range_text(prefix)] if self.indices(prefix) else []
        for f in self.fields(prefix):
            below = join(prefix, f)
            only_numbered = WILD not in prefix.split(".") and self.indices(below) and \
                not self.fields(below)
            out.append(f + self.range_text(below) if only_numbered else f)
        more = len(out) - limit
        text = ", ".join(out[:limit])
        return text + (f", ... ({more} more)" if more > 0 else "")

    def missing(self, at: str, prefix: str, name: str, root: str) -> str:
        """The error for `at.name` (`at` the program's text for `prefix`; `root` the model's
        text) when there is no child `name` (the checker and the runtime both say this)."""
        holds = self.summary(prefix)
        if not prefix:
            holds += f" (and the fields {', '.join(MODEL_FIELDS)})"
        msg = f"{at} has no '{name}'; it has {holds}"
        if is_index(name):
            msg += f"; write {at}[{name}]"
        hint = self.missing_hint(prefix, name, root)
        return msg + (f"; {hint}" if hint else "")

    def out_of_range(self, at: str, prefix: str, i: object) -> str:
        """The error for `at[i]` with no child numbered `i`."""
        numbered = self.indices(prefix)
        gaps = "" if len(numbered) == numbered[-1] - numbered[0] + 1 else \
            f" ({len(numbered)} of them)"
        return f"{at}[{i}] is out of range: {at} has {self.range_text(prefix)}{gaps}"

    def not_indexable(self, at: str, prefix: str) -> str:
        return f"{at} has no numbered children to index; it has {self.summary(prefix)}"

    def not_a_tensor(self, at: str, prefix: str) -> str:
        """The error for a group used where a tensor is needed."""
        return (f"{at} is a group of the model's tensors, not a tensor; it has "
                f"{self.summary(prefix)}{self.tensor_hint(at, prefix)}")

    def no_method(self, at: str, prefix: str, name: str) -> str:
        return (f"{at} is a group of the model's tensors, not a tensor: it has no method "
                f"'{name}'; it has {self.summary(prefix)}")

    def tensor_hint(self, at: str, prefix: str) -> str:
        """`; did you mean m.token_embd.weight?` for a group holding one tensor, else ""."""
        fields = self.fields(prefix)
        if at and len(at) <= 40 and len(fields) == 1 and not self.indices(prefix) and \
                self.is_tensor(join(prefix, fields[0])):
            return f"; did you mean {at}.{fields[0]}?"
        return ""

    def range_text(self, prefix: str) -> str:
        """The numbered children of a prefix: `[0..29]`, `[0]`."""
        idx = self.indices(prefix)
        if not idx:
            return ""
        return f"[{idx[0]}]" if len(idx) == 1 else f"[{idx[0]}..{idx[-1]}]"

    def missing_hint(self, prefix: str, name: str, root: str = "model") -> str | None:
        """The likely fix for `.name` missing below `prefix`: a tied output head's embedding
        (written from `root`, the model as the program names it), else the closest names."""
        tied = self.tied_head(join(prefix, name), root)
        if tied is not None:
            return tied
        close = difflib.get_close_matches(name, self.fields(prefix), n=3, cutoff=0.5)
        if not close:
            return None
        return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"

    def tied_head(self, missing: str, root: str = "model") -> str | None:
        """When `missing` is (below) an output head this model ties to its token embedding
        (SmolLM2's GGUF has no `output.weight`): the hint naming the embedding's tensor,
        reached from `root`."""
        for head, embed in TIED_HEADS:
            if missing != head and not missing.startswith(head + "."):
                continue
            weight = f"{embed}.weight"
            if weight in self.tensors and f"{head}.weight" not in self.tensors:
                w = f"{root}.{written(weight)}"
                return (f"this model ties its output head to the token embedding (it has no "
                        f"'{head}.weight'): use {w} (tensor '{weight}'), e.g. "
                        f"logits = linear(h, {w})")
        return None


def sliced(at: str) -> str:
    """The error for `at[a:b]` on a model or a group."""
    return f"{at} cannot be sliced; index one at a time: {at}[i]"


def uncalled_method(text: str, name: str) -> str:
    """The error for `model.names` without `(...)` (`text`: the expression as written)."""
    return f"{name} is a method of a Model: call it, {text}(...)"


def one_index(at: str, n: int) -> str:
    return f"{at} takes one index, found {n}"


def bad_index(at: str, found: str) -> str:
    """The error for `at[x]` where `x` is not an int (`found`: its type)."""
    return f"an index into {at} must be an int, found {found}"


_TREES: OrderedDict[int, tuple[object, NameTree]] = OrderedDict()
_TREES_LOCK = threading.Lock()


def tree_of(header: object) -> NameTree:
    """The NameTree of a model header (`header.tensors`' names). Cache: the last 16 headers,
    by identity (headers are immutable; the entry holds its header, so the id stays its)."""
    key = id(header)
    with _TREES_LOCK:
        hit = _TREES.get(key)
        if hit is not None and hit[0] is header:
            _TREES.move_to_end(key)
            return hit[1]
    tree = NameTree(getattr(header, "tensors", {}))
    with _TREES_LOCK:
        _TREES[key] = (header, tree)
        _TREES.move_to_end(key)
        while len(_TREES) > 16:
            _TREES.popitem(last=False)
    return tree
