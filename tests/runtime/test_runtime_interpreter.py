"""The interpreter on whole programs, through `Session` (stdout, values, errors)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import mlx.core as mx
import numpy as np

from tests.syntax.test_syntax_examples import SEED_LINEAR
from tl_core.runtime import Session

SEED = SEED_LINEAR  # LANGUAGE.md section 9, verbatim

SEED_OUT = """\
Output shape: [4, 2]
Output: tensor([[ 2.209,   2.82],
        [  4.91,  6.418],
        [ 7.613,  10.02],
        [10.305, 13.625]], float16[4, 2], cpu)
"""


def run(src: str, base: Path | None = None, session: Session | None = None):
    s = session or Session(base_dir=base, device="cpu")
    return s.run(textwrap.dedent(src))


def errors(r) -> list[tuple[int, int, str]]:
    return [(d.span.line, d.span.col, d.message) for d in r.errors
            if d.severity.value == "error"]


def warnings(r) -> list[str]:
    return [d.message for d in r.errors if d.severity.value == "warning"]


def test_seed_program_prints_shape_and_values():
    r = run(SEED)
    assert errors(r) == []
    assert r.stdout == SEED_OUT
    assert r.device == "cpu"


def test_seed_gpu_request_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr("tl_core.runtime.interpreter.gpu_available", lambda: False)
    r = run(SEED)
    assert warnings(r) == ["device gpu is not available (MLX found no GPU on this machine); "
                           "running on the CPU"]
    w = [d for d in r.errors if d.severity.value == "warning"][0]
    assert (w.span.line, w.span.col) == (13, 11)  # the first `gpu` of the program


def test_shape_variable_conflict_points_at_the_argument():
    src = SEED.replace("let b = tensor<float16>([0.01, 0.02], device: gpu)",
                       "let b = tensor<float16>([0.01, 0.02, 0.03], device: gpu)")
    r = run(src)
    assert errors(r) == [(20, 27, "forward(): shape variable D_out is 2 from argument 'weights' "
                                  "(float16[3, 2]) but 3 from argument 'bias' (float16[3])")]
    (related,) = r.errors[-1].related
    assert (related.span.line, related.span.col, related.message) == (20, 24,
                                                                      "D_out = 2 bound here")
    assert r.stdout == ""


def test_rank_mismatch_and_return_check():
    r = run("""
        fn f(x: float16[N, M]) -> float16[N] { return x }
        let y = f(ones([2, 3]))
    """)
    assert errors(r) == [(2, 8, "f() is declared to return float16[N] but returned "
                                "float16[2, 3] (N=2, M=3)")]
    r = run("""
        fn f(x: float16[N, M]) -> float16[N] { return sum(x, dim: 1) }
        f(ones([4]))
    """)
    assert errors(r) == [(2, 2, "f(): argument 'x' must be float16[N, M] (2 dimensions); "
                                "found float16[4] (1 dimension)")]
    r = run("""
        fn g(x: float16[2, M], n: int) -> float16[M] { return x[0] }
        g(ones([3, 4]), 1)
        g(ones([2, 4]), 1.5)
        g(ones([2, 4]))
        g(ones([2, 4]), 1, 2)
    """)
    assert errors(r) == [(2, 2, "g(): argument 'x' must be float16[2, M]; found float16[3, 4] "
                                "(dimension 0 is 3, not 2)")]
    assert errors(run("fn g(n: int) -> int { return n }\ng(1.5)")) == [
        (1, 2, "g(): argument 'n' must be int; found float")]
    assert errors(run("fn g(a: int, b: int) -> int { return a }\ng(1)")) == [
        (1, 0, "g() takes 2 arguments but 1 was given; missing 'b'")]
    assert errors(run("fn g(a: int) -> int { return a }\ng(1, 2, 3)")) == [
        (1, 5, "g() takes 1 argument but 3 were given")]


def test_matmul_error_message_and_range():
    r = run("""
        let a = ones([4, 3])
        let b = ones([2, 3])
        let c = a @ b
    """)
    assert errors(r) == [(3, 8, "float16[4, 3] @ float16[2, 3]: inner dimensions 3 and 2 "
                                "differ; did you mean transpose(b)?")]


def test_runtime_failures_read_like_the_checker():
    """On failure the built-in's shape rule (tl_core.check) words the message."""
    cases = {
        "let a = ones([4, 3])\nlet d = linear(a, ones([3, 2]))":
            (1, 18, "linear: x is float16[4, 3] but ones([3, 2]) is float16[3, 2]; W must be "
                    "[out, in] with in = 3 (PyTorch nn.Linear convention); ones([3, 2]) looks "
                    "like [in, out]; did you mean a @ ones([3, 2])?"),
        "let a = ones([4, 3])\nlet e = a + ones([2, 3])":
            (1, 8, "float16[4, 3] + float16[2, 3]: dimensions 4 and 2 cannot be broadcast "
                   "together"),
        "let a = ones([4, 3])\nlet g = softmax(a, dim: 2)":
            (1, 24, "dim 2 is out of range for float16[4, 3] (2 dimensions); valid: -2 to 1"),
        "let a = ones([4, 3])\nlet f = reshape(a, [5, 2])":
            (1, 19, "cannot reshape float16[4, 3] (12 elements) to [5, 2] (10 elements)"),
        "let a = ones([4, 3])\nlet h = a.sum(dim: 5)":
            (1, 19, "dim 5 is out of range for float16[4, 3] (2 dimensions); valid: -2 to 1"),
        "let a = ones([4, 3])\na[0, 1, 2]":
            (1, 0, "float16[4, 3] has 2 dimensions but 3 indices were given"),
    }
    for src, want in cases.items():
        assert errors(run(src)) == [want], src


