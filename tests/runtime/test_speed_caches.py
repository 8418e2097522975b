"""The interpreter's speed caches keep the language's meaning (issue 13): call-site binding
plans of built-ins, tensors of statements inside functions started in batches."""

from __future__ import annotations

import textwrap

import mlx.core as mx
import numpy as np

from tl_core.runtime import Session
from tl_core.runtime import interpreter as I


def run(src: str, session: Session | None = None):
    s = session or Session(device="cpu")
    r = s.run(textwrap.dedent(src))
    assert [d.message for d in r.errors if d.severity.value == "error"] == []
    return r


# -- built-in call plans ------------------------------------------------------------------


def test_one_call_site_calling_different_builtins_through_a_name():
    r = run("""\
        let x = tensor<float32>([-1.0, 2.0])
        for f in [relu, sigmoid, exp] { print(f(x)) }
        """)
    x = np.array([-1.0, 2.0], np.float32)
    lines = r.stdout.splitlines()
    for line, want in zip(lines, [np.maximum(x, 0), 1 / (1 + np.exp(-x)), np.exp(x)],
                          strict=True):
        got = [float(v) for v in line[line.index("[") + 1:line.index("]")].split(",")]
        np.testing.assert_allclose(got, want, rtol=1e-3)


def test_repeated_call_sites_with_keywords_variadics_and_receivers():
    r = run("""\
        let x = tensor<float32>([[1.0, 2.0], [3.0, 4.0]])
        for i in range(3) {
            print("step", i, sum(x, dim: i % 2), x.sum(dim: 0), end: ";")
        }
        """)
    assert r.stdout == (
        "step 0 tensor([4, 6], float32[2], cpu) tensor([4, 6], float32[2], cpu);"
        "step 1 tensor([3, 7], float32[2], cpu) tensor([4, 6], float32[2], cpu);"
        "step 2 tensor([4, 6], float32[2], cpu) tensor([4, 6], float32[2], cpu);")


def test_a_binding_error_is_reported_at_each_run_of_the_site():
    s = Session(device="cpu")
    for _ in range(2):
        r = s.run("let y = softmax(tensor<float32>([1.0]), nope: 1)")
        assert [d.message for d in r.errors][-1].startswith(
            "softmax() has no parameter named 'nope'")


def test_an_op_error_points_at_its_argument_through_the_plan():
    s = Session(device="cpu")
    r = s.run('let m = load_model("no/such/file.safetensors")')
    (d,) = [d for d in r.errors if d.severity.value == "error"]
    assert (d.span.line, d.span.col) == (0, 19)  # the path argument


def test_plans_table_starts_over_when_full(monkeypatch):
    monkeypatch.setattr(I, "_MAX_PLANS", 3)
    s = Session(device="cpu")
    r = run("""\
        let x = tensor<float32>([1.0, 4.0])
        print(sqrt(x), exp(x * 0.0), relu(x), abs(x), floor(x))
        """, s)
    assert r.stdout.startswith("tensor([1, 2], float32[2], cpu)")
    assert len(s.interpreter._plans) <= 3


# -- statements inside functions start their tensors in batches -----------------------------


def test_function_statements_are_started_in_batches_and_flushed_by_the_top_level(monkeypatch):
    batches: list[int] = []
    real = mx.async_eval

    def counting(*arrays):
        batches.append(len(arrays[0]) if len(arrays) == 1 and isinstance(arrays[0], list)
                       else len(arrays))
        return real(*arrays)

    monkeypatch.setattr(I.mx, "async_eval", counting)
    monkeypatch.setenv("TL_NO_COMPILE", "1")  # the body runs statement by statement
    s = Session(device="cpu")
    r = run("""\
        fn grow(x: float32[N], n: int) -> float32[N] {
            let acc = x
            for i in range(n) {
                acc = acc + x
            }
            return acc
        }
        let y = grow(tensor<float32>([1.0, 2.0]), 300)
        print(y)
        """, s)
    assert r.stdout == "tensor([301, 602], float32[2], cpu)\n"
    # 300 loop statements inside the function: batches of SETTLE_STATEMENTS, then the
    # top-level `let` starts the rest with its own value (graphs stay bounded in the loop)
    assert batches[:2] == [I.SETTLE_STATEMENTS, I.SETTLE_STATEMENTS]
    assert batches[2] == 301 - 2 * I.SETTLE_STATEMENTS + 1
    assert s.interpreter._pending == []


