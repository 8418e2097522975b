"""The kernel: runs TensorLogic code for an editor (docs/kernel.md).

- `protocol`: the run contract (request and result shapes, every position conversion on the
  run path, the labels clients show), shared by the kernel and the language server;
- `process`: the kernel process (`python -m tl_core.kernel`), JSON lines on stdin/stdout;
- `worker`: the worker process that holds the documents' sessions and runs code.

Importing this package (or any of them) does not import MLX.
"""