def test_value_of_last_expression():
    r = run("let a = ones([2, 2])\na * 3.0\n")
    assert r.value is not None
    assert (r.value.kind, r.value.shape, r.value.dtype, r.value.device, r.value.line) == \
        ("tensor", (2, 2), "float16", "cpu", 1)
    assert r.value.text == "[[3, 3],\n [3, 3]]"
    assert run("let a = 1").value is None
    v = run("1 + 2").value
    assert (v.kind, v.text) == ("int", "3")


def test_control_flow():
    r = run("""
        let total = 0
        for i in range(10) {
            if i == 3 { continue }
            if i > 6 { break }
            total = total + i
        }
        print("for:", total)
        let n = 0
        while n < 5 { n = n + 2 }
        print("while:", n)
        let k = 0
        loop {
            k = k + 1
            if k >= 4 { break } else if k == 100 { print("never") } else { }
        }
        print("loop:", k)
        main {
            let msg = match k { 1 | 2 => "small", 4 if true => "four", _ => "other" }
            print("match:", msg)
        }
        // a tensor iterates its elements, flattened, as numbers (the original's rule)
        for v in tensor<float16>([[1.0, 2.5], [3.0, 4.0]]) { print(v * 2) }
    """)
    assert errors(r) == []
    assert r.stdout == ("for: 18\nwhile: 6\nloop: 4\nmatch: four\n"
                        f"{2 * 1.0:g}\n{2 * 2.5:g}\n{2 * 3.0:g}\n{2 * 4.0:g}\n")


def test_functions_recursion_kwargs_and_implicit_return():
    r = run("""
        fn fact(n: int) -> int {
            if n <= 1 { return 1 }
            return n * fact(n - 1)
        }
        fn scale(x: float16[N], by: float) -> float16[N] { x * by }
        print(fact(5), later(2))
        print(scale(by: 2.0, x: ones([2])))
        fn later(a: int) -> int { return a + 1 }
    """)
    assert errors(r) == []
    assert r.stdout == "120 3\ntensor([2, 2], float16[2], cpu)\n"