def test_large_tensors_inside_functions_are_started_by_bytes(monkeypatch):
    batches: list[int] = []
    real = mx.async_eval

    def counting(arrays):
        batches.append(len(arrays))
        return real(arrays)

    monkeypatch.setattr(I.mx, "async_eval", counting)
    monkeypatch.setattr(I, "SETTLE_BYTES", 3 * 4096 * 4)
    monkeypatch.setenv("TL_NO_COMPILE", "1")
    run("""\
        fn f(x: float32[N]) -> float32[N] {
            let a = x + 1.0
            let b = a + 1.0
            let c = b + 1.0
            let d = c + 1.0
            return d
        }
        let y = f(zeros([4096]) as float32)
        """)
    assert batches[0] == 3  # a, b, c reach the byte limit together


# -- functions compiled over their tensors, specialised on their constant arguments ---------

PROJECT = """\
fn project(x: float32[T, D], model: Model, p: string, scale: float) -> float32[T, O] {
    let w = model.get_tensor(p + "weight")
    return linear(x, w) * scale + len(x)
}
"""


def write_model(path, seed: int, big: float | None = None) -> dict[str, np.ndarray]:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    ws = {f"l{i}.weight": rng.standard_normal((3, 4)).astype(np.float32) for i in range(2)}
    if big is not None:
        ws["l0.weight"][0, 0] = big  # beyond float16: get_tensor warns
    save_file(ws, str(path))
    with np.errstate(over="ignore"):
        return {k: v.astype(np.float16).astype(np.float32) for k, v in ws.items()}


def values(s: Session, name: str) -> np.ndarray:
    return np.array(s.interpreter.globals.vars[name].astype(mx.float32))


def test_functions_with_model_string_and_float_parameters_are_compiled_per_constant(tmp_path):
    w = write_model(tmp_path / "m.safetensors", 0)
    s = Session(base_dir=tmp_path, device="cpu")
    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    run(PROJECT + f"""\
        let m = load_model("m.safetensors")
        let x = tensor<float32>({x.tolist()})
        let a = project(x, m, "l0.", 2.0)
        let b = project(x, m, "l1.", 2.0)
        let c = project(x, m, "l0.", -0.5)
        let d = project(x, m, "l0.", 2.0)
        """, s)  # each key's first call runs uncompiled, its second (d) traces
    info = s.interpreter.fns["project"]
    assert info.compiled is not None and len(info.compiled) == 3  # (l0, 2.0) (l1, 2.0) (l0, -0.5)
    assert info.compiled[next(iter(info.compiled))] is not I._FIRST  # (l0, 2.0) traced
    for name, p, scale in (("a", "l0.", 2.0), ("b", "l1.", 2.0), ("c", "l0.", -0.5),
                           ("d", "l0.", 2.0)):
        np.testing.assert_allclose(values(s, name), x @ w[p + "weight"].T * scale + 2,
                                   rtol=1e-5, atol=1e-5)


def test_shapes_changing_between_calls_are_traced_again(tmp_path):
    w = write_model(tmp_path / "m.safetensors", 1)
    s = Session(base_dir=tmp_path, device="cpu")
    run(PROJECT + """\
        let m = load_model("m.safetensors")
        let first = project(ones([3, 4]) as float32, m, "l0.", 1.0)
        let a = project(ones([2, 4]) as float32, m, "l0.", 1.0)
        let b = project(ones([5, 4]) as float32, m, "l0.", 1.0)
        """, s)
    assert len(s.interpreter.fns["project"].compiled) == 1
    np.testing.assert_allclose(values(s, "a"), np.ones((2, 4)) @ w["l0.weight"].T + 2, rtol=1e-5)
    np.testing.assert_allclose(values(s, "b"), np.ones((5, 4)) @ w["l0.weight"].T + 5, rtol=1e-5)


def test_a_reloaded_model_is_used_and_the_old_ones_traces_are_dropped(tmp_path):
    import gc

    w0 = write_model(tmp_path / "m.safetensors", 2)
    s = Session(base_dir=tmp_path, device="cpu")
    src = PROJECT + """\
        let m = load_model("m.safetensors")
        let y = project(ones([1, 4]) as float32, m, "l0.", 1.0)
        """
    run(src, s)
    np.testing.assert_allclose(values(s, "y"), np.ones((1, 4)) @ w0["l0.weight"].T + 1, rtol=1e-5)
    w1 = write_model(tmp_path / "m.safetensors", 3)  # the file changes: load it again
    from tl_core.models import clear_cache

    clear_cache()
    run(src, s)
    np.testing.assert_allclose(values(s, "y"), np.ones((1, 4)) @ w1["l0.weight"].T + 1, rtol=1e-5)
    gc.collect()
    assert len(s.interpreter.fns["project"].compiled) == 1  # the first model's went with it


