"""Structs at run time: literals, fields, impl methods, `Type::f(...)`, `Self`, generic
structs, `match`; values (copied), `self` written back; and the checker and the runtime
reporting the same error at the same place."""

from __future__ import annotations

import textwrap

import mlx.core as mx
import numpy as np
import pytest

from tl_core.check import analyze
from tl_core.diagnostics import Severity
from tl_core.runtime import Session

POINT = """\
struct Point { x: float, y: float }
impl Point {
    fn new(x: float, y: float) -> Point { return Point { x: x, y: y } }
    fn origin() -> Self { Self::new(0.0, 0.0) }
    fn norm2(self) -> float { return self.x * self.x + self.y * self.y }
    fn scaled(self, k: float) -> Point { return Point::new(self.x * k, self.y * k) }
    fn shift(self, dx: float) { self.x = self.x + dx }
    fn longer(self, other: Point) -> bool { return self.norm2() > other.norm2() }
}
"""


def run(src: str, session: Session | None = None):
    s = session or Session(device="cpu")
    r = s.run(textwrap.dedent(src))
    assert [d.message for d in r.errors if d.severity == Severity.ERROR] == []
    return r


def checked_clean(src: str) -> None:
    errs = [d.message for d in analyze(textwrap.dedent(src)).diagnostics
            if d.severity == Severity.ERROR]
    assert errs == []


def test_literal_fields_methods_and_associated_functions():
    src = POINT + """\
    let p = Point::new(3.0, 4.0)
    print(p.norm2(), p.x, p.y)
    print(p.scaled(2.0))
    print(Point::origin(), Point::norm2(p))
    print(p.longer(Point { x: 1.0, y: 1.0 }))
    """
    checked_clean(src)
    r = run(src)
    assert r.stdout == ("25 3 4\nPoint { x: 6.0, y: 8.0 }\nPoint { x: 0.0, y: 0.0 } 25\n"
                        "true\n")


def test_structs_are_values_and_self_is_written_back():
    src = POINT + """\
    let a = Point::new(1.0, 2.0)
    let b = a
    b.x = 9.0
    print(a.x, b.x)
    a.shift(0.5)
    a.shift(0.5)
    print(a.x)
    Point::new(1.0, 1.0).shift(3.0)
    let c = a.scaled(1.0)
    c.shift(1.0)
    print(a.x, c.x)
    """
    checked_clean(src)
    assert run(src).stdout == "1 9\n2\n2 3\n"


def test_nested_fields_lists_of_structs_and_struct_parameters():
    src = POINT + """\
    struct Segment { a: Point, b: Point }
    fn length2(s: Segment) -> float {
        let dx = s.b.x - s.a.x
        let dy = s.b.y - s.a.y
        return dx * dx + dy * dy
    }
    let s = Segment { a: Point::new(0.0, 0.0), b: Point::new(3.0, 0.0) }
    s.b.y = 4.0
    print(length2(s), s.b)
    let pts = [Point::new(1.0, 0.0), Point::new(2.0, 0.0)]
    pts[1].y = 5.0
    pts[0].shift(1.0)
    print(pts[1].norm2(), pts[0].x)
    """
    checked_clean(src)
    assert run(src).stdout == "25 Point { x: 3.0, y: 4.0 }\n29 1\n"


def test_a_struct_of_tensors_computes_as_numpy():
    src = """\
    struct Linear { w: float16[N, M], b: float16[N] }
    impl Linear {
        fn new(w: float16[N, M], b: float16[N]) -> Linear { return Linear { w: w, b: b } }
        fn forward(self, x: float16[B, M]) -> float16[B, N] { return linear(x, self.w, self.b) }
    }
    let layer = Linear::new([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], [0.25, -0.5])
    let y = layer.forward([[1.0, 0.0, 2.0], [3.0, 1.0, -1.0]])
    """
    checked_clean(src)
    s = Session(device="cpu")
    run(src, s)
    y = s.interpreter.globals.vars["y"]
    w = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], np.float32)
    x = np.array([[1.0, 0.0, 2.0], [3.0, 1.0, -1.0]], np.float32)
    assert y.dtype == mx.float16
    np.testing.assert_allclose(np.array(y, np.float32), x @ w.T + np.array([0.25, -0.5]),
                               rtol=1e-3)


def test_generic_structs_are_erased_at_run_time():
    src = """\
    struct Pair<T> { a: T, b: T }
    impl<T> Pair<T> {
        fn first(self) -> T { return self.a }
        fn swap(self) -> Pair<T> { return Pair { a: self.b, b: self.a } }
    }
    let p = Pair { a: 1, b: 2 }
    let q = Pair { a: "x", b: "y" }
    print(p.first(), p.swap(), q.swap().first())
    """
    checked_clean(src)
    assert run(src).stdout == "1 Pair { a: 2, b: 1 } y\n"


