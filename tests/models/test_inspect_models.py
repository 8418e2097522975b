"""`tl inspect FILE` and `tl inspect --json FILE`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

from tests.models.builders import safetensors_bytes, write_gguf, write_safetensors
from tl_core.commands import inspect


def main(argv: list[str]) -> int:
    """`tl inspect ...` through this command's own parser (independent of other commands)."""
    assert argv[0] == "inspect"
    parser = argparse.ArgumentParser(prog="tl inspect")
    inspect.add_arguments(parser)
    return inspect.main(parser.parse_args(argv[1:]))


def test_table(tmp_path, capsys):
    path = write_safetensors(
        tmp_path / "m.safetensors",
        {"layer.0.weight": np.ones((2, 3), np.float32), "ids": np.arange(4, dtype=np.int64)},
        metadata={"note": "héllo"},
    )
    assert main(["inspect", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}: safetensors, 2 tensors, 10 parameters, 247 B\n"
        "\n"
        "metadata:\n"
        '  format        "safetensors"\n'
        "  quantization  None\n"
        '  note          "héllo"\n'
        "  architecture  None\n"
        "\n"
        "tensors:\n"
        "  name            shape   dtype                        size\n"
        "  layer.0.weight  [2, 3]  F32                          24 B\n"
        "  ids             [4]     I64 (integer: not loadable)  32 B\n"
    )


def test_gguf_table_and_json(tmp_path, capsys):
    path = write_gguf(tmp_path / "g.gguf", {"w": (np.ones((4, 64), np.float32), "Q4_1")},
                      {"llama.embedding_length": 64}, vocab=100)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  tokenizer.ggml.tokens      [100 x string]\n" in out
    assert "  w     [4, 64]  Q4_1   160 B\n" in out
    assert main(["inspect", "--json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "gguf"
    assert doc["metadata"]["llama.embedding_length"] == 64
    assert doc["metadata"]["tokenizer.ggml.tokens"] == {"array": "string", "count": 100}
    assert doc["tensors"] == [{"name": "w", "shape": [4, 64], "dtype": "Q4_1",
                               "quantization": "Q4_1", "offset": doc["tensors"][0]["offset"],
                               "nbytes": 160, "is_float": True}]


def test_error_exit_status(tmp_path, capsys):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x01\x00\x00\x00")
    assert main(["inspect", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}: error: GGUF version 1 (from before August 2023)")


def test_import_is_light():
    code = ("import sys, tl_core.commands.inspect, tl_core.models; "
            "print([m for m in ('mlx', 'gguf', 'coremltools', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_through_tl_cli(tmp_path, capsys):
    from tl_core.cli import main as tl_main

    path = write_safetensors(tmp_path / "m.safetensors", {"w": np.ones(2, np.float32)})
    assert tl_main(["inspect", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["tensors"][0]["name"] == "w"


# --- hostile names and metadata (issue 18) -------------------------------------------------

HOSTILE = {
    "clear": "\x1b[2J\x1b[H",  # clear the screen
    "osc52": "\x1b]52;c;cm0gLXJmIH4K\x07",  # write the clipboard
    "c1": "\x9b31m",  # a C1 CSI
    "bidi": "a\u202eb",  # right-to-left override
    "line": "a\u2028b",
    "surrogate": "a\udcffb",
    "tab": "a\tb",
}


# names: all but the surrogate (the reader refuses a name that is not valid Unicode)
NAMES = [v for k, v in HOSTILE.items() if k != "surrogate"]


def hostile_file(tmp_path):
    header = {"__metadata__": {f"k{k}": v for k, v in HOSTILE.items()}}
    for i, v in enumerate(NAMES):
        header[f"w{i}{v}"] = {"dtype": "F16", "shape": [1], "data_offsets": [2 * i, 2 * i + 2]}
    p = tmp_path / "evil.safetensors"
    p.write_bytes(safetensors_bytes(header, bytes(2 * len(NAMES))))
    return p


def assert_no_control(text: str) -> None:
    import unicodedata

    bad = [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl",
                                                                         "Zp")]
    assert bad == []


def test_control_characters_in_names_and_metadata_are_escaped(tmp_path, capsys):
    p = hostile_file(tmp_path)
    assert main(["inspect", str(p)]) == 0
    out = capsys.readouterr().out
    assert_no_control(out)
    lines = out.splitlines()
    assert '  kclear        "\\u001b[2J\\u001b[H"' in lines  # JSON-quoted: JSON escapes
    assert '  ksurrogate    "a\\udcffb"' in lines and '  kc1           "\\x9b31m"' in lines
    assert "  w0\\x1b[2J\\x1b[H               [1]    F16    2 B" in lines
    assert "  w1\\x1b]52;c;cm0gLXJmIH4K\\x07  [1]    F16    2 B" in lines
    assert "w2\\x9b31m" in out and "w3a\\u202eb" in out and "w4a\\u2028b" in out
    assert "w5a\\tb" in out


def test_json_output_escapes_and_round_trips(tmp_path, capsys):
    p = hostile_file(tmp_path)
    assert main(["inspect", "--json", str(p)]) == 0
    out = capsys.readouterr().out
    assert_no_control(out)
    data = json.loads(out)
    assert [t["name"] for t in data["tensors"]] == [f"w{i}{v}" for i, v in enumerate(NAMES)]
    assert {k: v for k, v in data["metadata"].items() if k.startswith("k")} == {
        f"k{k}": v for k, v in HOSTILE.items()}


def test_error_messages_are_escaped(tmp_path, capsys):
    header = {"a\x1b[2J": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]},
              "b": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]}}
    p = tmp_path / "dup.safetensors"
    p.write_bytes(safetensors_bytes(header, bytes(2)))
    assert main(["inspect", str(p)]) == 1
    err = capsys.readouterr().err
    assert_no_control(err)
    assert '"a\\x1b[2J"' in err
