"""tl_core.kernel.protocol: the run contract's shapes, position conversions and labels."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tl_core.diagnostics import Diagnostic, Related, Severity
from tl_core.kernel.protocol import (
    BadRequest,
    Lines,
    Range,
    RunError,
    RunRequest,
    RunResult,
    Value,
    duration,
    result_line,
)
from tl_core.syntax.span import LineIndex

texts = st.text(alphabet=st.sampled_from(list("ab \n\t😀커é\r/%")), max_size=60)


@given(texts, st.data())
def test_offsets_survive_the_trip_through_a_request(text, data):
    """Server offsets -> request range -> (JSON) -> the worker's offsets: the same code points."""
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    req = RunRequest.for_offsets("file:///a.tl", text, start, end)
    back = RunRequest.from_json(req.to_json())
    assert back == req
    assert back.selection() == (start, end)
    assert text[slice(*back.selection())] == text[start:end]


@given(texts, st.data())
def test_error_ranges_survive_the_trip_through_a_result(text, data):
    """Runtime Diagnostic -> result JSON -> a Diagnostic on the text that ran: same span."""
    index = LineIndex(text)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    d = Diagnostic(index.span(start, end), "m", Severity.WARNING, "shape",
                   (Related(index.span(end, end), "here"),))
    err = RunError.read(RunError.from_diagnostic(d).to_json())
    back = err.diagnostic(index)
    assert (back.span, back.severity, back.code) == (d.span, d.severity, d.code)
    assert back.related[0].span == d.related[0].span


def test_errors_are_placed_by_line_and_column_on_an_edited_text():
    err = RunError(Range(1, 4, 1, 5), "boom")
    now = LineIndex("// new first line\nlet a = 1\nlet b = 2\n")
    assert err.diagnostic(now).span == now.span(now.offset(1, 4), now.offset(1, 5))
    short = LineIndex("x")  # past the end: clamped
    assert err.diagnostic(short).span == short.span(1, 1)


def test_lines_that_ran():
    text = "a\nb\nc\nd\n"
    assert RunRequest.for_offsets("u", text).lines() == Lines(0, 3)  # not the empty last line
    assert RunRequest.for_offsets("u", text + "e").lines() == Lines(0, 4)
    # a range ending at a line's start ends on the line before
    assert RunRequest.for_offsets("u", text, 2, 6).lines() == Lines(1, 2)
    assert RunRequest.for_offsets("u", text, 2, 5).lines() == Lines(1, 2)
    assert RunRequest.for_offsets("u", text, 2, 2).lines() == Lines(1, 1)
    assert RunRequest("file:///d/x.tl", text, None, "/e/y.tl").head() == "[run y.tl:1-4]"
    assert RunRequest("untitled:Untitled-1", text, Range(1, 0, 3, 0)).head() == (
        "[run untitled:Untitled-1:2-3]")


def test_result_line_skips_blank_lines_comments_and_the_next_marker():
    index = LineIndex("// %% a\nx = 1\n\n// note\n// %% b\ny = 2\n/* c\n * d */\n")
    assert result_line(index, Lines(0, 4)) == 1
    assert result_line(index, Lines(5, 7)) == 5
    assert result_line(index, Lines(2, 3)) == 2  # no code: the first line
    assert result_line(index, Lines(0, 99)) == 5


def test_bad_requests_say_what_is_wrong():
    with pytest.raises(BadRequest, match=r"run needs params.uri \(a string\)"):
        RunRequest.from_json({"text": ""})
    with pytest.raises(BadRequest, match="params.range must be"):
        RunRequest.from_json({"uri": "u", "text": "", "range": {"start": {"line": 1}}})
    with pytest.raises(BadRequest, match="params.range must be"):
        RunRequest.from_json({"uri": "u", "text": "", "range": {
            "start": {"line": True, "character": 0}, "end": {"line": 0, "character": 0}}})
    with pytest.raises(BadRequest, match=r"params.device must be \"gpu\", \"cpu\" or null, "
                                         r"found 'tpu'"):
        RunRequest.from_json({"uri": "u", "text": "", "device": "tpu"})


