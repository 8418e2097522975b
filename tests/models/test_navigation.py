"""The name tree behind model navigation (`model.blk[0].attn_q.weight`)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tl_core.models.navigation import NameTree, written

NAMES = ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_norm.weight",
         "blk.1.attn_q.weight", "blk.1.attn_norm.weight", "blk.2.attn_q.weight",
         "blk.2.attn_norm.weight", "output_norm.weight"]


def walk(tree: NameTree, name: str) -> str | None:
    """The prefix reached by writing `name` as navigation (`blk[0].attn_q.weight`)."""
    prefix: str | None = ""
    for part in name.split("."):
        assert prefix is not None
        prefix = tree.index(prefix, int(part)) if part.isdigit() else tree.field(prefix, part)
        if prefix is None:
            return None
    return prefix


def test_steps_reach_the_files_names():
    tree = NameTree(NAMES)
    assert tree.fields("") == ["blk", "output_norm", "token_embd"]
    assert tree.indices("blk") == [0, 1, 2] and tree.fields("blk") == []
    assert tree.index("blk", 1) == "blk.1" and tree.index("blk", 3) is None
    assert tree.index("blk", -1) == "blk.2" and tree.index("blk", -4) is None
    assert tree.field("blk.1", "attn_q") == "blk.1.attn_q"
    assert tree.is_tensor("blk.1.attn_q.weight") and not tree.is_tensor("blk.1.attn_q")
    assert tree.field("blk", "0") is None  # a number is reached with [0], not .0
    assert tree.field("", "blk.0") is None


def test_an_unknown_index_stands_for_every_layer():
    tree = NameTree(NAMES + ["blk.2.extra.weight"])
    star = tree.index("blk", None)
    assert star == "blk.*"
    assert tree.concrete("blk.*.attn_q.weight") == [f"blk.{i}.attn_q.weight" for i in range(3)]
    assert tree.is_tensor("blk.*.attn_q.weight")
    assert tree.fields("blk.*") == ["attn_norm", "attn_q", "extra"]  # the union
    assert tree.concrete("blk.*.extra.weight") == ["blk.2.extra.weight"]


def test_summary_and_written_form():
    tree = NameTree(NAMES)
    assert tree.summary("") == "blk[0..2], output_norm, token_embd"
    assert tree.summary("blk") == "[0..2]"
    assert written("blk.0.attn_q.weight") == "blk[0].attn_q.weight"
    assert written("blk.*.attn_q") == "blk[i].attn_q"


def test_messages():
    tree = NameTree(NAMES)
    assert tree.missing("m.blk[0]", "blk.0", "attn_qq", "m") == (
        "m.blk[0] has no 'attn_qq'; it has attn_norm, attn_q; did you mean 'attn_q' or "
        "'attn_norm'?")
    assert tree.out_of_range("m.blk", "blk", 7) == "m.blk[7] is out of range: m.blk has [0..2]"
    gappy = NameTree(["l.0.w", "l.2.w"])
    assert gappy.out_of_range("m.l", "l", 1) == "m.l[1] is out of range: m.l has [0..2] (2 of them)"
    assert tree.not_a_tensor("m.token_embd", "token_embd") == (
        "m.token_embd is a group of the model's tensors, not a tensor; it has weight; did you "
        "mean m.token_embd.weight?")


def test_a_tied_output_head_names_the_embedding():
    tree = NameTree(NAMES)
    msg = tree.missing("m", "", "output", "m")
    assert "ties its output head to the token embedding (it has no 'output.weight')" in msg
    assert "use m.token_embd.weight (tensor 'token_embd.weight')" in msg
    assert tree.tied_head("output.weight") is not None
    hf = NameTree(["model.embed_tokens.weight", "model.norm.weight"])
    assert "use model.model.embed_tokens.weight" in hf.tied_head("lm_head.weight")
    untied = NameTree(NAMES + ["output.weight"])
    assert untied.tied_head("output.bias") is None
    assert NameTree(["a.weight"]).tied_head("output.weight") is None


PART = st.one_of(st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True),
                 st.integers(0, 12).map(str))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(PART, min_size=1, max_size=5).map(".".join), min_size=1,
                max_size=30, unique=True))
def test_every_leaf_tensor_is_reached_by_its_parts(names):
    tree = NameTree(names)
    for name in names:
        leaf = not any(other.startswith(name + ".") for other in names)
        reached = walk(tree, name)
        assert reached == name
        assert tree.is_tensor(name) == leaf
    # and nothing else is a tensor
    for prefix in tree.children:
        assert not tree.is_tensor(prefix) or prefix in names