def test_builtin_keyword_arguments_and_bind_errors():
    r = run("""
        let x = tensor<float16>([[1.0, 2.0], [3.0, 4.0]])
        print(sum(x, dim: 0), sum(x, dim = -1, keepdim: true).shape)
        softmax(x, axis: 0)
    """)
    assert r.stdout == "tensor([4, 6], float16[2], cpu) [2, 1]\n"
    assert errors(r) == [(3, 11, "softmax() has no parameter named 'axis'; parameters: x, dim")]
    r = run("let y = reshape(ones([4]))")
    assert errors(r) == [(0, 8, "reshape() missing required argument 'shape'; signature: "
                                "reshape(x: tensor, shape: shape) -> tensor")]


def test_indexing_slicing_gather():
    r = run("""
        let e = tensor<float16>([[0.0, 1.0], [10.0, 11.0], [20.0, 21.0], [30.0, 31.0]])
        print(e[1, :], e[-1, 0], e[1:3].shape, e[:, 1], e[::2, :].shape)
        let ids = tensor<int>([3, 0, 3], device: gpu)
        print(e[ids, :])
        print(embedding(e, ids).shape, e.T.shape, e.shape[0])
        let xs = [1, 2, 3]
        print(xs[-1], len(xs))
        e[4, 0]
    """)
    assert r.stdout.splitlines()[0] == ("tensor([10, 11], float16[2], cpu) tensor(30, "
                                        "float16[], cpu) [2, 2] tensor([ 1, 11, 21, 31], "
                                        "float16[4], cpu) [2, 2]")
    assert "tensor([[30, 31],\n        [ 0,  1],\n        [30, 31]], float16[3, 2], cpu)" \
        in r.stdout
    assert "[3, 2] [2, 4] 4\n3 3\n" in r.stdout
    assert errors(r) == [(8, 2, "index 4 is out of range for dimension 0 of float16[4, 2] "
                                "(size 4)")]
    r = run("let e = tensor<float16>([[1.0], [2.0], [3.0]])\ne[tensor<int>([-1, 0]), 0]")
    assert r.value.text == "[3, 1]"
    assert errors(run("let e = ones([3])\ne[e > 0.0]")) == [
        (1, 2, "indices must be integers (tensor<int>(...)), found bool[3]; a boolean mask "
               "cannot index (the result's shape would depend on the values): multiply by the "
               "mask instead")]
    r = run("let e = ones([3, 2])\ne[tensor<float16>([1.0]), :]")
    assert errors(r) == [(1, 2, "indices must be integers (tensor<int>(...)), found "
                                "float16[1]")]


def test_index_assignment_and_shadowing():
    r = run("""
        let t = zeros([2, 3])
        t[1, 2] = 5.0
        let t = t + 1.0
        print(t)
        { let inner = 1 }
        inner
    """)
    assert r.stdout == "tensor([[1, 1, 1],\n        [1, 1, 6]], float16[2, 3], cpu)\n"
    assert errors(r) == [(6, 0, "undefined name 'inner'")]


def test_ragged_literal_points_at_row():
    r = run("let t = tensor<float16>([[1.0, 2.0], [3.0]])")
    assert errors(r) == [(0, 37, "ragged tensor literal: row 2 has 1 element, the first row "
                                 "has 2")]


def test_print_abbreviates_like_numpy():
    r = run("print(zeros([100, 100]))")
    assert r.stdout.startswith("tensor([[0, 0, 0, ..., 0, 0, 0],")
    assert r.stdout.endswith("float16[100, 100], cpu)\n")
    assert r.stdout.count("\n") == 7


def test_assert_and_assert_eq_and_panic():
    assert errors(run('assert(1 > 2, "math is broken")')) == [
        (0, 0, "assertion failed: math is broken")]
    assert errors(run("assert_eq(ones([2]), zeros([2]))"))[0][2].startswith(
        "assert_eq: tensors differ: tensor([1, 1], float16[2], cpu) vs "
        "tensor([0, 0], float16[2], cpu)")
    assert errors(run('panic("bad {} and {}", 1, "x")')) == [(0, 0, "panic: bad 1 and x")]
    assert errors(run("assert_eq(ones([2]), ones([2]))\nassert(true)")) == []


