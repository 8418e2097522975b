"""`Overlay` (tl_core/ide/overlay.py): with no edit since the analysis, completion and
signature help through an overlay answer at every offset exactly as the analysis itself
(the oracle); after an edit, they read the newest text."""

from __future__ import annotations

from tl_core.check import analyze
from tl_core.ide import complete_at, signature_at
from tl_core.ide.overlay import Overlay
from tl_core.syntax.edits import EditLog

TEXT = """\
struct P { a: int, b: float }
fn g(x: float16[N], k: int, s: string) -> float16[N] {
    let y = x * 2.0
    return y
}
let t = ones([4])
let p = P { a: 1, b: 2.0 }
let r = g(t,
    3, "s")
let u = softmax(t, -1)
print(r, u, p.a)
"""


def overlay_of(a, text: str, offset: int, scope: int,  # noqa: ANN001
               log: EditLog | None = None) -> Overlay:
    line_start = text.rfind("\n", 0, offset) + 1
    return Overlay(a, text, scope, line_start, (log or EditLog()).to_new)


def test_an_overlay_without_edits_answers_as_its_analysis():
    a = analyze(TEXT)
    for offset in range(len(TEXT) + 1):
        o = overlay_of(a, TEXT, offset, offset)
        assert complete_at(o, offset) == complete_at(a, offset), offset
        assert signature_at(o, offset) == signature_at(a, offset), offset


def test_an_overlay_reads_the_newest_text():
    a = analyze(TEXT)
    at = TEXT.index("let u")
    typed = "let v = g(t, 1, "
    text = TEXT[:at] + typed + "\n" + TEXT[at:]
    log = EditLog()
    log.add(at, at, len(typed) + 1)
    end = at + len(typed)
    sig = signature_at(overlay_of(a, text, end, at - 1, log), end)
    assert sig is not None and sig.signatures[0].label.startswith("g(") and \
        sig.active_param == 2
    # the names the analysis saw at the end of the line above the new one (the server's
    # choice for an edited line); the prefix from the newest text
    got = [c.label for c in complete_at(overlay_of(a, text, at + 8, at - 1, log), at + 8)]
    assert {"t", "p", "r", "g", "softmax"} <= set(got) and "v" not in got
    got = complete_at(overlay_of(a, text, at + 9, at - 1, log), at + 9)  # typed `g`
    assert "g" in [c.label for c in got] and "t" not in [c.label for c in got]
    assert all(c.replace_span.start == at + 8 for c in got)
