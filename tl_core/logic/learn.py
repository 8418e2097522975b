"""`learn { statements  objective: e, optimizer: adam(lr: 0.01), epochs: 100, scheduler: ... }`.

Gradient descent on the program's learnable tensors (top-level `tensor W: ... learnable`
declarations), with MLX autograd (`mx.value_and_grad`) and `mlx.optimizers`, printing what
the original prints (UPSTREAM.md 19):

    === Learning Started ===, Optimizer: NAME, Epochs: N, `  k: v` per optimizer argument,
    the scheduler the same way; per parameter `Learnable parameter: W`, `  Shape: [..]`,
    `  Initial values: [..]`; per epoch `Epoch %3d/N: Loss = %.6f, Grad Norm: %.6f`, with
    `, W = [%.4f, ...]` (the first parameter's first value) on every tenth epoch and the
    last, and `, LR: %.6f` there when the rate has moved; then === Learning Completed ===
    and `Final Parameter Values:`.

Defaults are the original's: lr 0.001; adam and adamw with betas (0.9, 0.999), eps 1e-3 and
bias correction; adamw's weight decay 0.01; schedulers step(step_size: 10, gamma: 0.1),
exponential(gamma: 0.95), cosine(t_max: epochs, eta_min: 0), stepped once per epoch.
The statements run once before training and again in every epoch, inside the gradient.
Parameters train in float32 (a float16 declaration is computed in float16 and its float32
master copy is what the optimizer updates); the trained values are bound after the block.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

import mlx.core as mx

from tl_core.lang.learning import FIELDS, OPTIMIZERS, SCHEDULERS
from tl_core.runtime.env import Env
from tl_core.runtime.errors import TLRuntimeError
from tl_core.runtime.progress import is_terminal, terminal_bar
from tl_core.syntax import ast

if TYPE_CHECKING:
    from tl_core.runtime.context import RunContext


def run_learn(interp: RunContext, block: ast.LearnBlock, env: Env) -> None:
    fields: dict[str, ast.ConfigField] = {}
    stmts = []
    for x in block.items:
        if not isinstance(x, ast.ConfigField):
            stmts.append(x)
            continue
        if x.name not in FIELDS:
            raise TLRuntimeError(f"unknown learn field '{x.name}'; the fields are "
                                 f"{', '.join(FIELDS)}", x.name_span)
        if x.name in fields:
            raise TLRuntimeError(f"learn field '{x.name}' is given twice", x.name_span)
        fields[x.name] = x
    for need in ("objective", "optimizer", "epochs"):
        if need not in fields:
            raise TLRuntimeError(f"learn needs `{need}:` (fields: objective, optimizer, "
                                 f"epochs, and optionally scheduler)", block.span)
    epochs = interp.eval(fields["epochs"].value, env)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise TLRuntimeError(f"epochs must be a whole number >= 0, found "
                             f"{interp.format(epochs)}", fields["epochs"].value.span)
    opt_name, opt_args = _config_call(interp, fields["optimizer"].value, OPTIMIZERS,
                                      "optimizer", env)
    sched = None
    if "scheduler" in fields:
        sched = _config_call(interp, fields["scheduler"].value, SCHEDULERS, "scheduler", env)
    Trainer(interp, env, stmts, fields["objective"].value, epochs, opt_name, opt_args,
            sched, block.span).run()


def _config_call(interp: RunContext, e: Any, table: dict[str, dict[str, Any]], what: str,
                 env: Env) -> tuple[str, dict[str, Any]]:
    """`adam(lr: 0.01)` (or a bare `adam`) -> ("adam", {"lr": 0.01}) with the given
    arguments only; unknown names warn (the original ignores them)."""
    if isinstance(e, ast.Name):
        name, args = e.id, ()
    elif isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
        name, args = e.func.id, e.args
    else:
        raise TLRuntimeError(f"{what} must be one of {', '.join(table)}, e.g. "
                             f"{next(iter(table))}(...)", e.span)
    if name not in table:
        raise TLRuntimeError(f"unknown {what} '{name}'; expected one of {', '.join(table)}",
                             e.func.span if isinstance(e, ast.Call) else e.span)
    known = list(table[name])
    given: dict[str, Any] = {}
    for i, a in enumerate(args):
        key = a.name if a.name is not None else (known[i] if i < len(known) else None)
        value = interp.eval(a.value, env)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TLRuntimeError(f"{what} argument {key or i + 1} must be a number, found "
                                 f"{interp.format(value)}", a.value.span)
        if key not in table[name]:
            interp.warn(f"{name}() has no argument {key or i + 1}; it is ignored (known: "
                        f"{', '.join(known)})", a.name_span or a.span)
        given[key or str(i + 1)] = value
    return name, given


class Trainer:
    def __init__(self, interp: RunContext, env: Env, stmts: list[Any], objective: Any,
                 epochs: int, opt_name: str, opt_args: dict[str, Any],
                 sched: tuple[str, dict[str, Any]] | None, span: Any) -> None:
        self.interp, self.env, self.stmts, self.objective = interp, env, stmts, objective
        self.epochs, self.opt_name, self.opt_args, self.sched = epochs, opt_name, opt_args, sched
        self.span = span

    def run(self) -> None:
        interp = self.interp
        names = [n for n, q in interp.trainable.items() if q]
        if not names:
            raise TLRuntimeError("learn has no learnable tensor to train; declare one at the "
                                 "top level, e.g. `tensor W: float32[2, 2] learnable = "
                                 "randn([2, 2])`", self.span)
        dtypes: dict[str, Any] = {}
        masters: dict[str, Any] = {}
        for n in names:
            found, v = interp.globals.lookup(n)
            if not found or not isinstance(v, mx.array) or not mx.issubdtype(v.dtype,
                                                                             mx.floating):
                raise TLRuntimeError(f"learnable {n} must be a float tensor, found "
                                     f"{interp.format(v) if found else 'nothing'}", self.span)
            dtypes[n] = v.dtype
            masters[n] = v.astype(mx.float32)
        lr0 = float(self.opt_args.get("lr", OPTIMIZERS[self.opt_name]["lr"]))
        schedule = self.schedule(lr0)
        optimizer = self.optimizer(schedule or lr0)
        w = interp.write
        w("\n=== Learning Started ===\n")
        w(f"Optimizer: {self.opt_name}\nEpochs: {self.epochs}\n")
        for k, v in self.opt_args.items():
            w(f"  {k}: {interp.format(v)}\n")
        if self.sched is not None:
            w(f"Scheduler: {self.sched[0]}\n")
            for k, v in self.sched[1].items():
                w(f"  {k}: {interp.format(v)}\n")
        for n in names:
            w(f"\nLearnable parameter: {n}\n  Shape: {list(masters[n].shape)}\n"
              f"  Initial values: {_head(masters[n])}\n")

        scope = self.bind(masters, dtypes)
        for s in self.stmts:  # once before training, as in the original
            interp.exec_stmt(s, scope)
        grad_fn = mx.value_and_grad(lambda p: self.loss(p, dtypes))
        first = names[0]
        bar = self.bar()
        for e in range(self.epochs):
            interp.check_interrupt(self.span)
            lr = float(schedule(mx.array(e)).item()) if schedule is not None else lr0
            loss, grads = grad_fn(masters)
            norm = math.sqrt(sum(float(mx.sum(g.astype(mx.float32) ** 2).item())
                                 for g in grads.values()))
            line = f"Epoch {e + 1:3d}/{self.epochs}: Loss = {float(loss.item()):.6f}"
            if math.isfinite(norm):
                masters = optimizer.apply_gradients(grads, masters)
                mx.eval(masters, optimizer.state)
                line += f", Grad Norm: {norm:.6f}"
            else:
                line += " [Note: Gradient computation failed - the gradient is not finite]"
            if e % 10 == 0 or e == self.epochs - 1:
                value = masters[first].reshape(-1)
                more = ", ..." if value.size > 1 else ""
                line += f", {first} = [{float(value[0].item()):.4f}{more}]"
                if e > 0 and abs(lr - lr0) > 1e-6:
                    line += f", LR: {lr:.6f}"
            w(line + "\n")
            if bar is not None:
                bar.set_postfix_str(f"loss {float(loss.item()):.6f}", refresh=False)
                bar.update()
            if interp.on_progress is not None:
                interp.on_progress("learn", e + 1, self.epochs, f"epoch {e + 1}/{self.epochs}: "
                                                                f"loss {float(loss.item()):.6f}")
        if bar is not None:
            bar.close()
        for n in names:
            interp.globals.vars[n] = masters[n].astype(dtypes[n])
        w("\n=== Learning Completed ===\n\nFinal Parameter Values:\n")
        for n in names:
            w(f"  {n}: {_head(masters[n])}\n")

    def bar(self) -> Any:
        """An epoch bar with the loss on stderr, for `tl run` on a terminal; else None."""
        if not self.interp.progress or not is_terminal(sys.stderr) or self.epochs < 2:
            return None
        return terminal_bar(sys.stderr, total=self.epochs, desc="learn", unit="epoch",
                            leave=False)

    def bind(self, params: dict[str, Any], dtypes: dict[str, Any]) -> Env:
        """Bind the parameters (as declared) where the program sees them; a fresh scope."""
        for n, v in params.items():
            self.interp.globals.vars[n] = v.astype(dtypes[n])
        return Env(self.env)

    def loss(self, params: dict[str, Any], dtypes: dict[str, Any]) -> Any:
        interp = self.interp
        scope = self.bind(params, dtypes)
        interp.tracing += 1
        try:
            for s in self.stmts:
                interp.exec_stmt(s, scope)
            value = interp.eval(self.objective, scope)
        finally:
            interp.tracing -= 1
        if not isinstance(value, mx.array) or value.size != 1:
            found = (f"{value.dtype}{list(value.shape)}".replace("mlx.core.", "")
                     if isinstance(value, mx.array) else interp.format(value))
            raise TLRuntimeError(f"the objective must be a tensor with one element (the "
                                 f"loss), found {found}; reduce it, e.g. with mean(...)",
                                 self.objective.span)
        return value.reshape(()).astype(mx.float32)

    def optimizer(self, lr: Any) -> Any:
        import mlx.optimizers as optim  # lazy: 20+ ms (mlx.nn) paid only by a learn block

        a = {**OPTIMIZERS[self.opt_name], **self.opt_args}
        if self.opt_name == "sgd":
            return optim.SGD(lr, momentum=a["momentum"], weight_decay=a["weight_decay"])
        betas = [a["beta1"], a["beta2"]]
        if self.opt_name == "adam":
            return optim.Adam(lr, betas=betas, eps=a["eps"], bias_correction=True)
        return optim.AdamW(lr, betas=betas, eps=a["eps"], weight_decay=a["weight_decay"],
                           bias_correction=True)

    def schedule(self, lr0: float) -> Any:
        import mlx.optimizers as optim  # lazy: as in `optimizer`

        if self.sched is None:
            return None
        name, given = self.sched
        a = {**SCHEDULERS[name], **given}
        if name == "step":
            return optim.step_decay(lr0, a["gamma"], int(a["step_size"]))
        if name == "exponential":
            return optim.exponential_decay(lr0, a["gamma"])
        t_max = int(a["t_max"] or self.epochs or 1)
        cosine = optim.cosine_decay(lr0, t_max, a["eta_min"])
        return lambda step: cosine(step % t_max)


def _head(t: Any) -> str:
    """The first min(5, dim 0) values, as the original prints a parameter."""
    flat = t.reshape(-1)
    k = min(5, t.shape[0] if t.ndim else 1)
    return "[" + ", ".join(f"{float(x):.4f}" for x in flat[:k].tolist()) + "]"