def test_casts_and_scalars():
    r = run("""
        let x = tensor<float16>([1.5, 2.5]) as float32
        print(x.dtype, 7 / 2, 7 % 3, 2 ** 10, (3.9 as int), "a" + "b", !true, -x)
    """)
    assert errors(r) == []
    assert r.stdout == ("float32 3 1 1024 3 ab false tensor([-1.5, -2.5], float32[2], "
                        "cpu)\n")


def test_integer_division_truncates_and_remainder_takes_the_left_sign():
    """UPSTREAM.md 6.1: Rust's i64 `/` and `%`, f64 `%` (C fmod)."""
    import math

    pairs = [(7, 2), (-7, 2), (7, -2), (-7, -2), (-7, 3), (6, 3), (0, 5)]
    src = "\n".join(f"print({a} / {b}, {a} % {b})" for a, b in pairs)
    src += "\nprint(7.5 % -2.0, -7.5 % 2.0, 7 / 2.0)"
    r = run(src)
    assert errors(r) == []
    want = [f"{int(a / b)} {a - b * int(a / b)}" for a, b in pairs]
    want.append(f"{math.fmod(7.5, -2.0)} {math.fmod(-7.5, 2.0)} {7 / 2.0}")
    assert r.stdout.splitlines() == want
    assert [e[2] for e in errors(run("print(1 / 0)"))] == ["division by zero (1 / 0)"]
    # an int to a negative int power is no int: an error (the checker does not fold it)
    from tl_core.check.checker import Checker

    assert Checker.fold("**", 2, -1, "int") is None
    assert [e[2] for e in errors(run("print(2 ** -1)"))] == [
        "2 ** -1: an int raised to a negative int is not an int; write 2.0 ** -1 for a float"]
    assert run("print(2.0 ** -1)").stdout == "0.5\n"


def test_string_repetition_agrees_with_the_checker():
    from tl_core.check import analyze

    src = 'let line = "=" * 7\nprint(line, 3 * "ab", "x" * 0)'
    assert [d.message for d in analyze(src).diagnostics] == []
    r = run(src)
    assert errors(r) == [] and r.stdout == "======= ababab \n"


def test_unsupported_constructs_stop_at_their_range():
    cases = {
        "let c = Cache::new_f32(22)": "undefined struct 'Cache'",
    }
    for src, message in cases.items():
        r = run('print("before")\n' + src + '\nprint("after")')
        assert r.stdout == "before\n", src
        errs = errors(r)
        assert len(errs) == 1 and errs[0][2] == message, (src, errs)
        assert errs[0][0] == 1


def test_associated_calls_on_builtin_namespaces():
    r = run("let a = f32::ones([2, 3])\nprint(a.dtype, a.shape)")
    assert r.stdout == "float32 [2, 3]\n"


def test_undefined_name_suggests():
    assert errors(run("let weights = 1\nweigths + 1")) == [
        (1, 0, "undefined name 'weigths'; did you mean weights?")]


def test_models_relative_paths_metadata_save_and_overflow(tmp_path):
    from safetensors.numpy import save_file

    (tmp_path / "m").mkdir()
    save_file({"layer.0.weight": np.array([[1.0, 2.0], [3.0, 1e6]], dtype=np.float32),
               "layer.0.bias": np.array([0.5, 0.25], dtype=np.float32)},
              str(tmp_path / "m" / "model.safetensors"))
    r = run("""
        model = load_model("m/model.safetensors")
        print(model.names(), model.metadata.format, len(model.names()))
        let w = model.get_tensor("layer.0.weight")
        let b = get_tensor(model, "layer.0.bias")
        print(w, b)
        let m2 = model_from("layer.0.weight": w * 0.5, "layer.0.bias": b)
        save_model(m2, "out.safetensors")
        let again = load_model("out.safetensors")
        print(again.get_tensor("layer.0.bias"))
        model.get_tensor("layer.0.weights")
    """, base=tmp_path)
    lines = r.stdout.splitlines()
    assert lines[0] == '["layer.0.bias", "layer.0.weight"] safetensors 2'  # file order
    assert "inf" in lines[1] + lines[2]
    assert lines[-1] == "tensor([ 0.5, 0.25], float16[2], cpu)"
    assert warnings(r) == ['1 value of "layer.0.weight" overflowed float16 and became inf']
    assert errors(r) == [(10, 17, 'no tensor named "layer.0.weights" in the model (2 tensors); '
                                  'did you mean "layer.0.weight"?')]
    assert (tmp_path / "out.safetensors").is_file()


