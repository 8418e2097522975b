"""Write model.safetensors beside this file: the seed's linear layer (W [3, 2], b [2]).

Run by `make run` before `tl run examples/quickstart/linear.tl`.
"""

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

HERE = Path(__file__).resolve().parent

weights = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], dtype=np.float16)
bias = np.array([0.01, 0.02], dtype=np.float16)

if __name__ == "__main__":
    out = HERE / "model.safetensors"
    save_file({"layer.0.weight": weights, "layer.0.bias": bias}, str(out),
              metadata={"description": "TensorLogic quick start: one linear layer"})
    print(f"wrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
