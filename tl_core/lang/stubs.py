"""The original TensorLogic's stubs that have no standard meaning to implement (UPSTREAM.md
22): calling one always failed there ("not yet implemented"). Here each is an error in `tl
check` and `tl run` alike, at the name, saying so and what to write instead. (The stubs
with a standard meaning, `top_k`, `top_p`, `dropout`, `batch_norm`, `apply_mask`, are real
built-ins.)"""

from __future__ import annotations

import difflib

from tl_core.lang.dtypes import NAMESPACES

_FORMULA = "write the formula with tensor operations"
_SAMPLING = "sample with temperature_sample(top_k(logits, k), T) or top_p(logits, p)"

# name -> what to write instead
STUBS: dict[str, str] = {
    **{n: _FORMULA for n in (
        "entity_onehot", "entity_dim", "transe_score", "distmult_score", "complex_score",
        "margin_ranking_loss", "binary_cross_entropy", "predict_tail_transe",
        "predict_head_transe", "predict_tail_distmult", "predict_head_distmult",
        "predict_tail_complex", "predict_head_complex", "compute_rank", "compute_mrr",
        "compute_hits_at_k", "compute_mean_rank", "aggregate_neighbors",
        "relational_aggregate", "graph_attention", "normalize_features")},
    "sample": _SAMPLING, "top_p_sample": _SAMPLING, "temperature": _SAMPLING,
    "generate": "write the decoding loop with temperature_sample and a KVCache "
                "(examples/chat_smollm2.tl does)",
    "print_top_k": "print top_k(logits, k) or the indices of argmax",
}


# `python import m` / `python.call("f", ...)` (UPSTREAM.md 20): the original's optional Python
# integration, left out of its default build; the parser and the checker say this.
PYTHON_INTEGRATION = (
    "the original's Python integration (`python import m`, `python.call(\"f\", ...)`) is not "
    "supported: its default build leaves it out too (\"Python integration not enabled\"); "
    "remove it and compute with TensorLogic's built-ins, or prepare the data in Python and "
    "load it (load_model, load)")


def stub_message(name: str) -> str | None:
    """The error for a call of one of the original's stubs (or a use of `python`), or None."""
    if name == "python":
        return PYTHON_INTEGRATION
    hint = STUBS.get(name)
    if hint is None:
        return None
    return (f"'{name}' is a stub in the original TensorLogic (calling it always failed "
            f"there: not yet implemented) and is not provided; {hint}")


def path_message(base: str, member: str, called: bool, builtins: list[str]) -> str | None:
    """The error for `base::member(...)` (`called`) or a bare `base::member` that is no
    function of the language: on a dtype namespace (`f32::NAME` calls the built-in NAME),
    on `KVCache`, or a path used as a value. None for a call the caller resolves (a
    struct's associated function). `builtins` are the names `f32::` may call."""
    if not called:
        return (f"{base}::{member} is not a value: a path names an associated function, "
                f"called as {base}::{member}(...); there are no associated constants")
    if base == "KVCache":
        return (f"KVCache::{member} is not a function of KVCache: a cache is made with "
                f"KVCache::new(n), KVCache::new_f16(n) or KVCache::new_f32(n)")
    if base in NAMESPACES:
        close = difflib.get_close_matches(member, builtins, n=1, cutoff=0.75)
        hint = f"; did you mean {base}::{close[0]}?" if close else ""
        return (f"{base}::{member} is not implemented: {base}:: calls the built-in of that "
                f"name ({base}::zeros(shape), {base}::ones(shape), {base}::arange(n) make "
                f"{base} tensors), and there is no built-in '{member}'{hint}")
    return None