def test_load_model_missing_file_is_an_error_at_the_call(tmp_path):
    r = run('let m = load_model("nope.safetensors")', base=tmp_path)
    (line, col, message), = errors(r)
    assert (line, col) == (0, 19)
    assert "nope.safetensors" in message


def test_compiled_and_uncompiled_paths_agree(monkeypatch):
    src = """
        fn block(x: float16[N, D], w: float16[D, D]) -> float16[N, D] {
            let h = x @ w
            let g = gelu(h) * sigmoid(h) + tanh(h) / 3.0
            return softmax(g, dim: -1) + exp(-abs(h))
        }
        let x = randn([8, 16])
        let w = randn([16, 16]) * 0.3
        let first = block(x, w)
        let y = block(x, w)
    """
    s = Session(device="cpu")
    assert errors(s.run(textwrap.dedent(src))) == []
    interp = s.interpreter
    assert interp.compile and interp.fns["block"].compiled is not None
    x, w, y = (interp.globals.vars[k] for k in ("x", "w", "y"))
    interp.compile = False
    plain = interp.run_body(interp.fns["block"], [x, w])
    assert mx.allclose(y.astype(mx.float32), plain.astype(mx.float32), rtol=2e-3,
                       atol=2e-3).item()
    monkeypatch.setenv("TL_NO_COMPILE", "1")
    s2 = Session(device="cpu")
    assert errors(s2.run(textwrap.dedent(src))) == []
    assert not s2.interpreter.compile
    assert s2.interpreter.fns["block"].compiled is None


def test_impure_functions_are_not_compiled():
    s = Session(device="cpu")
    r = s.run(textwrap.dedent("""
        fn noisy(x: float16[N]) -> float16[N] {
            print("called")
            return x + 1.0
        }
        fn uses_global(x: float16[N]) -> float16[N] { return x + g }
        let g = ones([2])
        noisy(ones([2]))
        noisy(ones([2]))
        uses_global(ones([2]))
    """))
    assert r.stdout == "called\ncalled\n"
    assert s.interpreter.fns["noisy"].compiled is None
    assert s.interpreter.fns["uses_global"].compiled is None
    assert r.value.text == "[2, 2]"


def test_errors_inside_compiled_functions_point_into_the_body():
    r = run("""
        fn f(a: float16[N, M], b: float16[K, L]) -> float16[N, L] {
            return a @ b
        }
        f(ones([2, 3]), ones([4, 5]))
    """)
    assert errors(r) == [(2, 11, "float16[2, 3] @ float16[4, 5]: inner dimensions 3 and 4 "
                                 "differ")]


def test_imports_bring_functions_and_tensor_declarations(tmp_path):
    (tmp_path / "lib.tl").write_text(
        "fn double(x: float16[N]) -> float16[N] { return x * 2.0 }\n"
        "tensor bias: float16[2] = [1.0, 2.0]\n")
    r = run('import "lib.tl"\nprint(double(bias))', base=tmp_path)
    assert errors(r) == []
    assert r.stdout == "tensor([2, 4], float16[2], cpu)\n"
    r = run('import "missing.tl"', base=tmp_path)
    assert errors(r)[0][2].startswith('cannot import "missing.tl": no such file')