def test_durations():
    assert [duration(v) for v in (0.84, 9.96, 12.5, 1250, -3)] == [
        "0.8 ms", "10.0 ms", "13 ms", "1.25 s", "0.0 ms"]


TENSOR = Value("tensor", "[[2.21, 2.82], ...]", (4, 2), "float16", "gpu", 9)
REQ = RunRequest("file:///w/linear.tl", "\n" * 2 + "x\n" * 7 + "y\n", Range(2, 0, 9, 0))


def result(**kw) -> RunResult:
    args = {"stdout": "", "value": None, "elapsed_ms": 0.84, "device": "gpu", "errors": ()}
    args.update(kw)
    return RunResult.make(REQ, **args)


def test_inline_labels():
    assert result(value=TENSOR).labels.inline == "⇒ float16[4, 2] on gpu · 0.8 ms"
    scalar = Value("tensor", "1.", (), "float16", "cpu")
    assert result(value=scalar).labels.inline == "⇒ float16[] on cpu · 0.8 ms"
    assert result(value=Value("int", "42"), elapsed_ms=3).labels.inline == "⇒ 42 · 3.0 ms"
    long = Value("string", "x" * 100 + "\nsecond line")
    assert result(value=long).labels.inline == "⇒ " + "x" * 59 + "… · 0.8 ms"
    assert result(stdout="a\nY shape: [2, 2]\n\n").labels.inline == "⇒ Y shape: [2, 2] · 0.8 ms"
    assert result().labels.inline == "⇒ done on gpu · 0.8 ms"
    warn = RunError(Range(9, 1, 9, 2), "overflow in 3 values", "warning", "warning")
    err = RunError(Range(9, 13, 9, 25), "float16[4, 3] @ float16[2, 3]: inner dimensions 3 "
                   "and 2 differ", "error", "shape")
    failed = result(value=TENSOR, errors=(warn, err)).labels
    assert failed.inline == ("⇒ error: float16[4, 3] @ float16[2, 3]: inner dimensions 3 "
                             "and 2 differ")
    assert failed.error
    assert not result(value=TENSOR, errors=(warn,)).labels.error
    assert result(elapsed_ms=800, interrupted=True).labels.inline == "⇒ interrupted · 800 ms"
    assert result().labels.line == 8  # the last code line of lines 2-9 (0-based)


def test_the_log_block():
    err = RunError(Range(9, 13, 9, 16), 'unknown tensor "w"')
    r = result(stdout="Output shape: [4, 2]", value=TENSOR, elapsed_ms=12.5, errors=(err,))
    assert r.lines == Lines(2, 8)
    assert r.labels.log == "\n".join([
        "[run linear.tl:3-9]",
        "Output shape: [4, 2]",
        "= [[2.21, 2.82], ...]  (float16[4, 2] on gpu)",
        'linear.tl:10:14: error: unknown tensor "w"',
        "(failed after 13 ms on gpu)",
        "",
    ])
    assert r.labels.log == r.labels.head + "\n" + r.stdout + r.labels.tail
    stopped = result(stdout="tick 1\n", elapsed_ms=1, interrupted=True, device="cpu")
    assert stopped.labels.log == "[run linear.tl:3-9]\ntick 1\n(interrupted after 1.0 ms on cpu)\n"


def test_results_survive_json():
    err = RunError(Range(1, 2, 3, 4), "m", "warning", "warning", ((Range(0, 0, 0, 1), "r"),))
    r = result(stdout="s", value=TENSOR, errors=(err,), relations={"A": 2})
    assert RunResult.read(r.to_json()) == r
    # what a newer kernel adds is kept; ill-typed parts read as empty
    assert RunResult.read({**r.to_json(), "later": 1}).to_json()["later"] == 1
    odd = RunResult.read({"errors": [3, {"range": "x"}], "value": {"kind": "none"},
                          "elapsed_ms": "fast", "relations": {"A": True}})
    assert (odd.errors, odd.value, odd.elapsed_ms, odd.relations) == (
        (RunError(Range(0, 0, 0, 0), ""),), None, 0.0, {})
