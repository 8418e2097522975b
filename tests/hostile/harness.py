"""Running hostile cases and counting what happened to each: a clean error (or a clean
answer), a traceback (any exception the surface must not raise), a hang (over the case's
time budget) or a death (the process running it died).

Cases run in a child process (`python -m tests.hostile.harness SURFACE`, cases on stdin,
one JSON line per case on stdout, under an address-space limit); when the child dies the
parent records a death for the case it was on and starts a new child at the next case. A
case's time budget is enforced in the child with SIGALRM (a Python-level loop is stopped
as a hang) and by the parent (a child stuck in native code is killed: a hang).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.hostile import corpus
from tests.hostile.bounded import peak_rss
from tests.hostile.corpus import Case, dump, load

ROOT = Path(__file__).resolve().parents[2]
OUTCOMES = ("clean", "traceback", "hang", "death")
CASE_SECONDS = 30.0  # a case's budget (a hang): the slowest clean case takes a few seconds on a busy 2-core machine
ADDRESS_SPACE = 8 << 30  # per child: MLX and coremltools map a lot of virtual memory


class Hang(BaseException):  # BaseException: `except Exception` in the code under test misses it
    pass


@contextlib.contextmanager
def budget(seconds: float) -> Iterator[None]:
    def ring(signum, frame):  # noqa: ANN001, ARG001
        raise Hang()

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Tally:
    """What happened to the cases of one surface (and a few examples of each failure)."""

    surface: str
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    seconds: Counter = field(default_factory=Counter)  # time spent, by case label
    peak_rss: int = 0  # the largest resident memory of a child running these cases

    def add(self, outcome: str, label: str, detail: str = "") -> None:
        self.counts[outcome] += 1
        if outcome != "clean":
            self.examples.setdefault(outcome, [])
            if len(self.examples[outcome]) < 5:
                self.examples[outcome].append(f"{label}: {detail}"[:2000])

    @property
    def tried(self) -> int:
        return sum(self.counts.values())

    def failures(self) -> dict[str, list[str]]:
        return {k: v for k, v in self.examples.items() if v}


# --- surfaces: each takes a file path and raises only if the outcome is not clean --------

def via_inspect(path: str) -> None:
    """`tl inspect PATH` (its command function: argument parsing and the Ctrl-C watcher
    thread, which never see the file, cost more than the reading; tests run the whole
    command on samples): exit 0 with a table, or exit 1 with one `path: error:` line."""
    import argparse

    from tl_core.commands import inspect

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = inspect.main(argparse.Namespace(file=path, json=False))
    text = err.getvalue()
    if rc == 0 and not text:
        return
    if rc == 1 and text.count("\n") == 1 and ": error: " in text and "Traceback" not in text:
        return
    raise AssertionError(f"tl inspect exited {rc}: {text[-500:]}")


def via_load_model(path: str) -> None:
    """`load_model` then `get_tensor` of its 16 smallest tensors (all of a small file's):
    values, or ModelFileError only. (A real header's data is a hole of zeros: reading
    SmolLM2's 30 MB embedding of zeros tests nothing a small tensor does not, and took
    most of a flip's time.)"""
    from tl_core.models import ModelFileError, load_model

    try:
        model = load_model(path)
        tensors = model.header.tensors
        for name in sorted(model.names(), key=lambda n: (tensors[n].nbytes, n))[:16]:
            model.get_tensor(name)
        model.close()
    except ModelFileError as err:
        if not err.message:
            raise AssertionError("a ModelFileError without a message") from None


def via_hover(path: str) -> None:
    """The checker and hover over `let m = load_model(PATH)`: an error diagnostic on the
    call when the file cannot be read, else a hover with the model; never an internal
    error (which the checker and `hover_at` turn into a warning or no answer: looked
    through here)."""
    from tl_core.check import analyze
    from tl_core.ide import hover as ide_hover
    from tl_core.models import ModelFileError, read_header

    text = f'let m = load_model({json.dumps(path)})\nprint(m)\n'
    a = analyze(text, os.path.join(os.path.dirname(path), "prog.tl"))
    internal = [d.message for d in a.diagnostics if d.code == "internal"]
    if internal:
        raise AssertionError(internal[0])
    try:
        read_header(path)
        readable = True
    except ModelFileError:
        readable = False
    opened = [d for d in a.diagnostics if d.message.startswith("cannot open model")]
    if readable == bool(opened):
        raise AssertionError(f"readable={readable} but diagnostics {a.diagnostics}")
    for at in (4, text.index("print(m") + 6):
        hover = ide_hover._hover(a, at, {})  # not hover_at, which hides exceptions
        if hover is None:
            raise AssertionError(f"no hover at {at}")


RUN_INTERRUPT_S = 1.0  # a run still going after this is interrupted (as an editor would)


def _program(path: str) -> tuple[str, object]:
    from tl_core.check import analyze
    from tl_core.source import read_source

    text, _ = read_source(path)
    a = analyze(text, path)
    internal = [d.message for d in a.diagnostics if d.code == "internal"]
    if internal:
        raise AssertionError(internal[0])
    return text, a


def via_check(path: str) -> None:
    """`tl check`: the source read as `tl check` reads it, checked, every diagnostic
    formatted; never an internal checker error."""
    _, a = _program(path)
    for d in a.diagnostics:  # type: ignore[attr-defined]
        d.format(path)


def via_ide(path: str) -> None:
    """Hover, completion and signature help at 24 offsets, and the whole-document answers
    (symbols, semantic tokens, folding, formatting), through the functions that do the work
    (the `tl_core.ide` wrappers turn exceptions into no answer: looked through here)."""
    from tl_core.ide import completion, folding, hover, outline, signature, tokens

    text, a = _program(path)
    n = len(text)
    for k in range(24):
        at = n * k // 23
        hover._hover(a, at, {})  # type: ignore[arg-type]
        completion.complete(a, at, 200)  # type: ignore[arg-type]
        signature.signature(a, at)  # type: ignore[arg-type]
    outline.document_symbols(a)  # type: ignore[arg-type]
    # the server's semantic tokens (the plain ones are its test oracle); a line over
    # ide.lex.LONG_LINE gives none (a 5 MB line of `1 + 1 ...` took 10-15 s: 1.3 million)
    tokens.semantic_tokens(a)
    folding.folding_ranges_plain(a)  # type: ignore[arg-type]
    if not a.parse.errors:  # type: ignore[attr-defined]
        from tl_core.syntax.format import format_text

        format_text(text)


def via_run(path: str) -> None:
    """A run in a `Session` (the kernel's), interrupted after `RUN_INTERRUPT_S`: a result
    with clear errors (or none, or "interrupted"), never an exception or an internal
    error."""
    from tl_core.runtime import Session
    from tl_core.source import read_source

    text, problem = read_source(path)
    if problem is not None:
        return  # `tl run` stops at the encoding error, as `tl check` reports it
    session = Session(os.path.dirname(path), "cpu", path)
    timer = threading.Timer(RUN_INTERRUPT_S, session.interrupt)
    timer.start()
    try:
        result = session.run(text)
    finally:
        timer.cancel()
    for d in result.errors:
        if d.code == "internal" or d.message.startswith("internal error"):
            raise AssertionError(d.message)


SURFACES: dict[str, Callable[[str], None]] = {
    "tl inspect": via_inspect, "load_model": via_load_model, "hover": via_hover,
    "tl check": via_check, "editor queries": via_ide, "run": via_run,
}
MODEL_SURFACES = ["tl inspect", "load_model", "hover"]
PROGRAM_SURFACES = ["tl check", "editor queries", "run"]


def _child(surfaces: list[str], start: int, first_surface: int) -> None:
    """Run the cases on stdin (from case `start`) through each of `surfaces`, one JSON line
    when a (case, surface) starts and one with its outcome."""
    from tl_core.models import clear_cache

    fns = [SURFACES[s] for s in surfaces]
    cases = load(sys.stdin.buffer.read())
    with tempfile.TemporaryDirectory() as d:
        for i in range(start, len(cases)):
            label, name, contents = cases[i]
            path = os.path.join(d, f"{i}-{name}")  # a fresh name: no cached header applies
            if isinstance(contents, corpus.Package):
                corpus.write_package(path, contents)
            else:
                data = bytes(contents)  # a `Flips` is made into bytes here, one at a time
                with open(path, "wb") as f:
                    f.write(data)
                    f.truncate(max(len(data), corpus.sparse_size(name)))
            for k, fn in enumerate(fns):
                if i == start and k < first_surface:
                    continue
                print(json.dumps({"i": i, "s": k, "start": True}), flush=True)
                outcome, detail = "clean", ""
                began = time.monotonic()
                try:
                    with budget(CASE_SECONDS):
                        fn(path)
                except Hang:
                    outcome, detail = "hang", f"over {CASE_SECONDS} s"
                except BaseException as exc:  # noqa: BLE001 - the point is to see all of them
                    import traceback

                    outcome = "traceback"
                    detail = "".join(traceback.format_exception(exc))[-1500:]
                print(json.dumps({"i": i, "s": k, "outcome": outcome, "detail": detail,
                                  "seconds": time.monotonic() - began,
                                  "maxrss": peak_rss() // 1024}),
                      flush=True)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            clear_cache()  # per case: its surfaces share the header read (or its error)


def run_cases(surfaces: list[str], cases: list[Case],
              progress: Callable[[int], None] | None = None) -> dict[str, Tally]:
    """Every case through every surface in child processes (a new one after each death or
    hang, from the next (case, surface))."""
    tallies = {s: Tally(s) for s in surfaces}
    blob = dump(cases)
    i, k = 0, 0
    while i < len(cases):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hostile.harness", "child", ",".join(surfaces),
             str(i), str(k)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, bufsize=0,
            preexec_fn=_child_limits, start_new_session=True)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        feeder = threading.Thread(target=_feed, args=(proc.stdin, blob), daemon=True)
        feeder.start()
        lines = _Lines(proc.stdout.fileno())
        current: tuple[int, int] | None = None
        started = time.monotonic()
        while True:
            line = lines.next(started + CASE_SECONDS * 3 + 60)
            if line is None:  # stuck in native code, or dead
                hung = proc.poll() is None
                if hung:
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                stderr = proc.stderr.read().decode(errors="replace")[-1000:]
                if current is None:
                    if i >= len(cases):
                        break
                    raise RuntimeError(f"the hostile child failed before a case: {stderr}")
                ci, ck = current
                tallies[surfaces[ck]].add("hang" if hung else "death", cases[ci][0],
                                          f"case {ci}, exit {proc.returncode}: {stderr}")
                i, k = (ci, ck + 1) if ck + 1 < len(surfaces) else (ci + 1, 0)
                break
            msg = json.loads(line)
            if msg.get("start"):
                current, started = (msg["i"], msg["s"]), time.monotonic()
                continue
            ci, ck = msg["i"], msg["s"]
            tallies[surfaces[ck]].add(msg["outcome"], cases[ci][0],
                                      f"case {ci}: {msg['detail']}")
            tallies[surfaces[ck]].seconds[cases[ci][0]] += msg["seconds"]
            for t in tallies.values():  # the child's peak so far (its surfaces share it)
                t.peak_rss = max(t.peak_rss, msg["maxrss"] * 1024)
            current = None
            i, k = (ci, ck + 1) if ck + 1 < len(surfaces) else (ci + 1, 0)
            if k == 0 and progress is not None:
                progress(ci)
            if i >= len(cases):
                proc.wait()
                break
        proc.stdout.close()
        proc.stderr.close()
    return tallies


def _feed(pipe, blob: bytes) -> None:  # noqa: ANN001 - a binary pipe
    with contextlib.suppress(BrokenPipeError):
        pipe.write(blob)
        pipe.close()


class _Lines:
    """Lines from a file descriptor with a deadline (unbuffered: `select` sees every byte
    that is not yet returned)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""
        self.eof = False

    def next(self, deadline: float) -> bytes | None:
        import select

        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self.eof = True
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line


def _child_limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


if __name__ == "__main__":
    if sys.argv[1] == "child":
        _child(sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4]))
