"""Every built-in's runtime implementation, registered: importing this module loads the
modules whose `@implements(name)` fill the registry entries of `tl_core.lang.builtins`.

- `ops`: the tensor, model and scalar ops (and the argument helpers the others use);
- `ops_generate`: tokenizer, sampling, KV cache and `attention_with_cache` (on `ops`);
- `ops_compat`: the original's remaining calls (`cndl_*`, weight caches, ...; on both).

They import downward only (`ops_compat` -> `ops_generate` -> `ops`); this module sits on top
of all three, and the interpreter imports it, so a `Session` finds every entry implemented.
"""

from __future__ import annotations

from tl_core.runtime import ops, ops_compat, ops_generate

__all__ = ["ops", "ops_compat", "ops_generate"]
