"""The hostile-input suite as a table: inputs tried, clean errors, tracebacks, hangs, deaths.

Model files (every truncation of small SafeTensors/GGUF/CoreML files, a CoreML package's
files missing, truncated and flipped, crafted lengths, counts, offsets and dtypes, 2,000
seeded bit flips of headers) through `tl inspect`, `load_model` and hover; hostile programs through `tl check`, the editor's queries and a run;
the language server over raw JSON-RPC (malformed frames, unknown methods, out-of-range
positions, rapid edits checked against the text oracle). The cases and the way each is run
and judged are those of `tests/hostile/` (harness.py, corpus.py), where `make test` asserts
that every case is clean.

    .venv/bin/python bench/hostile.py [--real] [--flips N] [--quick]

`--real` flips the headers of the real cached models (SmolLM2 GGUF, MiniLM SafeTensors;
`python tests/model_files.py` fetches them) instead of the generated realistic ones (as
tests/hostile/test_models_hostile.py does, besides 400 flips of the generated ones).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile import corpus  # noqa: E402
from tests.hostile.harness import (  # noqa: E402
    MODEL_SURFACES,
    OUTCOMES,
    PROGRAM_SURFACES,
    Tally,
    run_cases,
)


def lsp_tally(edits: int) -> Tally:
    """Hostile traffic to one real tl-lsp: every request must be answered (an answer with
    an error and no traceback is clean), every edit must leave the oracle's text."""
    from tests.hostile.test_lsp_hostile import MALFORMED, TEXT, URI, _random_change
    from tests.lsp.stdio_client import LspError, StdioClient
    from tests.lsp.test_lsp_text_sync import oracle_apply

    tally = Tally("tl-lsp (raw JSON-RPC)")
    client = StdioClient()
    timer = client.kill_after(900)

    def judge(label: str, fn) -> None:  # noqa: ANN001
        if not client.alive():
            tally.add("death", label, f"exit {client.proc.poll()}")
            return
        try:
            fn()
            tally.add("clean", label)
        except LspError as exc:
            ok = set(exc.error) <= {"code", "message"} and "Traceback" not in str(exc.error)
            tally.add("clean" if ok else "traceback", label, str(exc.error))
        except (EOFError, OSError) as exc:
            tally.add("death", label, repr(exc))
        except AssertionError as exc:
            tally.add("traceback", label, repr(exc))

    try:
        judge("request before initialize", lambda: client.request(
            "workspace/symbol", {"query": ""}))
        client.initialize()
        client.open(URI, TEXT)
        text = [TEXT]

        def doc_text() -> None:
            got = client.request("tensorlogic/documentText", {"uri": URI})["text"]
            assert got == text[0], "the server's text differs from the oracle's"

        for fr in MALFORMED:
            judge("malformed frame", lambda fr=fr: (client.send_raw(fr), doc_text()))
        for method in ("textDocument/unknown", "tensorlogic/nope", "x" * 10_000):
            judge("unknown method", lambda m=method: client.request(m, {}))
        rng = random.Random(7)
        methods = ("textDocument/hover", "textDocument/completion",
                   "textDocument/signatureHelp", "textDocument/definition",
                   "textDocument/prepareRename")
        for _ in range(200):
            pos = {"line": rng.choice((0, 3, 10**6, 2**31 - 1)),
                   "character": rng.choice((0, 5, 10**6, 2**31 - 1))}
            m = rng.choice(methods)
            judge("out-of-range position", lambda m=m, pos=pos: client.request(
                m, {"textDocument": {"uri": URI}, "position": pos}))
        for version in range(2, edits + 2):
            change = _random_change(rng, text[0])

            def edit(change=change, version=version) -> None:
                text[0] = oracle_apply(text[0], change, "utf-16")
                client.notify("textDocument/didChange", {
                    "textDocument": {"uri": URI, "version": version},
                    "contentChanges": [change]})
                if version % 50 == 0:
                    doc_text()

            judge("rapid edit", edit)
        judge("rapid edit", doc_text)
    finally:
        timer.cancel()
        client.close()
    return tally


def print_table(rows: list[tuple[str, Tally, float]]) -> None:
    """One row per surface; `seconds`: time spent in that surface's cases (wall time of
    the whole exchange for tl-lsp)."""
    head = f"{'surface':<26}{'inputs':>8}" + "".join(f"{o:>11}" for o in OUTCOMES) \
        + f"{'seconds':>9}"
    print(head)
    print("-" * len(head))
    for name, tally, seconds in rows:
        print(f"{name:<26}{tally.tried:>8}" + "".join(f"{tally.counts[o]:>11}" for o in OUTCOMES)
              + f"{seconds:>9.1f}")
    for name, tally, _ in rows:
        for outcome, examples in tally.failures().items():
            print(f"\n{name}: {outcome}")
            for e in examples:
                print("  " + e.replace("\n", "\n  "))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", action="store_true", help="flip real model headers")
    ap.add_argument("--flips", type=int, default=2000)
    ap.add_argument("--quick", action="store_true", help="200 flips, 40 random programs")
    args = ap.parse_args()
    flips = 200 if args.quick else args.flips
    real = None
    if args.real:
        from tests.model_files import minilm_path, smollm2_path

        real = [smollm2_path(), minilm_path()]
    rows = []
    cases = corpus.model_cases(flips, real) + corpus.package_cases(corpus.small_mlpackage())
    models = run_cases(MODEL_SURFACES, cases)
    rows += [(f"model files: {s}", models[s], sum(models[s].seconds.values()))
             for s in MODEL_SURFACES]
    programs = run_cases(PROGRAM_SURFACES, corpus.program_cases(40 if args.quick else 150))
    rows += [(f"programs: {s}", programs[s], sum(programs[s].seconds.values()))
             for s in PROGRAM_SURFACES]
    t = time.perf_counter()
    lsp = lsp_tally(200 if args.quick else 1000)
    rows.append(("tl-lsp (raw JSON-RPC)", lsp, time.perf_counter() - t))
    print_table(rows)
    bad = sum(tally.tried - tally.counts["clean"] for _, tally, _ in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
