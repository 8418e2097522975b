"""The tokenizer and sampling built-ins in programs: the checker's types and hover, and runs
whose output is checked against the `tokenizers`-backed Python API and NumPy."""

from __future__ import annotations

import numpy as np

from tests.model_files import smollm2_path
from tl_core import ide
from tl_core.check import analyze
from tl_core.runtime import Session
from tl_core.tokenizer import load_tokenizer

PROGRAM = '''let tok = load_tokenizer("{name}")
let ids = tokenize(tok, "Hello world", false)
let table = ones([49152, 4])
let x = embedding(table, ids)
let text = detokenize(tok, ids, false)
let one = detokenize_single(tok, 1, false)
let prompt = chat_prompt(tok, [["user", "Hi"]])
let same = tok.tokenize("Hello world", false)
'''


def program() -> tuple[str, str]:
    p = smollm2_path()
    return PROGRAM.format(name=p.name), str(p.parent / "prog.tl")


def test_checker_types_and_hover():
    text, path = program()
    a = analyze(text, path)
    assert [d.message for d in a.diagnostics if d.severity.value == "error"] == []
    n = len(load_tokenizer(smollm2_path()).tokenize("Hello world", False))
    h = ide.hover_at(a, text.index("ids =") + 1)
    assert f"ids: int32[{n}]" in h.markdown
    assert f"same: int32[{n}]" in ide.hover_at(a, text.index("same =") + 1).markdown
    h = ide.hover_at(a, text.index("x ="))
    assert f"x: float16[{n}, 4]" in h.markdown
    h = ide.hover_at(a, text.index("tok =") + 1)
    md = h.markdown
    assert "**byte-level BPE (gpt2)** from gguf" in md
    assert "- vocabulary: 49,152 tokens" in md
    assert "- bos: 1 `<|im_start|>`" in md and "- eos: 2 `<|im_end|>`" in md
    assert "`<|endoftext|>`, `<|im_start|>`" in md and "(17 in all)" in md
    assert "- chat template: yes" in md


def test_checker_errors():
    a = analyze('let t = load_tokenizer("missing.json")\nlet i = tokenize(3, "a", false)\n',
                "/tmp/prog.tl")
    msgs = [(d.severity.value, d.message) for d in a.diagnostics]
    assert ("warning", "cannot load tokenizer 'missing.json': no such file") in msgs
    assert ("error", "tokenize(): argument 'tok' must be a Tokenizer (from load_tokenizer); "
                     "found int") in msgs


def test_run_matches_python_api():
    text, path = program()
    text += 'print(text)\nprint(one)\nprint(prompt)\nprint(x.shape)\n'
    s = Session(base_dir=smollm2_path().parent, device="cpu")
    r = s.run(text)
    assert [d.message for d in r.errors] == []
    tok = load_tokenizer(smollm2_path())
    n = len(tok.tokenize("Hello world", False))
    want = ["Hello world", "<|im_start|>", *tok.chat_prompt([{"role": "user", "content": "Hi"}])
            .rstrip("\n").split("\n"), f"[{n}, 4]"]
    assert r.stdout.rstrip("\n").split("\n")[: len(want) - 1] == want[:-1]
    assert r.stdout.rstrip("\n").split("\n")[-1].endswith(f"[{n}, 4]")


def test_sampling_in_a_program():
    logits = [0.5, 2.0, -1.0, 2.0, 1.5]
    text = (f"let l = tensor<float32>({logits})\n"
            "print(temperature_sample(l, 0.0))\n"
            "seed(7)\nlet a = temperature_sample(top_k(l, 2), 1.0)\n"
            "seed(7)\nlet b = temperature_sample(top_k(l, 2), 1.0)\n"
            "print(a == b)\nprint(a)\n"
            "print(temperature_sample(top_p(tensor<float32>([0.5, 3.0, 1.0]), 0.01), 5.0))\n")
    r = Session(device="cpu").run(text)
    assert [d.message for d in r.errors] == []
    greedy = len(logits) - 1 - int(np.argmax(logits[::-1]))
    out = r.stdout.split()
    assert out[:2] == [str(greedy), "true"] and out[2] in ("1", "3") and out[3] == "1"
