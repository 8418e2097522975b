"""The hostile model files: seeded and deterministic, small enough to run in `make test`.

`model_cases()` yields (label, file name, contents): every truncation of small valid
SafeTensors, GGUF and CoreML files written by the reference writers (`safetensors`, `gguf`,
`coremltools`), huge declared lengths and counts, out-of-range and overlapping offsets,
unknown dtypes, and seeded bit flips of the header of a realistic GGUF and SafeTensors file;
`real_flip_cases()` flips the headers of the real cached models (SmolLM2's GGUF header
alone is 1.8 MB: a flipped copy is `Flips`, the bits to flip in a shared base, made into
bytes only when its file is written).
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.models.builders import gguf_bytes, gguf_string, safetensors_bytes, write_gguf


@dataclass(frozen=True)
class Flips:
    """A file's contents as `base` with the bits at `bits` flipped (bit i: byte i // 8,
    bit i % 8); many cases share one base."""

    base: bytes
    bits: tuple[int, ...]

    def __bytes__(self) -> bytes:
        out = bytearray(self.base)
        for bit in self.bits:
            out[bit // 8] ^= 1 << (bit % 8)
        return bytes(out)


@dataclass(frozen=True)
class Package:
    """A directory's contents (a CoreML .mlpackage): relative path -> bytes."""

    files: tuple[tuple[str, bytes], ...]


Case = tuple[str, str, "bytes | Flips | Package"]  # (label, file name, contents)

U64 = (1 << 64) - 1


def small_safetensors() -> bytes:
    """A valid SafeTensors file from the reference writer (`safetensors.numpy`)."""
    from safetensors.numpy import save

    rng = np.random.default_rng(0)
    return save({"layer.weight": rng.standard_normal((4, 3)).astype(np.float32),
                 "layer.bias": np.ones(4, np.float16),
                 "ids": np.arange(3, dtype=np.int64)}, metadata={"format": "pt"})


def small_gguf() -> bytes:
    """A valid GGUF file from the reference writer (`gguf.GGUFWriter`)."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        path = write_gguf(Path(d) / "s.gguf",
                          {"token_embd.weight": (rng.standard_normal((4, 32)), "Q8_0"),
                           "output_norm.weight": (np.ones(8, np.float32), None),
                           "blk.0.attn_q.weight": (rng.standard_normal((8, 8)), "F16")},
                          {"llama.context_length": 128, "general.name": "tiny"}, vocab=12)
        return path.read_bytes()


def small_mlmodel() -> bytes:
    """A valid CoreML neural-network spec (one inner-product layer with a bias), built with
    coremltools' own protobuf classes."""
    from tl_core.models.coreml import _proto

    model_pb2, _ = _proto()
    spec = model_pb2.Model()
    spec.specificationVersion = 4
    spec.description.metadata.author = "hostile"
    for name, into in (("x", spec.description.input), ("y", spec.description.output)):
        feature = into.add()
        feature.name = name
        feature.type.multiArrayType.shape.append(4 if name == "x" else 3)
    layer = spec.neuralNetwork.layers.add()
    layer.name = "fc"
    layer.input.append("x")
    layer.output.append("y")
    ip = layer.innerProduct
    ip.inputChannels, ip.outputChannels, ip.hasBias = 4, 3, True
    ip.weights.floatValue.extend(float(v) for v in range(12))
    ip.bias.floatValue.extend([1.0, 1.0, 1.0])
    return spec.SerializeToString()


PACKAGE_CHILD = r"""
import logging, os, sys
import numpy as np
import coremltools as ct
from coremltools.converters.mil import Builder as mb

logging.getLogger("coremltools").setLevel(logging.ERROR)


@mb.program(input_specs=[mb.TensorSpec(shape=(1, 4))])
def prog(x):
    w = np.arange(16, dtype=np.float32).reshape(4, 4) / 4
    h = mb.linear(x=x, weight=mb.const(val=w, name="w"), name="h")
    return mb.linear(x=h, weight=mb.const(val=np.ones((3, 4), np.float32), name="small"),
                     bias=mb.const(val=np.ones(3, np.float32), name="b"), name="out")


ct.convert(prog, convert_to="mlprogram", compute_precision=ct.precision.FLOAT16,
           skip_model_load=True).save(sys.argv[1])
"""


