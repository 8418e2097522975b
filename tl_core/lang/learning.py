"""The `learn` block's vocabulary (UPSTREAM.md 19), shared by the checker
(tl_core/check/learn.py) and the training loop (tl_core/logic/learn.py): its fields, the
optimizers and schedulers with their arguments' defaults (the original's), and the
initialisations of a learnable relation (tl_core/logic/run.py)."""

from __future__ import annotations

FIELDS = ("objective", "optimizer", "epochs", "scheduler")
OPTIMIZERS: dict[str, dict[str, float]] = {
    "sgd": {"lr": 0.001, "momentum": 0.0, "weight_decay": 0.0},
    "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-3},
    "adamw": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-3, "weight_decay": 0.01},
}
SCHEDULERS: dict[str, dict[str, float | None]] = {
    "step": {"step_size": 10, "gamma": 0.1},
    "exponential": {"gamma": 0.95},
    "cosine": {"t_max": None, "eta_min": 0.0},  # t_max None: the number of epochs
}
INITS = ("random", "xavier", "he", "zeros", "ones")
