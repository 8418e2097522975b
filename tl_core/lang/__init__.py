"""The language's own knowledge, below both the checker and the runtime.

- `dtypes`: the one table of element types (names, aliases, kinds, MLX names);
- `keywords`: the one table of keywords and type words;
- `types`: the static types (`TensorType`, `DimVar`, ...);
- `shapes`: the shape algebra (broadcasting, matmul, reshape, einsum, indexing, ...);
- `registry`: what a built-in is (`Builtin`, parameter kinds, binding, signature labels);
- `rules`: the built-ins' shape rules; `builtins`: the registry itself, `BUILTINS`.

This package imports neither `tl_core.check` nor `tl_core.runtime`, nor MLX (an
import-linter contract in pyproject.toml holds it to that). Nothing is imported here, so
`import tl_core.lang.keywords` stays as light as that module.
"""
