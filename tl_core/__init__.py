"""TensorLogic language core: syntax, models, checker, runtime. Imports nothing heavy.

`__version__` is the one version string of the tools: pyproject.toml reads it (a dynamic
version), `tl --version`, `tl-lsp --version`, the server's `serverInfo` and the kernel's
`ready` notification print it, and tests/test_version.py checks that the VS Code
extension's package.json agrees. This module imports nothing: `tl-lsp` reads the version
before it answers `initialize` (tl_lsp/fast_start.py), without the checker.
"""

__version__ = "0.1.0"