def test_redefining_a_function_with_constant_parameters_traces_it_again(tmp_path):
    write_model(tmp_path / "m.safetensors", 4)
    s = Session(base_dir=tmp_path, device="cpu")
    call = ('let m = load_model("m.safetensors")\nlet y0 = f(ones([2]) as float32, 3)\n'
            'let y = f(ones([2]) as float32, 3)\n')  # the second call runs compiled
    run("fn f(x: float32[N], k: int) -> float32[N] { return x * k }\n" + call, s)
    np.testing.assert_array_equal(values(s, "y"), [3.0, 3.0])
    run("fn f(x: float32[N], k: int) -> float32[N] { return x + k }\n" + call, s)
    np.testing.assert_array_equal(values(s, "y"), [4.0, 4.0])


def test_impure_builtins_keep_functions_uncompiled():
    s = Session(device="cpu")
    r = run("""\
        fn noisy(x: float32[N], tag: string) -> float32[N] {
            print(tag)
            return x + 1.0
        }
        fn draw(x: float32[N], k: int) -> float32[N] { return x + randn([k]) as float32 }
        fn pick(x: float32[1, N], k: int) -> int { return temperature_sample(x, 0.0) + k }
        let a = noisy(ones([2]) as float32, "once")
        let b = noisy(ones([2]) as float32, "twice")
        seed(1)
        let r1 = draw(zeros([3]) as float32, 3)
        let r2 = draw(zeros([3]) as float32, 3)
        let i = pick(tensor<float32>([[0.0, 5.0, 1.0]]), 10)
        """, s)
    assert r.stdout == "once\ntwice\n"
    fns = s.interpreter.fns
    assert fns["noisy"].compiled is None and fns["draw"].compiled is None
    assert not np.array_equal(values(s, "r1"), values(s, "r2"))  # two draws, not one replayed
    assert s.interpreter.globals.vars["i"] == 11


def test_constants_changing_on_every_call_stop_compiling(monkeypatch):
    monkeypatch.setattr(I, "_MAX_TRACES", 4)
    s = Session(device="cpu")
    r = run("""\
        fn shift(x: float32[N], k: int) -> float32[N] { return x + k }
        let acc = zeros([2]) as float32
        for k in range(10) { acc = shift(acc, k) }
        print(acc)
        """, s)
    assert r.stdout == "tensor([45, 45], float32[2], cpu)\n"
    info = s.interpreter.fns["shift"]
    assert info.compilable is False and info.compiled is None


def test_warnings_of_a_compiled_body_repeat_on_every_call(tmp_path):
    write_model(tmp_path / "m.safetensors", 5, big=1e6)
    s = Session(base_dir=tmp_path, device="cpu")
    r = s.run(PROJECT + """\
let m = load_model("m.safetensors")
let a = project(ones([1, 4]) as float32, m, "l0.", 1.0)
let b = project(ones([1, 4]) as float32, m, "l0.", 1.0)
""")
    assert [d.message for d in r.errors] == [
        '1 value of "l0.weight" overflowed float16 and became inf'] * 2


def test_a_size_one_tensor_for_an_int_parameter_runs_uncompiled():
    s = Session(device="cpu")
    run("""\
        fn scale(x: float32[N], k: int) -> float32[N] { return x * k }
        let y = scale(ones([2]) as float32, tensor<int32>([3]))
        let z = scale(ones([2]) as float32, 4)
        """, s)
    np.testing.assert_array_equal(values(s, "y"), [3.0, 3.0])
    np.testing.assert_array_equal(values(s, "z"), [4.0, 4.0])
    assert s.interpreter.fns["scale"].compilable is True


def test_a_key_is_traced_on_its_second_call_over_loaded_tensors(tmp_path, monkeypatch):
    """A trace must capture the weights' data: a GGUF tensor's dequantization left in the
    graph ran again on every replay (SmolLM2 on the CPU decoded at half the speed). So a
    new key's first call runs uncompiled, and get_tensor evaluates what it loads."""
    write_model(tmp_path / "m.safetensors", 6)
    compiled: list[object] = []
    evaluated: list[object] = []
    real_compile, real_eval = mx.compile, mx.eval

    def counting_compile(fn):
        compiled.append(fn)
        return real_compile(fn)

    def recording_eval(*arrays):
        evaluated.extend(arrays)
        return real_eval(*arrays)

    monkeypatch.setattr(I.mx, "compile", counting_compile)
    monkeypatch.setattr(I.ops.mx, "eval", recording_eval)
    s = Session(base_dir=tmp_path, device="cpu")
    run(PROJECT + 'let m = load_model("m.safetensors")\n'
        'let a = project(ones([1, 4]) as float32, m, "l0.", 1.0)\n', s)
    assert compiled == []  # the first call ran the body
    model = s.interpreter.globals.vars["m"]
    assert any(x is model.loaded("l0.weight").array for x in evaluated)
    run('let b = project(ones([1, 4]) as float32, m, "l0.", 1.0)\n', s)
    assert len(compiled) == 1
