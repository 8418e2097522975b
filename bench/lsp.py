"""Language server benchmark: the real `tl-lsp --stdio` process, driven over its pipes.

Measures start -> initialize answered (also with the early answer turned off by
TL_LSP_FAST_INIT=0, as pygls alone answers it), start -> the next request answered,
hover / completion / signature help and edit -> diagnostics on generated 1,000- and
10,000-line files (p50/p95), and a warm small cell round trip through the kernel. Baselines measured in the same run: a bare Python
start-up, and `tl_core` answering the same questions in-process (the server's overhead is
the difference). Budgets from ARCHITECTURE.md are printed next to each number.

    .venv/bin/python bench/lsp.py [--quick] [--start-only] [--starts N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.lsp.stdio_client import StdioClient  # noqa: E402

BLOCK = """\
// block {i}: 가중치 😀
let x{i} = tensor<float16>([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device: cpu)
let w{i} = tensor<float16>([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], device: cpu)
let y{i} = softmax(x{i} @ w{i}, -1)
fn f{i}(a: float16[N, D]) -> float16[N, D] {{
    return a + a
}}
let z{i} = f{i}(y{i})
print(z{i}.shape)

"""  # 10 lines


def program(lines: int) -> str:
    return "".join(BLOCK.format(i=i) for i in range(lines // 10))


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def fmt(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5):7.2f} ms  p95 {pct(values, 0.95):7.2f} ms  (n={len(values)})"


def u16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def position(text: str, offset: int) -> dict:
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return {"line": line, "character": u16(text[start:offset])}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def bench_start(n: int) -> dict[str, list[float]]:
    """Start-up, interleaved so that load changes hit every variant alike. `fast`: the
    default start (initialize answered before pygls is imported, tl_lsp/fast_start.py);
    `TL_LSP_FAST_INIT=0`: pygls answers it, as before that path existed. "next request" is
    `shutdown` sent right after `initialized`: answered once pygls runs."""
    out: dict[str, list[float]] = {}

    def add(key: str, t: float) -> None:
        out.setdefault(key, []).append((time.perf_counter() - t) * 1000)

    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        add("base", t)
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import lsprotocol.types, pygls.lsp.server"], check=True
        )
        add("lib", t)
        for key, env in (("fast", {}), ("slow", {"TL_LSP_FAST_INIT": "0"})):
            t = time.perf_counter()
            c = StdioClient(env=env)
            c.initialize(None)
            add(f"{key} init", t)
            c.request("shutdown", None)
            add(f"{key} next", t)
            c.notify("exit", None)
            try:
                c.proc.wait(10)
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait(10)
    return out


def bench_file(client: StdioClient, root: Path, lines: int, n: int) -> dict[str, list[float]]:
    from tl_core import ide
    from tl_core.check import analyze

    text = program(lines)
    path = root / f"bench{lines}.tl"
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    t = time.perf_counter()
    client.open(uri, text)
    client.wait_notification("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)
    out: dict[str, list[float]] = {"open -> diagnostics": [(time.perf_counter() - t) * 1000]}

    rnd = random.Random(lines)
    doc = {"textDocument": {"uri": uri}}
    names = [text.index(f"z{i} = f") for i in rnd.sample(range(lines // 10), min(n, lines // 10))]
    for key, method, where in (
        ("hover", "textDocument/hover", "name"),
        ("completion, prefix `z`", "textDocument/completion", "name"),
        ("completion, no prefix", "textDocument/completion", "call"),
        ("signature help", "textDocument/signatureHelp", "args"),
    ):
        times = []
        for off in names:
            # "name": inside `z12`; "call": before `f12(` (every name in scope); "args": after `(`
            at = {"name": off + 1, "call": off + len(text[off:].split("=")[0]) + 2}.get(
                where, text.index("(", off) + 1
            )
            params = {**doc, "position": position(text, at)}
            t = time.perf_counter()
            client.request(method, params)
            times.append((time.perf_counter() - t) * 1000)
        out[key] = times

    # in-process baselines on the same text
    t = time.perf_counter()
    a = analyze(text, str(path))
    out["analyze in-process (baseline)"] = [(time.perf_counter() - t) * 1000]
    hov = []
    for off in names:
        t = time.perf_counter()
        ide.hover_at(a, off + 1)
        hov.append((time.perf_counter() - t) * 1000)
    out["hover in-process (baseline)"] = hov
    for label, delta in (("prefix `z`", lambda o: o + 1), ("no prefix", None)):
        comp = []
        for off in names:
            at = delta(off) if delta else off + len(text[off:].split("=")[0]) + 2
            t = time.perf_counter()
            ide.complete_list_at(a, at, 200)  # as the server asks (its default limit)
            comp.append((time.perf_counter() - t) * 1000)
        out[f"completion, {label}, in-process"] = comp

    # edit -> diagnostics: change one digit in a random line, wait for that version; then
    # the first request on the new version, each kind in turn
    times = []
    after: dict[str, list[float]] = {key: [] for key, _m, _w in AFTER_AN_EDIT}
    version = 1
    for k in range(max(12, n)):
        i = rnd.randrange(lines // 10)
        off = text.index("[[", text.index(f"let x{i} ="))  # the first number
        off += 2  # the first digit
        digit = "7" if text[off] != "7" else "1"
        change = {
            "range": {"start": position(text, off), "end": position(text, off + 1)},
            "text": digit,
        }
        text = text[:off] + digit + text[off + 1 :]
        version += 1
        t = time.perf_counter()
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
        )
        client.wait_notification(
            "textDocument/publishDiagnostics",
            lambda p, v=version: p["uri"] == uri and p.get("version") == v,
        )
        times.append((time.perf_counter() - t) * 1000)
        key, method, where = AFTER_AN_EDIT[k % len(AFTER_AN_EDIT)]
        at = where(text, i)
        t = time.perf_counter()
        client.request(method, {**doc, "position": position(text, at)})
        after[key].append((time.perf_counter() - t) * 1000)
    out["edit -> diagnostics"] = times
    out.update(after)
    return out


def _after_eq(text: str, i: int) -> int:
    at = text.index(f"z{i} = f")
    return at + len(text[at:].split("=")[0]) + 2


# the first request on a new version: (row, method, where in block i)
AFTER_AN_EDIT = (
    # typing at the top level: no prefix, every name in scope
    ("completion right after an edit", "textDocument/completion", _after_eq),
    # typing inside a fn body (a reused item)
    ("completion in a fn, after an edit", "textDocument/completion",
     lambda text, i: text.index("return a", text.index(f"fn f{i}(")) + len("return ")),
    ("hover right after an edit", "textDocument/hover",
     lambda text, i: text.index(f"z{i} = f") + 1),
    ("signature help after an edit", "textDocument/signatureHelp",
     lambda text, i: text.index("(", text.index(f"z{i} = f")) + 1),
)


def bench_background(client: StdioClient, root: Path, n: int) -> dict[str, list[float]]:
    """Requests while the server works in the background on a 10,000-line file: a
    completion sent 5 ms after a semantic-tokens request (editors ask for tokens after
    edits), and a hover 15 ms into the warm-up that places the reused items once typing
    pauses (`warmDelayMs`, 150 ms after the diagnostics)."""
    text = program(10000)
    path = root / "background.tl"
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    doc = {"textDocument": {"uri": uri}}
    client.open(uri, text)
    client.wait_notification("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)
    out: dict[str, list[float]] = {k: [] for k in (
        "semantic tokens, first request", "semantic tokens, first after the first edit",
        "semantic tokens after an edit (delta)", "document symbols after an edit",
        "completion during semantic tokens", "completion during document symbols",
        "hover during the warm-up")}
    t = time.perf_counter()
    result_id = client.request("textDocument/semanticTokens/full", doc)["resultId"]
    out["semantic tokens, first request"].append((time.perf_counter() - t) * 1000)
    rnd = random.Random(7)
    version = 1
    for k in range(3 * max(4, n // 4) + 1):
        i = rnd.randrange(1000)
        off = text.index("[[", text.index(f"let x{i} =")) + 2
        digit = "7" if text[off] != "7" else "1"
        change = {"range": {"start": position(text, off), "end": position(text, off + 1)},
                  "text": digit}
        text = text[:off] + digit + text[off + 1:]
        version += 1
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                 "contentChanges": [change]})
        client.wait_notification("textDocument/publishDiagnostics",
                                 lambda p, v=version: p["uri"] == uri and p.get("version") == v)
        if k % 3 == 2:  # editors ask for the outline after edits too
            t = time.perf_counter()
            sid = client.send_request("textDocument/documentSymbol", doc)
            time.sleep(0.005)
            t2 = time.perf_counter()
            client.request("textDocument/completion", {**doc, "position": position(
                text, _after_eq(text, i))})
            out["completion during document symbols"].append((time.perf_counter() - t2) * 1000)
            client.response(sid)
            out["document symbols after an edit"].append((time.perf_counter() - t) * 1000)
        elif k % 3 == 0:
            t = time.perf_counter()
            sid = client.send_request("textDocument/semanticTokens/full/delta",
                                      {**doc, "previousResultId": result_id})
            time.sleep(0.005)
            t2 = time.perf_counter()
            client.request("textDocument/completion", {**doc, "position": position(
                text, _after_eq(text, i))})
            done = time.perf_counter()
            result_id = client.response(sid)["resultId"]
            if k:  # the first after the first edit fills the caches (reported apart)
                out["completion during semantic tokens"].append((done - t2) * 1000)
                out["semantic tokens after an edit (delta)"].append(
                    (time.perf_counter() - t) * 1000)
            else:
                out["semantic tokens, first after the first edit"].append(
                    (time.perf_counter() - t) * 1000)
        else:
            time.sleep(0.165)
            t = time.perf_counter()
            client.request("textDocument/hover", {**doc, "position": position(
                text, text.index(f"z{i} = f") + 1)})
            out["hover during the warm-up"].append((time.perf_counter() - t) * 1000)
            time.sleep(0.25)  # let the warm-up end
    return out


def _rss_mb(client: StdioClient) -> float:
    try:
        with open(f"/proc/{client.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


TYPED = "let q{k} = softmax(x{i} @ w{i}, -1)\n"  # typed a character at a time


def bench_typing(client: StdioClient, root: Path, n: int) -> tuple[dict[str, list[float]],
                                                                    dict[str, float]]:
    """Issue 18's scenario on a 10,000-line file: statements typed a character at a time
    (through states that do not parse: `softmax(x1 @`), a hover sent right after each edit
    at a name elsewhere in the file, at 10 characters per second and in bursts at 100 edits
    per second; completion at the cursor after each typed character; diagnostics of the
    burst's last version; the server's memory before, after and once the file is closed."""
    text = program(10000)
    path = root / "typing.tl"
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    doc = {"textDocument": {"uri": uri}}
    mem = {"open": _rss_mb(client)}
    client.open(uri, text)
    client.wait_notification("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)
    mem["after open"] = _rss_mb(client)
    out: dict[str, list[float]] = {}
    rnd = random.Random(18)
    version = 1
    state = {"text": text, "version": version}

    def type_char(at: int, ch: str) -> None:
        t = state["text"]
        state["version"] += 1
        client.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": state["version"]},
            "contentChanges": [{"range": {"start": position(t, at), "end": position(t, at)},
                                "text": ch}]})
        state["text"] = t[:at] + ch + t[at:]

    def hover_elsewhere(key: str, typing_at: int) -> None:
        t = state["text"]
        while True:
            i = rnd.randrange(1000)
            at = t.index(f"z{i} = f") + 1
            if abs(at - typing_at) > 2000:
                break
        start = time.perf_counter()
        client.request("textDocument/hover", {**doc, "position": position(t, at)})
        out.setdefault(key, []).append((time.perf_counter() - start) * 1000)

    def session(label: str, interval: float, chars: int, k0: int) -> None:
        k, typed = k0, 0
        while typed < chars:
            i = rnd.randrange(50, 950)
            line = TYPED.format(k=k, i=i)
            at = state["text"].index(f"let z{i} =")  # a new line before `let z{i}`
            for ch in line:
                if typed >= chars:
                    break
                start = time.perf_counter()
                type_char(at, ch)
                at += 1
                typed += 1
                if label == "10/s" and typed % 2 == 0:  # completion where the user types
                    t0 = time.perf_counter()
                    client.request("textDocument/completion", {**doc, "position": position(
                        state["text"], at)})
                    out.setdefault("completion at the cursor, 10/s", []).append(
                        (time.perf_counter() - t0) * 1000)
                else:
                    hover_elsewhere(f"hover after an edit, {label}", at)
                left = interval - (time.perf_counter() - start)
                if left > 0:
                    time.sleep(left)
            k += 1
        t0 = time.perf_counter()
        v = state["version"]
        client.wait_notification("textDocument/publishDiagnostics",
                                 lambda p: p["uri"] == uri and p.get("version") == v)
        out.setdefault(f"last edit -> its diagnostics, {label}", []).append(
            (time.perf_counter() - t0) * 1000)

    session("10/s", 0.1, max(80, 4 * n), 0)
    for b in range(3):
        session("100/s", 0.01, max(100, 5 * n), 100 + 100 * b)
    mem["after typing"] = _rss_mb(client)
    client.notify("textDocument/didClose", doc)
    client.request("tensorlogic/documentText", {"uri": uri})  # the close was handled
    time.sleep(1.5)  # the server collects in pauses of a second (tl_lsp/gc_policy.py)
    mem["after close"] = _rss_mb(client)
    return out, mem


def bench_cell(client: StdioClient, root: Path, n: int) -> dict[str, list[float]] | str:
    text = (
        "// %%\nlet a = tensor<float16>([[1.0, 2.0], [3.0, 4.0]], device: cpu)\na @ a\n"
        "// %%\nlet i = 0\nloop {\n    i = i + 1\n}\n"
    )
    path = root / "cell.tl"
    path.write_text(text)
    uri = path.as_uri()
    client.open(uri, text)
    args = {"command": "tensorlogic.runCell", "arguments": [{"uri": uri, "line": 1}]}
    try:
        client.request("workspace/executeCommand", args)  # starts the kernel
    except Exception as exc:  # noqa: BLE001 - report, don't crash the benchmark
        return f"not measured: {exc}"
    out: dict[str, list[float]] = {"warm small cell round trip": []}
    for _ in range(n):
        t = time.perf_counter()
        client.request("workspace/executeCommand", args)
        out["warm small cell round trip"].append((time.perf_counter() - t) * 1000)
    # a runaway cell: hovers while it runs, then interrupt -> the run answers
    out["hover while a cell runs"] = []
    out["interrupt -> run answered"] = []
    loop_args = {"command": "tensorlogic.runCell", "arguments": [{"uri": uri, "line": 5}]}
    hover = {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 4}}
    for _ in range(3):
        run_id = client.send_request("workspace/executeCommand", loop_args)
        time.sleep(0.3)
        for _ in range(n):
            t = time.perf_counter()
            client.request("textDocument/hover", hover)
            out["hover while a cell runs"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        client.request(
            "workspace/executeCommand",
            {"command": "tensorlogic.interrupt", "arguments": [{"uri": uri}]},
        )
        client.response(run_id)
        out["interrupt -> run answered"].append((time.perf_counter() - t) * 1000)
    return out


def print_typing(client: StdioClient, root: Path, n: int) -> None:
    print("-- typing, 10000-line file (issue 18)")
    typing, mem = bench_typing(client, root, n)
    for key, values in typing.items():
        budget = {"hover": 10.0, "compl": 100.0, "last ": 100.0}[key[:5]]
        ratio = pct(values, 0.95) / budget
        print(f"{key:40} {fmt(values)}  budget p95 {budget:.0f} ms ({ratio:.2f}x)")
    print("server memory (RSS)              " + ", ".join(
        f"{k} {v:.0f} MB" for k, v in mem.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--start-only", action="store_true", help="only the start-up numbers")
    parser.add_argument("--starts", type=int, default=0, help="server starts per variant")
    parser.add_argument("--typing-only", action="store_true",
                        help="only the typing scenario (issue 18)")
    args = parser.parse_args()
    n = 20 if args.quick else 100
    if args.typing_only:
        print(load())
        with tempfile.TemporaryDirectory() as tmp:
            client = StdioClient()
            client.initialize(Path(tmp), {"device": "cpu"})
            try:
                print_typing(client, Path(tmp), n)
            finally:
                client.close()
        print(load())
        return

    print(f"tl-lsp benchmark ({sys.platform}, Python {sys.version.split()[0]})")
    print(load())
    st = bench_start(args.starts or (3 if args.quick else 7))
    print(f"python -c pass (baseline)        {fmt(st['base'])}")
    print(f"import lsprotocol+pygls (base.)  {fmt(st['lib'])}")
    print(f"start -> initialize answered     {fmt(st['fast init'])}   budget 300 ms")
    print(f"  same, TL_LSP_FAST_INIT=0       {fmt(st['slow init'])}")
    print(f"start -> next request answered   {fmt(st['fast next'])}")
    print(f"  same, TL_LSP_FAST_INIT=0       {fmt(st['slow next'])}")
    ratio = statistics.median(st["fast init"]) / statistics.median(st["slow init"])
    print(f"initialize answered, fast / TL_LSP_FAST_INIT=0 (medians): {ratio:.2f}x")
    if args.start_only:
        print(load())
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        client = StdioClient()
        client.initialize(root, {"device": "cpu"})
        try:
            for lines in (1000, 10000):
                print(f"-- {lines}-line file")
                res = bench_file(client, root, lines, n)
                for key, values in res.items():
                    budget = ""
                    if key == "edit -> diagnostics":
                        budget = "  budget 30 ms" if lines == 1000 else "  budget 100 ms"
                    elif lines == 10000 and "process" not in key and key != "open -> diagnostics":
                        budget = "  budget p95 10 ms"
                    print(f"{key:32} {fmt(values)}{budget}")
            print_typing(client, root, n)
            print("-- background work, 10000-line file")
            for key, values in bench_background(client, root, n).items():
                budget = "  budget p95 10 ms" if key.startswith(("completion", "hover")) else ""
                print(f"{key:32} {fmt(values)}{budget}")
            cell = bench_cell(client, root, 10 if args.quick else 30)
            if isinstance(cell, str):
                print(f"warm small cell round trip       {cell}")
            else:
                budgets = {
                    "warm small cell round trip": "budget 50 ms",
                    "hover while a cell runs": "budget p95 10 ms",
                    "interrupt -> run answered": "goal under 1 s",
                }
                for key, values in cell.items():
                    print(f"{key:32} {fmt(values)}   {budgets[key]}")
        finally:
            client.close()
    print(f"(median python start-up in this run: {statistics.median(st['base']):.1f} ms)")
    print(load())


if __name__ == "__main__":
    main()