def test_an_import_cycle_is_an_error_in_checker_and_runtime(tmp_path):
    from tl_core.check import analyze

    (tmp_path / "a.tl").write_text('import "b.tl"\nfn fa() -> int { return 1 }\n')
    (tmp_path / "b.tl").write_text('import "a.tl"\nfn fb() -> int { return 2 }\n')
    main = tmp_path / "main.tl"
    src = 'import "a.tl"\nprint(fa())'
    main.write_text(src)
    checked = [d.message for d in analyze(src, str(main)).diagnostics]
    assert checked == ["import cycle: main.tl -> a.tl -> b.tl -> a.tl"]
    # the runtime words it as the checker does, at the same import
    r = Session(tmp_path, "cpu", path=main).run(src)
    assert errors(r) == [(0, 7, "import cycle: main.tl -> a.tl -> b.tl -> a.tl")]
    assert r.stdout == ""
    r = run(src, base=tmp_path)  # a document without a file: the cycle among the imports
    assert errors(r) == [(0, 7, "import cycle: <this file> -> a.tl -> b.tl -> a.tl")]


def test_tensor_declaration_checks_its_type():
    r = run("tensor w: float16[2, 3] learnable = ones([4, 2])")
    assert errors(r) == [(0, 36, "tensor w: float16[2, 3] does not match its value "
                                 "float16[4, 2]")]
    # the same number of elements: reshaped to the declared shape (UPSTREAM.md 3.6)
    r = run("tensor w: float16[2, 3] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]\nprint(w.shape, w[1, 0])")
    assert errors(r) == []
    want = np.arange(1.0, 7.0).reshape(2, 3)
    assert r.stdout == f"[2, 3] tensor({want[1, 0]:.0f}, float16[], cpu)\n"
    r = run("tensor w: float32[2] = [1, 2]\nprint(w)")
    assert r.stdout == "tensor([1, 2], float32[2], cpu)\n"


def test_language_md_section_9_first_snippet_verbatim(tmp_path):
    """The model snippet of LANGUAGE.md section 9, on small files at those paths."""
    import gguf
    from safetensors.numpy import save_file

    (tmp_path / "path" / "to").mkdir(parents=True)
    w = np.arange(64, dtype=np.float32).reshape(2, 32) / 64
    b = np.array([0.5, -0.5], dtype=np.float32)
    save_file({"layer.0.weight": w, "layer.0.bias": b},
              str(tmp_path / "path/to/model.safetensors"))
    g = gguf.GGUFWriter(str(tmp_path / "path/to/llama-7b-q4.gguf"), "llama")
    g.add_tensor("layer.0.weight", gguf.quants.quantize(w, gguf.GGMLQuantizationType.Q4_1),
                 raw_dtype=gguf.GGMLQuantizationType.Q4_1)
    g.add_tensor("layer.0.bias", b)
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()
    snippet = """\
model = load_model("path/to/model.safetensors")
model = load_model("path/to/llama-7b-q4.gguf")
weights = model.get_tensor("layer.0.weight")
bias = model.get_tensor("layer.0.bias")
save_model(model, "output.safetensors")
print(model.metadata.format, weights.shape, bias)
"""
    r = run(snippet, base=tmp_path)
    assert errors(r) == []
    assert r.stdout == "gguf [2, 32] tensor([ 0.5, -0.5], float16[2], cpu)\n"
    from safetensors.numpy import load_file

    saved = load_file(str(tmp_path / "output.safetensors"))
    assert saved["layer.0.bias"].dtype == np.float16
    assert saved["layer.0.weight"].shape == (2, 32)


def test_save_model_to_gguf_is_an_error(tmp_path):
    r = run('let m = model_from(w: ones([2]))\nsave_model(m, "out.gguf")', base=tmp_path)
    (line, col, message), = errors(r)
    assert line == 1 and "gguf" in message.lower()