def test_match_on_structs():
    src = POINT + """\
    fn quadrant(p: Point) -> string {
        return match p {
            Point { x: 0.0, y: 0.0 } => "origin",
            Point { x, y } if x > 0.0 && y > 0.0 => "first",
            Point { x: _, y } if y < 0.0 => "below",
            _ => "other",
        }
    }
    print(quadrant(Point::origin()), quadrant(Point::new(1.0, 2.0)))
    print(quadrant(Point::new(-1.0, -2.0)), quadrant(Point::new(-1.0, 2.0)))
    let v = match Point::new(2.0, 3.0) { Point { x, y: 3.0 } => x * 10.0, _ => 0.0 }
    print(v)
    """
    checked_clean(src)
    assert run(src).stdout == "origin first\nbelow other\n20\n"


def test_recursion_through_a_method_and_state_across_session_runs():
    s = Session(device="cpu")
    run("""\
    struct Counter { n: int }
    impl Counter {
        fn fact(self, k: int) -> int { if k <= 1 { return 1 } return k * self.fact(k - 1) }
        fn inc(self) { self.n = self.n + 1 }
    }
    let c = Counter { n: 0 }
    """, s)
    r = run("c.inc()\nc.inc()\nprint(c.n, c.fact(5))\n", s)
    assert r.stdout == "2 120\n"


PRE = POINT + """\
struct Lin { w: float16[N, M], b: float16[N] }
fn takes(p: Point) -> float { return p.x }
"""


@pytest.mark.parametrize("line", [
    "let p = Point { x: 1.0 }",
    "let p = Point { x: 1.0, y: 2.0, z: 3.0 }",
    "let p = Point { x: 1.0, x: 2.0, y: 1.0 }",
    'let p = Point { x: "a", y: 2.0 }',
    "let p = Piont { x: 1.0, y: 2.0 }",
    "let p = Point::new(1.0, 2.0)\nprint(p.z)",
    "let p = Point::new(1.0, 2.0)\nprint(p.norm())",
    "let p = Point::new(1.0, 2.0)\nprint(p.new(1.0, 2.0))",
    "let p = Point::nw(1.0, 2.0)",
    "let p = Pont::new(1.0, 2.0)",
    "let p = Point::new(1.0, 2.0)\nprint(p.scaled(1.0, 2.0))",
    "let p = Point::new(1.0, 2.0)\nprint(p.scaled())",
    "print(takes(3.0))",
    "let l = Lin { w: ones([2, 3]), b: zeros([3]) }",
    "let l = Lin { w: ones([2, 3, 1]), b: zeros([2]) }",
    "let p = Point::new(1.0, 2.0)\nprint(p.norm2)",
    "let p = Point::new(1.0, 2.0)\np.z = 3.0",
    'let p = Point::new(1.0, 2.0)\np.x = "s"',
    "let s = Self::new(1.0, 2.0)",
    "let p = Point::new(1.0, 2.0)\nlet v = match p { Point { x: 1.0, q } => q, _ => 0.0 }",
    "let p = Point::new(1.0, 2.0)\nprint(p == p)",
    "impl Drop for Point { fn drop(self) { print(1) } }",
    "impl Pointt { fn f(self) -> int { return 1 } }",
])
def test_check_and_run_report_the_same_error(line):
    text = PRE + line + "\n"
    checked = [d for d in analyze(text).diagnostics if d.severity == Severity.ERROR]
    r = Session(device="cpu").run(text)
    ran = [d for d in r.errors if d.severity == Severity.ERROR]
    assert len(checked) == 1 and len(ran) == 1, (checked, ran)
    assert ran[0].message == checked[0].message
    assert (ran[0].span.line, ran[0].span.col) == (checked[0].span.line, checked[0].span.col)


def test_completion_lists_a_struct_s_fields_and_methods():
    from tl_core import ide

    text = POINT + "let p = Point::new(1.0, 2.0)\nprint(p."
    items = ide.complete_at(analyze(text), len(text))
    by = {c.label: c for c in items}
    assert [c.label for c in items] == ["x", "y", "norm2", "scaled", "shift", "longer"]
    assert by["x"].detail == "float" and by["scaled"].detail == "scaled(self, k: float) -> Point"
    h = ide.hover_at(analyze(text + "x)\n"), len(text))
    assert h is not None and "float" in h.markdown


def test_the_match_example_runs():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "syntax" / "match.tl"
    s = Session(device="cpu")
    r = s.run(path.read_text())
    assert r.errors == () and r.stdout == "on the y axis at 5\n"
    v = s.interpreter.globals.vars
    assert (v["label"], v["where_"], v["flag"], v["s"]) == ("one", "axis", 1, 1)
    assert s.interpreter.fns["describe"] is not None


def test_the_golden_struct_program_runs():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "check" / "golden" / "structs_ok.tl"
    r = run(path.read_text())
    # p = (3, 4) shifted by 1: 4² + 4² = 32; y = l.forward(ones [5, 3]) has 5 rows
    assert r.stdout == "32 5 [2, 3] 4\n"