def small_mlpackage() -> Package:
    """A valid CoreML ML-program package (two weights in its blob file, two immediate),
    written by coremltools' converter (in a child process: it imports torch)."""
    from tests.hostile.bounded import run_child

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "s.mlpackage"
        child = run_child(PACKAGE_CHILD, timeout=300, address_space=16 << 30,
                          argv=[str(out)])
        if child.rc != 0:
            raise RuntimeError(f"coremltools could not write the package: {child.stderr}")
        return Package(tuple(sorted((str(p.relative_to(out)), p.read_bytes())
                                    for p in out.rglob("*") if p.is_file())))


def package_cases(package: Package, flips: int = 100, every: int = 16) -> list[Case]:
    """Hostile versions of an .mlpackage: each of its files missing, every truncation of its
    weight blob and every `every`-th of its spec and manifest, and `flips` seeded bit flips
    of each file."""
    files = dict(package.files)
    out: list[Case] = []
    name = "p.mlpackage"
    for rel, data in files.items():
        short = Path(rel).name
        out.append((f"package without {short}", name,
                    Package(tuple((r, d) for r, d in package.files if r != rel))))
        step = 1 if short.endswith(".bin") else every
        for n in range(0, len(data), step):
            out.append((f"package with truncated {short}", name,
                        Package(tuple((r, d[:n] if r == rel else d) for r, d in package.files))))
        rng = random.Random(len(data))
        for _ in range(flips):
            mutant = bytearray(data)
            for bit in rng.sample(range(len(data) * 8), rng.choice((1, 1, 1, 2, 3))):
                mutant[bit // 8] ^= 1 << (bit % 8)
            out.append((f"package with bit flips in {short}", name,
                        Package(tuple((r, bytes(mutant) if r == rel else d)
                                      for r, d in package.files))))
    return out


def write_package(path: str, package: Package) -> None:
    for rel, data in package.files:
        full = os.path.join(path, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)


def realistic_gguf() -> bytes:
    """A GGUF whose header looks like a small llama model's (architecture keys, a
    vocabulary with merges, a dozen tensors), for bit flips."""
    rng = np.random.default_rng(1)
    kv = {"llama.context_length": 2048, "llama.embedding_length": 16,
          "llama.block_count": 2, "llama.attention.head_count": 2,
          "llama.rope.freq_base": 10000.0, "general.name": "flip-me",
          "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.bos_token_id": 1}
    tensors: dict[str, tuple[np.ndarray, str | None]] = {
        "token_embd.weight": (rng.standard_normal((40, 32)), "Q8_0")}
    for i in range(2):
        for part in ("attn_q", "attn_k", "attn_v", "ffn_up"):
            tensors[f"blk.{i}.{part}.weight"] = (rng.standard_normal((16, 16)), "F16")
        tensors[f"blk.{i}.attn_norm.weight"] = (np.ones(16, np.float32), None)
    with tempfile.TemporaryDirectory() as d:
        return write_gguf(Path(d) / "r.gguf", tensors, kv, vocab=40).read_bytes()


def realistic_safetensors() -> bytes:
    from safetensors.numpy import save

    rng = np.random.default_rng(2)
    arrays = {f"encoder.layer.{i}.{p}": rng.standard_normal((8, 8)).astype(np.float32)
              for i in range(3) for p in ("attention.self.query.weight", "output.dense.weight")}
    arrays["embeddings.position_ids"] = np.arange(8, dtype=np.int64)[None]
    return save(arrays, metadata={"format": "pt"})


def header_end(data: bytes) -> int:
    """Where the header of a SafeTensors or GGUF file ends (its bit flips stay before)."""
    if data[:4] == b"GGUF":
        from tl_core.models.gguf import parse_header
        from tl_core.models.types import Source

        with tempfile.NamedTemporaryFile(suffix=".gguf") as f:
            f.write(data)
            f.flush()
            import os

            fd = os.open(f.name, os.O_RDONLY)
            try:
                tensors, _ = parse_header(Source(fd, len(data), f.name))
            finally:
                os.close(fd)
        return min(t.offset for t in tensors.values())
    return 8 + struct.unpack_from("<Q", data)[0]


def truncations(name: str, data: bytes) -> Iterator[Case]:
    for n in range(len(data)):
        yield f"truncated {name}", f"cut{n}{Path(name).suffix}", data[:n]


def bit_flips(name: str, data: bytes, count: int, seed: int,
              regions: list[tuple[int, int]] | None = None) -> Iterator[Case]:
    """`count` seeded copies of `data` with 1 to 3 bits flipped in its header (or in
    `regions`, [start, end) byte ranges)."""
    rng = random.Random(seed)
    sparse = sparse_size(name)
    if regions is None:
        regions = [(0, len(data) if sparse else header_end(data))]
    weights = [end - start for start, end in regions]
    prefix = name[:name.index("-") + 1] if sparse else ""
    for i in range(count):
        bits = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            bit = None
            while bit is None or bit in bits:  # distinct: a bit flipped twice is no flip
                start, end = rng.choices(regions, weights)[0]
                bit = start * 8 + rng.randrange((end - start) * 8)
            bits.append(bit)
        yield f"bit flips in {name}", f"{prefix}flip{i}{Path(name).suffix}", Flips(data, tuple(bits))


def crafted() -> Iterator[Case]:
    """Huge lengths and counts, offsets out of range or overlapping, unknown dtypes."""
    st = "c.safetensors"
    for length in (U64, 1 << 63, 1 << 40, 10**9):
        yield "huge length", st, struct.pack("<Q", length) + b"{}"
    t = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    variants = {
        "offsets out of range": {"a": {**t, "data_offsets": [0, 1 << 62]}},
        "negative offsets": {"a": {**t, "data_offsets": [-16, 0]}},
        "overlapping offsets": {"a": t, "b": {**t, "data_offsets": [8, 24]}},
        "reversed offsets": {"a": {**t, "data_offsets": [16, 0]}},
        "unknown dtype": {"a": {**t, "dtype": "F9_E9"}},
        "huge shape": {"a": {**t, "shape": [1 << 40, 1 << 40]}},
        "shape of 10^12 elements": {"a": {**t, "shape": [10**6, 10**6],
                                          "data_offsets": [0, 4 * 10**12]}},
        "huge rank": {"a": {**t, "shape": [1] * 100000}},
        "float dims": {"a": {**t, "shape": [2.5, 2]}},
        "huge integer": {"a": {**t, "shape": [10**4000, 1]}},
    }
    for label, header in variants.items():
        yield label, st, safetensors_bytes(header, bytes(32))
    gg = "c.gguf"
    for n in (U64, 1 << 63, 1 << 40):
        yield "huge length", gg, gguf_bytes(n_tensors=n)
        yield "huge length", gg, gguf_bytes(n_kv=n)
        yield "huge length", gg, gguf_bytes([(gguf_string("k"), 9, struct.pack("<IQ", 4, n))])
        yield "huge length", gg, gguf_bytes([(struct.pack("<Q", n) + b"k", 4, b"\0" * 4)])
    for dims, ttype, offset, label in (
        ((4,), 0, 1 << 62, "offsets out of range"),
        ((1 << 40, 1 << 40), 0, 0, "huge shape"),
        ((4,), 999, 0, "unknown dtype"),
        ((5,), 8, 0, "unknown dtype"),  # Q8_0 needs multiples of 32
        ((1,) * 9, 0, 0, "huge rank"),
    ):
        yield label, gg, gguf_bytes(tensors=[("a", dims, ttype, offset)], data=bytes(64))
    yield "overlapping offsets", gg, gguf_bytes(
        tensors=[("a", (8,), 0, 0), ("b", (8,), 0, 16)], data=bytes(64))
    yield "unknown dtype", gg, gguf_bytes([(gguf_string("k"), 77, b"\0" * 8)])
    yield "huge length", "c.mlmodel", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\x7f"


def sparse_size(name: str) -> int:
    """The size a case's file is extended to with a hole (0: none): a name `sparse<N>-...`
    is a real model's header whose tensor data is left out (`real_headers`)."""
    if name.startswith("sparse"):
        return int(name[6:name.index("-")])
    return 0


def real_headers(paths: list[Path]) -> dict[str, bytes]:
    """name -> the header bytes of real model files, named so that the cases extend them
    to the file's size with a hole (the tensors' offsets stay in range)."""
    from tl_core.models import read_header

    out = {}
    for p in paths:
        header = read_header(p)
        end = min(t.offset for t in header.tensors.values())
        with open(p, "rb") as f:
            out[f"sparse{header.file_size}-{p.name}"] = f.read(end)
    return out


def gguf_structure(data: bytes, size: int) -> list[tuple[int, int]]:
    """The [start, end) byte ranges of a GGUF header outside the elements of its large
    arrays (the vocabulary, merges, token types: 99% of a real header's bytes): the
    metadata keys and values, the arrays' types and counts, the tensor infos. `size`: the
    whole file's (the tensors' data lies past `data`)."""
    from tl_core.models.gguf import _Reader, parse_header
    from tl_core.models.types import ArrayInfo, Source

    spans = []
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.flush()
        src = Source(f.fileno(), size, "header")
        src.prefetch(len(data))
        _, metadata = parse_header(src)
        for value in metadata.values():
            if isinstance(value, ArrayInfo):
                r = _Reader(src)
                r.pos = value.offset
                if value.element_type == "string":
                    r.skip_strings(value.count, "array")
                else:
                    r.pos += value.count * _ELEMENT_SIZE[value.element_type]
                spans.append((value.offset, r.pos))
    out, at = [], 0
    for start, end in sorted(spans):
        out.append((at, start))
        at = end
    out.append((at, len(data)))
    return [(a, b) for a, b in out if b > a]


_ELEMENT_SIZE = {"uint8": 1, "int8": 1, "uint16": 2, "int16": 2, "uint32": 4, "int32": 4,
                 "float32": 4, "bool": 1, "uint64": 8, "int64": 8, "float64": 8}


def real_flip_cases(paths: list[Path], flips: int = 2000) -> list[Case]:
    """`flips` seeded bit flips of the headers of real model files (`real_headers`),
    shared equally; a GGUF's half of them anywhere in its header, half in its structure
    (`gguf_structure`: uniform flips of SmolLM2's header land 99% in vocabulary bytes)."""
    headers = real_headers(paths)
    per = flips // len(headers)
    out: list[Case] = []
    for seed, (name, data) in enumerate(headers.items()):
        if name.endswith(".gguf"):
            out += bit_flips(name, data, per - per // 2, seed)
            out += bit_flips(name, data, per // 2, seed + 100, gguf_structure(data, sparse_size(name)))
        else:
            out += bit_flips(name, data, per, seed)
    return out


def model_cases(flips: int = 400, real: list[Path] | None = None) -> list[Case]:
    """Every model-file case, in a fixed order: the truncations, the crafted files and
    `flips` bit flips of the realistic generated headers (or, given `real` model files, of
    their headers: `real_flip_cases`)."""
    out: list[Case] = []
    for name, data in (("small.safetensors", small_safetensors()),
                       ("small.gguf", small_gguf()), ("small.mlmodel", small_mlmodel())):
        out += truncations(name, data)
    out += crafted()
    if real:
        return out + real_flip_cases(real, flips)
    sources = {"realistic.gguf": realistic_gguf(),
               "realistic.safetensors": realistic_safetensors()}
    per = flips // len(sources)
    for seed, (name, data) in enumerate(sources.items()):
        out += bit_flips(name, data, per, seed)
    return out


def dump(cases: list[Case]) -> bytes:
    """The cases as one blob (for a child process); a `Flips` base is written once."""
    buf = io.BytesIO()
    bases: dict[int, int] = {}  # id(base) -> its index among the bases written
    for label, name, data in cases:
        if isinstance(data, Flips):
            index = bases.get(id(data.base))
            if index is None:
                index = bases[id(data.base)] = len(bases)
                _record(buf, [index], data.base)
            _record(buf, [label, name, index, list(data.bits)], b"")
        elif isinstance(data, Package):
            _record(buf, [label, name, [[rel, len(d)] for rel, d in data.files]],
                    b"".join(d for _, d in data.files))
        else:
            _record(buf, [label, name], data)
    return buf.getvalue()


def _record(buf: io.BytesIO, head: list, data: bytes) -> None:
    encoded = json.dumps([*head, len(data)]).encode()
    buf.write(struct.pack("<I", len(encoded)) + encoded + data)


def load(blob: bytes) -> list[Case]:
    out: list[Case] = []
    bases: list[bytes] = []
    pos = 0
    while pos < len(blob):
        (n,) = struct.unpack_from("<I", blob, pos)
        *head, size = json.loads(blob[pos + 4:pos + 4 + n])
        pos += 4 + n
        data = blob[pos:pos + size]
        pos += size
        if len(head) == 1:  # a base, [its index]
            bases.append(data)
        elif len(head) == 4:
            out.append((head[0], head[1], Flips(bases[head[2]], tuple(head[3]))))
        elif len(head) == 3:  # a package: [label, name, [[path, size], ...]]
            files, at = [], 0
            for rel, n in head[2]:
                files.append((rel, data[at:at + n]))
                at += n
            out.append((head[0], head[1], Package(tuple(files))))
        else:
            out.append((head[0], head[1], data))
    return out


# --- programs --------------------------------------------------------------------------------

_TOKENS = ("let", "fn", "x", "y", "=", "(", ")", "[", "]", "{", "}", ",", ":", "->", "+", "*",
           "@", "**", "1", "2.5", '"s"', "float16", "int", "return", "if", "else", "for",
           "in", "range", "while", "loop", "break", "zeros", "load_model", "print", ".", "\n",
           "main", "struct", "tensor", "import", "//", "/*", "*/", "'", "\"", "%%", "~", "?",
           "⊗", "⊙", "\t", "\r", "\u2028", "é", "\\", "true", "::", "f16", "as", "learn")
_VALID = ('fn double(x: float16[N, D]) -> float16[N, D] {\n    return x * 2.0\n}\n'
          'let a = ones([2, 3])\nlet b = double(a)\nprint(b)\nlet n = 3\n'
          'for i in range(n) {\n    print(i)\n}\n')


def program_cases(random_count: int = 150) -> list[Case]:
    """Hostile programs: random bytes, random token soup, invalid UTF-8, a 5 MB line,
    10,000 nested brackets and blocks, huge integers, a 10^12-element tensor, runaway loops
    and recursion (the runs are interrupted; recursion must end in a clear error)."""
    rng = random.Random(17)
    out: list[Case] = []
    for i in range(random_count):
        out.append(("random bytes", f"bytes{i}.tl", rng.randbytes(rng.randrange(0, 2000))))
    for i in range(random_count):
        soup = " ".join(rng.choice(_TOKENS) for _ in range(rng.randrange(1, 300)))
        out.append(("random tokens", f"tokens{i}.tl", soup.encode()))
    valid = _VALID.encode()
    for i in range(30):
        data = bytearray(valid)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.choice((0x80, 0xC0, 0xFF, 0xED, 0xF4, 0xFE))
        out.append(("invalid UTF-8", f"utf8_{i}.tl", bytes(data)))
    five = 5 * 1024 * 1024
    out += [
        ("a 5 MB line", "line_string.tl", b'let s = "' + b"a" * five + b'"\nprint(len(s))\n'),
        ("a 5 MB line", "line_name.tl", b"let " + b"n" * five + b" = 1\n"),
        ("a 5 MB line", "line_sum.tl", b"let x = " + b" + ".join([b"1"] * (five // 4)) + b"\n"),
        ("a 5 MB line", "line_list.tl", b"let t = [" + b", ".join([b"1.5"] * (five // 5))
         + b"]\nprint(t.shape)\n"),
        ("a 5 MB line", "line_comment.tl", b"// " + b"x" * five + b"\nprint(1)\n"),
    ]
    n = 10_000
    for o, c in ("()", "[]", "{}"):
        out.append(("10,000 nested brackets", f"nest{o}.tl",
                    f"let x = {o * n}1{c * n}\n".encode()))
        out.append(("10,000 nested brackets", f"open{o}.tl", f"let x = {o * n}\n".encode()))
    out.append(("10,000 nested brackets", "fncall.tl", ("let x = " + "abs(" * n + "1.0"
                                                        + ")" * n + "\n").encode()))
    for opener, label in (("if true {\n", "ifs"), ("{\n", "braces"), ("loop {\n", "loops"),
                          ("for i in range(2) {\n", "fors"), ("fn f() {\n", "fns")):
        out.append(("deep blocks", f"deep_{label}.tl",
                    (opener * n + "print(1)\n" + "}\n" * n).encode()))
    out.append(("deep blocks", "deep_else.tl", ("if true { 1 } " + "else if true { 1 } " * n
                                                + "\n").encode()))
    for label, text in (
        ("4300 digits", "let x = " + "9" * 4300 + "\nprint(x)\n"),
        ("4301 digits", "let x = " + "9" * 4301 + "\n"),
        ("100,000 digits", "let x = " + "7" * 100_000 + "\n"),
        ("squared", "let x = " + "9" * 4300 + "\nprint(x * x)\n"),
        ("power", "print(2 ** 1000000000000)\n"),
        ("power in a function", "fn p(n: int) -> int {\n    return 10 ** n\n}\nprint(p(10 ** 12))\n"),
        ("squaring loop", "let z = 2\nfor i in range(40) {\n    z = z * z\n}\nprint(z)\n"),
        ("float power", "print(10.0 ** 1000)\nprint((-8.0) ** 0.5)\n"),
        ("huge float literal", "print(1e999999)\nprint(" + "9" * 4000 + ".0)\n"),
        ("string repeat", 'let s = "ab" * 1000000000000\n'),
        ("int as dimension", "let z = zeros([" + "9" * 4000 + "])\n"),
    ):
        out.append(("huge integer literals", f"int_{label}.tl", text.encode()))
    for label, text in (
        ("zeros", "let z = zeros([1000000, 1000000])\nprint(z)\n"),
        ("ones via variables", "let n = 1000000\nlet z = ones([n, n])\nprint(z)\n"),
        ("declaration", "tensor t: float16[1000000, 1000000]\nprint(t)\n"),
        ("matmul", "let a = ones([200000, 200000])\nlet b = a @ a\n"),
        ("computed shape", "fn big(n: int) -> int {\n    return n * n\n}\n"
                           "let z = zeros([big(1000), big(1000)])\n"),
        ("reshape", "let a = ones([10])\nlet b = reshape(a, [1000000, 1000000])\n"),
        ("broadcast", "let a = ones([1000000, 1])\nlet b = ones([1, 1000000])\nlet c = a + b\n"),
        ("cast", "let a = ones([100000, 100000])\nlet b = a as float32\n"),
    ):
        out.append(("a tensor of 10^12 elements", f"tera_{label}.tl", text.encode()))
    for label, text in (
        ("loop", "loop {\n}\n"),
        ("while", "let i = 0\nwhile true {\n    i = i + 1\n}\n"),
        ("for", "for i in range(1000000000000) {\n    let x = i\n}\n"),
        ("recursion", "fn f(n: int) -> int {\n    return f(n + 1)\n}\nprint(f(1))\n"),
        ("mutual recursion", "fn a(n: int) -> int {\n    return b(n)\n}\n"
                             "fn b(n: int) -> int {\n    return a(n)\n}\nprint(a(1))\n"),
        ("tensor recursion", "fn g(x: float16[?]) -> float16[?] {\n    return g(x + 1.0)\n}\n"
                             "print(g(ones([4])))\n"),
        ("tensor loop", "let t = ones([64, 64])\nloop {\n    t = t @ t\n}\n"),
    ):
        out.append(("runaway loops and recursion", f"run_{label}.tl", text.encode()))
    return out