def test_a_load_bar_advances_with_the_loaders_chunks(tmp_path, monkeypatch):
    """A large tensor advances the model's bar as the loader converts chunks (no second
    read) and the bar ends at the model's size, erased; a small tensor gets no chunk callback
    and advances the bar once loaded."""
    import io

    from safetensors.numpy import save_file

    from tl_core.models import load_model, reading
    from tl_core.runtime import progress

    values = np.arange(256 * 256, dtype=np.float32).reshape(256, 256) / 7
    save_file({"big": values, "small": values[:2]}, str(tmp_path / "m.safetensors"))
    model = load_model(tmp_path / "m.safetensors")
    monkeypatch.setattr(progress, "MIN_BYTES", 1024 * 8)
    monkeypatch.setattr(reading, "CHUNK_ELEMENTS", 8192)
    monkeypatch.setenv("TL_PROGRESS_DELAY", "0")
    out = io.StringIO()
    bar = progress.LoadProgress("m.safetensors", values.nbytes + 2048, stream=out)
    seen: list[int] = []
    with bar.tensor(values.nbytes) as chunk:
        loaded = model.get_tensor("big", progress=lambda n: (seen.append(n), chunk(n)))
    assert seen == [8192 * 4] * 8 and bar.done == values.nbytes and not bar.finished
    np.testing.assert_array_equal(np.array(loaded.array), values.astype(np.float16))
    with bar.tensor(2048) as chunk:
        assert chunk is None
        model.get_tensor("small")
    assert bar.finished
    text = out.getvalue()
    assert text.startswith("\rloading m.safetensors:") and "258k" in text
    assert text.endswith("\r")  # erased once every byte loaded
    assert not progress.is_terminal(out)


def _many_tensors(path: Path, n: int = 300) -> int:
    """A SafeTensors model of `n` small tensors (64 KiB each, 18.75 MiB together, more than
    progress.MIN_BYTES); returns its data bytes."""
    from safetensors.numpy import save_file

    save_file({f"layers.{i}.weight": np.full((64, 256), i, np.float32) for i in range(n)},
              str(path))
    return n * 64 * 256 * 4


MANY = ('let m = load_model("many.safetensors")\nfor name in names(m) {\n'
        '  let t = get_tensor(m, name)\n}\nprint(len(names(m)))\n')


def test_a_model_of_many_small_tensors_reports_one_progress_to_an_editor(tmp_path, monkeypatch):
    """Without a terminal, a run given `on_progress` (the kernel's) sees the model's loaded
    bytes as `loading` reports, one growing count for the whole model, once the loads have
    taken TL_PROGRESS_DELAY seconds."""
    from tl_core.runtime import Session

    total = _many_tensors(tmp_path / "many.safetensors")

    def reports(delay: str) -> list[tuple]:
        monkeypatch.setenv("TL_PROGRESS_DELAY", delay)
        seen: list[tuple] = []
        r = Session(base_dir=tmp_path, device="cpu").run(MANY, on_progress=lambda *a: seen.append(a))
        assert [d.message for d in r.errors] == [] and r.stdout == "300\n"
        return seen

    assert reports("60") == []  # loaded before the delay
    seen = reports("0")
    assert [s[1] for s in seen] == [65536 * k for k in range(1, 301)]
    assert {(s[0], s[2]) for s in seen} == {("loading", total)}
    assert seen[0][3] == "many.safetensors 64.0 KiB of 18.8 MiB"
    assert seen[-1][3] == "many.safetensors 18.8 MiB of 18.8 MiB"


def test_tensors_loaded_before_are_not_in_a_later_bar(tmp_path, monkeypatch):
    """A bar covers what is left to load: printing erases it, and the next load's bar counts
    only the tensors not loaded yet."""
    from tl_core.runtime import Session

    total = _many_tensors(tmp_path / "many.safetensors", 260)
    monkeypatch.setenv("TL_PROGRESS_DELAY", "0")
    seen: list[tuple] = []
    src = ('let m = load_model("many.safetensors")\nlet a = get_tensor(m, "layers.0.weight")\n'
           'print(1)\nlet b = get_tensor(m, "layers.1.weight")\n')
    r = Session(base_dir=tmp_path, device="cpu").run(src, on_progress=lambda *a: seen.append(a))
    assert r.errors == () and r.stdout == "1\n"
    assert [s[1:3] for s in seen] == [(65536, total), (65536, total - 65536)]


def test_return_break_continue_outside_their_place():
    assert errors(run("return 1")) == [(0, 0, "return outside a function")]
    assert errors(run("if true { break }")) == [(0, 0, "break or continue outside a loop")]
    assert errors(run("main { continue }")) == [(0, 0, "break or continue outside a loop")]


def test_fast_call_path_converts_and_reports_like_the_full_path():
    src = "fn f(x: float16[N], y: float16[N]) -> float16[N] { return x + y }\n"
    r = run(src + "f([1.0, 2.0], ones([2]))")
    assert r.value.text == "[2, 3]"
    assert errors(run(src + "f(tensor<int>([1, 2]), ones([2]))")) == [
        (1, 2, "f(): argument 'x' must be float16[N]; found int64[2]")]
    assert errors(run(src + "f(ones([2]), ones([3]))")) == [
        (1, 13, "f(): shape variable N is 2 from argument 'x' (float16[2]) but 3 from "
                "argument 'y' (float16[3])")]


def test_integer_tensors_of_a_model_index_an_embedding(tmp_path):
    from safetensors.numpy import save_file

    table = np.arange(20, dtype=np.float32).reshape(5, 4) / 8
    ids = np.array([[3, 0, 4]], dtype=np.int64)
    save_file({"table": table, "ids": ids}, str(tmp_path / "m.safetensors"))
    s = Session(base_dir=tmp_path, device="cpu")
    r = s.run(textwrap.dedent("""
        let m = load_model("m.safetensors")
        let ids = m.get_tensor("ids")
        let rows = embedding(m.get_tensor("table"), ids)
        let picked = m.get_tensor("table")[ids[0]]
    """))
    assert errors(r) == []
    np.testing.assert_array_equal(np.array(s.interpreter.globals.vars["rows"]), table[ids].astype(np.float16))
    np.testing.assert_array_equal(np.array(s.interpreter.globals.vars["picked"]),
                                  table[ids[0]].astype(np.float16))


def test_print_format_strings():
    """UPSTREAM.md 15.1-15.2: `{}` takes the next value when more values follow."""
    r = run('print("a {} b {}", 1, "x")\nprint("lone {}")\nprint("n", 1)\n'
            'print("{:.2} {}", 2, 3, 4)\nprint()')
    assert errors(r) == []
    assert r.stdout == "a 1 b x\nlone {}\nn 1\n{:.2} 2\n\n"
    r = run('print("{} and {}", 1)')
    message = ('print: the format string "{} and {}" has 2 {} placeholders but 1 value was '
               'given; pass one value per {}')
    assert errors(r) == [(0, 6, message)]  # at the format string, where the checker says it
    from tl_core.check import analyze

    d = analyze('print("{} and {}", 1)').diagnostics
    assert [(x.span.line, x.span.col, x.message) for x in d] == [(0, 6, message)]
    r = run('panic("bad {}")')
    assert errors(r) == [(0, 0, "panic: bad {}")]


def test_nested_list_literal_is_a_tensor_in_checker_and_runtime():
    from tl_core.check import analyze

    src = "let a = [[1.0, 2.0], [3.0, 4.0]]\nlet b = [[1, 2]]\nprint(a.shape, a.dtype, b.dtype)"
    assert [d.message for d in analyze(src).diagnostics] == []
    r = run(src)
    assert errors(r) == [] and r.stdout == "[2, 2] float16 int64\n"


def test_user_fn_named_like_a_builtin_wins_with_a_warning():
    from tl_core.check import analyze

    src = "fn softmax(x: float16[N]) -> float16[N] {\n    return x\n}\nprint(softmax([1.0, 2.0]))"
    d = analyze(src).diagnostics
    assert [(x.code, x.severity.value) for x in d] == [("shadows-builtin", "warning")]
    assert d[0].message == ("fn softmax shadows the built-in softmax(): calls to softmax in "
                            "this program run this function (the original TensorLogic runs "
                            "the built-in); rename it to keep both")
    r = run(src)
    assert errors(r) == [] and r.stdout == "tensor([1, 2], float16[2], cpu)\n"
