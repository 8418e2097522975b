"""The one registry of built-in functions (LANGUAGE.md section 7): `BUILTINS`, name -> entry.

Each entry (`tl_core.lang.registry.Builtin`) declares its parameters with their kinds and
defaults, what it returns, a one-paragraph doc, a category, whether it is pure, and its shape
rule (`tl_core.lang.rules`); the runtime registers the implementation into the entry
(`@implements` in `tl_core.runtime.ops`). Hover, completion, signature help, the TextMate
grammar, the checker and the runtime all read this table: adding a built-in is one `_add`
here, one implementation, and their tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tl_core.lang import rules as R
from tl_core.lang.registry import REQUIRED, Builtin, BuiltinParam, ShapeRule, register_impl
from tl_core.lang.types import INT, STRING, UNKNOWN, VOID, ListType, ModelType, TensorType


def P(name: str, kind: str, default: object = REQUIRED, doc: str = "") -> BuiltinParam:
    return BuiltinParam(name, kind, default, doc)


BUILTINS: dict[str, Builtin] = {}


def _add(name: str, params: tuple[BuiltinParam, ...], returns: str, category: str,
         doc: str, rule: ShapeRule, variadic: bool = False, var_keyword: bool = False,
         pure: bool = True) -> None:
    BUILTINS[name] = Builtin(name, params, variadic, returns, doc, category, rule, var_keyword,
                             pure)


X = P("x", "tensor", doc="the input tensor")
_DIM_OPT = P("dim", "int", None, "the axis to reduce; all axes when omitted")
_KEEP = P("keepdim", "bool", False, "keep the reduced axis with size 1")

# Model
_add("load_model", (P("path", "model_path", doc="a .safetensors, .gguf, .mlmodel or .mlpackage "
                                            "file, relative to the program"),),
     "Model", "model",
     "Open a model file and return its named tensors and metadata. The format is detected "
     "from the magic bytes (falling back to the extension); relative paths resolve against "
     "the program's own directory. Only the header is read here; each tensor is loaded and "
     "converted to float16 on first `get_tensor`.", R.opened_model, pure=False)
_add("load_model_f16", (P("path", "model_path", doc="the model file"),), "Model", "model",
     "Same as `load_model` (the original's memory-mapped GGUF loader; every loader here maps "
     "the file and converts each tensor to float16 on first use).", R.opened_model, pure=False)
_add("load_model_f32", (P("path", "model_path", doc="the model file"),), "Model", "model",
     "Same as `load_model`: the dialect computes in float16 regardless, so this exists for "
     "programs written for other TensorLogic implementations.", R.opened_model, pure=False)
_add("save_model", (P("model", "model", doc="the model to write"),
                    P("path", "string", doc="the .safetensors file to write")),
     "void", "model",
     "Write a model as SafeTensors (float16) that PyTorch's `safetensors.torch.load_file` "
     "reads back bit-exact. The file is written to a temporary name in the same directory "
     "and renamed, so a failed save never leaves a half-written file. Saving to .gguf is an "
     "error: GGUF and CoreML files are read-only sources.", R.fixed(VOID), pure=False)
_add("get_tensor", (P("model", "model", doc="a value of load_model or model_from"),
                    P("name", "tensor_name", doc="the tensor's name in the file")),
     "tensor", "model",
     "One tensor of a model, with its shape in row-major (PyTorch) order. Also written "
     "`model.get_tensor(name)`. Floating-point and quantized tensors are converted to "
     "`float16`; integer tensors keep integer values, as `int32` (I8, I16, I32, U8, U16), "
     "`int64` (I64, U32, U64) or `bool`, for indexing and `embedding`.", R.get_tensor,
     pure=False)
_add("model_from", (P("tensors", "tensor", doc="name: tensor pairs; names may be quoted"),),
     "Model", "model",
     "Build a Model from named tensors given as keyword arguments, whose names may be "
     "quoted since tensor names contain dots: `model_from(\"layer.0.weight\": W)`.",
     R.fixed(ModelType()), var_keyword=True, pure=False)
_add("names", (P("model", "model", doc="a value of load_model or model_from"),),
     "list[string]", "model",
     "The names of a model's tensors, in file order; also written `model.names()`.",
     R.fixed(ListType(STRING)), pure=False)

# Tokenizer (UPSTREAM.md §13; tl_core.tokenizer)
_TOK = P("tok", "tokenizer", doc="a value of load_tokenizer")
_add("load_tokenizer", (P("path", "tokenizer_path", doc="a tokenizer.json (or a directory "
                                                      "holding one) or a .gguf file"),),
     "Tokenizer", "model",
     "Load a tokenizer: a HuggingFace `tokenizer.json`, or the tokenizer stored in a GGUF "
     "file's metadata (`gpt2` byte-level BPE or `llama` SentencePiece BPE, with its special "
     "tokens and chat template). Relative paths resolve against the program's directory.",
     R.opened_tokenizer, pure=False)
_add("tokenize", (_TOK, P("text", "string", doc="the text"),
                  P("add_special", "bool", doc="add what the tokenizer adds around a text "
                                               "(a BOS for Llama-style tokenizers)")),
     "token ids", "model",
     "The token ids of `text` as a 1-D int32 tensor, which `embedding` and `detokenize` "
     "take. Special tokens written in the text (`<|im_start|>`) become their ids.",
     R.token_ids, pure=False)
_add("detokenize", (_TOK, P("ids", "indices", doc="token ids (an int tensor or a list)"),
                    P("skip_special", "bool", doc="leave special tokens out of the text")),
     "string", "model",
     "The text of token ids. Ids outside the vocabulary are an error.", R.fixed(STRING),
     pure=False)
_add("detokenize_single", (_TOK, P("id", "int", doc="one token id"),
                           P("skip_special", "bool", doc="a special token decodes to \"\"")),
     "string", "model",
     "The text of one token decoded alone. A SentencePiece tokenizer drops the token's "
     "leading word space here, so joining single decodes loses spaces; decode the whole "
     "list with `detokenize` for text.", R.fixed(STRING), pure=False)
_add("detokenize_incremental", (_TOK, P("ids", "indices",
                                       doc="all the ids generated so far"),
                                 P("shown", "string", None,
                                   "the text printed so far (what earlier calls returned)")),
     "string", "model",
     "The text of all of `ids`, special tokens included (as the original: despite the name "
     "it keeps no state and decodes the whole list). With `shown`, only what follows it: "
     "the new text to print when streaming, a character whose bytes span tokens held back "
     "until its last token is in (where `detokenize_single` of each token gives replacement "
     "characters): `let new = detokenize_incremental(tok, reply, shown)`, "
     "`print(new, end: \"\")`, `shown = shown + new`.", R.fixed(STRING), pure=False)
_add("chat_prompt", (_TOK, P("messages", "any", doc="a list of [role, content] pairs, or "
                                                    "one user message as a string"),
                     P("add_generation_prompt", "bool", True,
                       "end with the assistant's turn opening")),
     "string", "model",
     "The prompt text for a conversation, rendered with the tokenizer's chat template "
     "(`tokenizer.chat_template`, Jinja, in a sandbox): "
     "`chat_prompt(tok, [[\"system\", \"Be brief.\"], [\"user\", \"Hi\"]])`.",
     R.fixed(STRING), pure=False)

# Creation
_add("tensor", (P("data", "any", doc="a (nested) list of numbers"),
                P("device", "device", "gpu", doc="gpu or cpu")),
     "tensor", "creation",
     "Make a tensor from a rectangular nested list literal, written "
     "`tensor<float16>([[1.0, 2.0], [3.0, 4.0]], device: gpu)`. Integer tensors "
     "(`tensor<int>(...)`) are meant as gather indices.", R.tensor_ctor)
_SHAPE = P("shape", "shape", doc="the sizes, e.g. [2, 3] or x.shape")
_add("zeros", (_SHAPE,), "tensor", "creation",
     "A float16 tensor of the given shape filled with 0.", R.creation)
_add("ones", (_SHAPE,), "tensor", "creation",
     "A float16 tensor of the given shape filled with 1.", R.creation)
_add("full", (_SHAPE, P("value", "float", doc="the fill value")), "tensor", "creation",
     "A float16 tensor of the given shape filled with `value`.", R.creation)
_add("arange", (P("a", "int", doc="n, or the first value when b is given"),
                P("b", "int", None, "one past the last value")), "tensor", "creation",
     "`arange(n)`: the values 0, 1, ..., n-1 as a 1-D float32 tensor (the original's: "
     "exact past 2048, where float16 is not); `arange(a, b)`: the values a, a+1, ..., b-1 "
     "(empty when b <= a). `f16::arange` makes float16.", R.arange)
_add("rand", (_SHAPE,), "tensor", "creation",
     "A float16 tensor of the given shape with values drawn uniformly from [0, 1).",
     R.creation, pure=False)
_add("randn", (_SHAPE,), "tensor", "creation",
     "A float16 tensor of the given shape with values drawn from the standard normal "
     "distribution.", R.creation, pure=False)

# Shape
_add("shape", (P("x", "tensor", doc="any tensor"),), "shape", "shape",
     "The sizes of a tensor as a list of integers; also written `x.shape`.", R.shape_of)
_add("len", (P("x", "any", doc="a tensor, list or string"),), "int", "shape",
     "The size of the first dimension of a tensor, the length of a list, or the length of a "
     "string in UTF-8 bytes (as the original TensorLogic counts).", R.len_of, pure=False)
_add("reshape", (X, P("shape", "shape", doc="the new sizes; one may be -1")), "tensor",
     "shape",
     "The same elements with a new shape. One size may be -1 and is then computed from the "
     "element count; the element counts must agree.", R.reshape)
_add("transpose", (P("x", "tensor", doc="a 2-D tensor"),), "tensor", "shape",
     "The transpose of a 2-D tensor: `[m, n]` becomes `[n, m]`. Also written `x.T`. Use "
     "`permute` for other ranks.", R.transpose)
_add("permute", (X, P("dims", "dims", doc="a permutation of the axes, e.g. [0, 2, 1]")),
     "tensor", "shape",
     "Reorder the axes of a tensor: result axis i is input axis dims[i].", R.permute)
_add("flatten", (X,), "tensor", "shape",
     "The elements of a tensor as a 1-D tensor, in row-major order.", R.flatten)
_add("squeeze", (X, P("dim", "int", None, "the axis of size 1 to remove; all when omitted")),
     "tensor", "shape",
     "Remove an axis of size 1 (or every axis of size 1 when `dim` is omitted; when every "
     "axis has size 1 the result is `[1]`, as the original's).", R.squeeze)
_add("unsqueeze", (X, P("dim", "int", doc="where the new axis goes")), "tensor", "shape",
     "Insert an axis of size 1 at position `dim` (negative counts from the end).",
     R.unsqueeze)
_add("concat", (P("a", "tensor", doc="the first tensor, or a list of tensors [a, b, ...]"),
                P("b", "tensor", None, "the second tensor (or the axis, after a list)"),
                P("dim", "int", None, "the axis to join along; 0 when omitted")),
     "tensor", "shape",
     "Join tensors along an existing axis: `concat(a, b, dim)` or `concat([a, b, ...], dim)`. "
     "Every other axis must have the same size.", R.concat)
_add("split", (X, P("size", "int", doc="the size of each piece"),
               P("dim", "int", 0, "the axis to split")), "list[tensor]", "shape",
     "Cut a tensor along `dim` into pieces of `size` entries; the last piece is smaller when "
     "`size` does not divide the axis. Returns the list of pieces.", R.split)
_add("chunk", (X, P("chunks", "int", doc="the number of pieces"),
               P("dim", "int", 0, "the axis to split")), "list[tensor]", "shape",
     "Cut a tensor along `dim` into `chunks` pieces of ceil(n / chunks) entries (the last "
     "smaller, fewer pieces when n is small). Returns the list of pieces.", R.chunk)
_add("slice", (X, P("a", "int", doc="start, or the row in the 4-argument form"),
               P("b", "int", doc="end (exclusive), or the start column"),
               P("c", "int", None, "the end column (exclusive) of the 4-argument form"),
               P("dim", "int", None, "the axis of the 3-argument form; 0 when omitted")),
     "tensor", "shape",
     "`slice(v, start, end)`: the entries start..end-1 along axis `dim` (default 0). "
     "`slice(m, row, start, end)`: `m[row, start:end]`, a row's columns start..end-1. "
     "Negative indices count from the end.", R.slice_rule)
_add("slice_last", (X, P("dim", "int", 0, "the axis")), "tensor", "shape",
     "The last entry along axis `dim`, with that axis removed: `slice_last(logits, 0)` of "
     "a `[seq, vocab]` tensor is `[vocab]`.", R.slice_last)
_add("gather", (X, P("dim", "int", doc="the axis to gather along"),
                P("index", "indices", doc="positions along dim; the result has its shape")),
     "tensor", "shape",
     "PyTorch's gather: `out[i][j] = x[index[i][j]][j]` for dim 0 (and likewise for other "
     "axes); `index` has as many dimensions as `x`. Float index tensors are truncated.",
     R.gather)
_add("scatter", (X, P("dim", "int", doc="the axis to write along"),
                 P("index", "indices", doc="positions along dim"),
                 P("src", "tensor", doc="the values, shaped like index")),
     "tensor", "shape",
     "PyTorch's scatter: a copy of `x` with `out[index[i][j]][j] = src[i][j]` for dim 0 (and "
     "likewise for other axes).", R.scatter)
_add("broadcast_to", (X, P("shape", "shape", doc="the target sizes")), "tensor", "shape",
     "The tensor broadcast (NumPy rules) to the given shape, without copying.",
     R.broadcast_to)

# Math
_add("matmul", (P("a", "tensor"), P("b", "tensor")), "tensor", "math",
     "Matrix product with NumPy `matmul` rules, the same as `a @ b`: 1-D operands are "
     "treated as vectors, leading axes broadcast as a batch.", R.matmul)
for _n, _op, _what in (("add", "+", "sum"), ("sub", "-", "difference"),
                       ("mul", "*", "product"), ("div", "/", "quotient"),
                       ("pow", "**", "power a ** b")):
    _add(_n, (P("a", "tensor"), P("b", "tensor")), "tensor", "math",
         f"The element-wise {_what} of two tensors with NumPy broadcasting; the same as "
         f"`a {_op} b`.", R.binary(_op))
for _n, _what in (("exp", "e raised to each element"), ("log", "the natural logarithm"),
                  ("sqrt", "the square root"),
                  ("sin", "the sine (radians)"), ("cos", "the cosine (radians)"),
                  ("tan", "the tangent (radians)"), ("tanh", "the hyperbolic tangent"),
                  ("sigmoid", "the logistic sigmoid 1 / (1 + exp(-x))"),
                  ("relu", "max(x, 0)"),
                  ("silu", "x * sigmoid(x) (also called swish)")):
    _add(_n, (X,), "tensor", "math", f"Element-wise: {_what}. The shape is unchanged.",
         R.same())
_add("gelu", (X, P("approximate", "string", "tanh",
                   "\"tanh\" (the original's) or \"none\" (exact, erf-based)")),
     "tensor", "math",
     "Element-wise Gaussian error linear unit. By default the tanh form the original "
     "computes, `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))` (GPT-2's, "
     "PyTorch's `approximate=\"tanh\"`); `approximate: \"none\"` is the exact "
     "`0.5 * x * (1 + erf(x / sqrt(2)))` of BERT-style models. The shape is unchanged.",
     R.gelu)
_add("abs", (P("x", "tensor", doc="a number or a tensor"),), "tensor", "math",
     "The absolute value: an int for an int and a float for a float (as the original: "
     "`abs(-7) / 2` is the int 3); element-wise for a tensor (same shape and dtype).",
     R.absolute)
for _n, _what in (("floor", "the largest integer <= x"), ("ceil", "the smallest integer >= x"),
                  ("round", "x rounded to the nearest integer, halves away from zero")):
    _add(_n, (P("x", "tensor", doc="a number or a tensor"),), "int", "math",
         f"{_what[0].upper()}{_what[1:]}: an int for a number; element-wise for a tensor "
         f"(same shape and dtype).", R.rounding)
_add("softmax", (X, P("dim", "int", -1, "the axis that sums to 1")), "tensor", "math",
     "The softmax along `dim` (default the last axis), computed stably by subtracting the "
     "maximum. As the original's kernel, -inf, +inf and NaN entries weigh 0 and a row with "
     "nothing finite is uniform (1/n), never NaN. The shape is unchanged.", R.softmax)
for _n, _what in (("sum", "the sum"), ("mean", "the mean"), ("max", "the maximum"),
                  ("min", "the minimum")):
    _add(_n, (X, _DIM_OPT, _KEEP), "tensor", "math",
         f"Reduce by {_what} along `dim`, or over every element when `dim` is omitted. "
         f"With `keepdim: true` the reduced axis stays with size 1.", R.reduction())
for _n, _what in (("argmax", "largest"), ("argmin", "smallest")):
    _add(_n, (X, _DIM_OPT, _KEEP), "tensor", "math",
         f"The index of the {_what} value along `dim` (of the flattened tensor when `dim` "
         f"is omitted), as an integer tensor usable as gather indices.", R.reduction(True))

# NN
_add("linear", (X, P("W", "tensor", doc="the weight, [out, in] (PyTorch nn.Linear)"),
                P("b", "tensor", None, "the bias, [out]")), "tensor", "nn",
     "`x @ transpose(W) + b` with PyTorch's `nn.Linear` convention: `W` is `[out, in]`, so "
     "weights loaded from a PyTorch or HuggingFace file are used as they are. `x` is "
     "`[..., in]` and the result `[..., out]`.", R.linear)
_add("rms_norm", (X, P("w", "tensor", doc="the scale, [D]"),
                  P("eps", "float", 1e-6, "added to the mean square")), "tensor", "nn",
     "RMS normalization over the last axis: `x / sqrt(mean(x**2) + eps) * w`, as in "
     "LLaMA-style models. `w` has the size of the last axis.", R.norm)
_add("layer_norm", (X, P("w", "tensor", None, "the scale, [D]; none: 1"),
                    P("b", "tensor", None, "the shift, [D]; none: 0; a number here is eps"),
                    P("eps", "float", 1e-5, "added to the variance")), "tensor", "nn",
     "Layer normalization over the last axis: `(x - mean) / sqrt(var + eps) * w + b` (biased "
     "variance), as in BERT-style models; `layer_norm(x)` is the plain normalization. A "
     "number as the third argument is eps (the original's `layer_norm(x, w, eps)`). The "
     "original ignores `w` (no scale or shift): a positional `w` gets a warning, `w:` "
     "says the scale is meant.", R.layer_norm)
_add("embedding", (P("table", "tensor", doc="[vocab, dim]"),
                   P("ids", "indices", doc="an integer tensor of token ids")), "tensor", "nn",
     "Look up rows of an embedding table: the result is `ids.shape + [dim]`. The same as "
     "`table[ids, :]`.", R.embedding)
_add("causal_mask", (P("n", "int", doc="the sequence length"),), "tensor", "nn",
     "An `[n, n]` float16 keep/drop mask: 1 on and below the diagonal, 0 above, so with "
     "`apply_attention_mask` position i attends only to positions <= i.", R.causal_mask)
_add("apply_attention_mask", (P("scores", "tensor", doc="attention scores [..., n, n]"),
                              P("mask", "tensor", doc="1 (or true) keeps, 0 (false) drops; "
                                                      "e.g. causal_mask(n)")),
     "tensor", "nn",
     "`scores + (1 - mask) * big_negative`: kept scores are unchanged, dropped ones become a "
     "large finite negative (-1e9; -1e4 in float16, so no NaN), which the softmax turns into "
     "0. The mask broadcasts to the scores.", R.attention_mask)
_add("rope", (X, P("offset", "any", 0, "the position of the first sequence entry; or the cos "
                                         "table of rope(x, cos, sin)"),
              P("sin", "tensor", None, "the sin table of rope(x, cos, sin)"),
              P("base", "float", 10000.0, "the frequency base"),
              P("halves", "bool", False, "rotate x[i] with x[i + d/2] (HuggingFace) instead "
                                         "of consecutive pairs")), "tensor", "nn",
     "Rotary position embedding of `x` [..., seq, heads, head_dim] (a 2-D x is [seq, "
     "head_dim]): each consecutive pair (x[2p], x[2p+1]) at sequence index t rotates by the "
     "angle (t + offset) * base^(-2p / head_dim), the llama.cpp / GGUF convention. With "
     "`halves: true` x[i] pairs with x[i + head_dim/2], the convention of HuggingFace "
     "SafeTensors checkpoints. `rope(x, cos, sin)` rotates x [seq, heads, head_dim] by the "
     "tables of `precompute_rope_cos/sin` (rows from position 0). The shape is unchanged.",
     R.rope)
_add("dropout", (X, P("p", "float", doc="the probability of zeroing an element, in [0, 1)"),
                 P("training", "bool", True, "false: x unchanged (inference)")), "tensor", "nn",
     "Inverted dropout: while training, each element is zeroed with probability `p` and the "
     "others scaled by 1 / (1 - p), so the expected value is unchanged; `seed(n)` fixes the "
     "draw. With `training: false`, x itself.", R.same(), pure=False)
_add("batch_norm", (X, P("gamma", "tensor", None, "the scale, [C]; none: 1"),
                    P("beta", "tensor", None, "the shift, [C]; none: 0"),
                    P("eps", "float", 1e-5, "added to the variance")), "tensor", "nn",
     "Batch normalization with the batch's statistics: each feature (last axis) is "
     "normalized over every other axis, `(x - mean) / sqrt(var + eps) * gamma + beta` "
     "(biased variance, as PyTorch's training mode).", R.norm)
_add("apply_mask", (P("scores", "tensor", doc="attention scores"),
                    P("mask", "tensor", doc="0 drops a position, anything else keeps it")),
     "tensor", "nn",
     "The original's attention-cache mask: scores where mask is 0 are replaced by -10000, "
     "the others kept (`where(mask == 0, -10000, scores)`; the mask broadcasts).",
     R.attention_mask)
_add("positional_encoding", (P("seq_len", "int", doc="the number of positions"),
                             P("d_model", "int", doc="the embedding size")), "tensor", "nn",
     "The original's sinusoidal table, float16 `[seq_len, d_model]`: angle = pos / "
     "10000^(i / d_model) for column i, sin(angle) in even columns, cos(angle) in odd ones.",
     R.positional_encoding)
_add("padding_mask", (P("lengths", "tensor", doc="1-D [batch]: each sequence's length"),
                      P("max_len", "int", doc="the padded length")), "tensor", "nn",
     "`[batch, max_len]` keep/drop mask: 1 where position < length, else 0.", R.padding_mask)
_add("combine_masks", (P("a", "tensor", doc="a keep/drop mask"),
                       P("b", "tensor", doc="another mask of the same shape")), "tensor", "nn",
     "The element-wise product of two keep/drop masks (keep where both keep).",
     R.binary("*"))
for _n, _f in (("cos", "cos"), ("sin", "sin")):
    _add(f"precompute_rope_{_n}", (P("head_dim", "int", doc="the (even) head size"),
                                   P("max_seq_len", "int", doc="the number of positions"),
                                   P("base", "float", 10000.0, "the frequency base")),
         "tensor", "nn",
         f"The {_f} table of `rope(x, cos, sin)`, float16 `[max_seq_len, head_dim]`: columns "
         f"2k and 2k+1 of row t hold {_f}(t * base^(-2k / head_dim)).", R.rope_table)
_add("fused_add_relu", (P("a", "tensor"), P("b", "tensor")), "tensor", "nn",
     "`relu(a + b)` in one call (the original's fused kernel; the same numbers).",
     R.binary("+"))
_add("fused_mul_relu", (P("a", "tensor"), P("b", "tensor")), "tensor", "nn",
     "`relu(a * b)` in one call (the original's fused kernel; the same numbers).",
     R.binary("*"))
_add("fused_affine", (X, P("scale", "tensor"), P("bias", "tensor")), "tensor", "nn",
     "`x * scale + bias` (broadcasting).", R.first_tensor("x"))
_add("fused_gelu_linear", (X, P("W", "tensor", doc="[in, out] (no transpose, unlike linear)"),
                           P("b", "tensor", doc="[out]")), "tensor", "nn",
     "`gelu(x) @ W + b` (gelu's tanh form), as the original computes it: `W` is "
     "`[in, out]`, not transposed.",
     R.fused_gelu_linear)
_add("einsum", (P("spec", "spec", doc='subscripts such as "ij,jk->ik"'),
                P("operands", "tensor", doc="one tensor per operand of the spec")),
     "tensor", "nn",
     "Einstein summation: `einsum(\"ij,jk->ik\", A, B)` is a matrix product. The spec names "
     "each operand's axes with letters; letters missing from the output are summed.",
     R.einsum, variadic=True)

# Sampling (UPSTREAM.md §14.1; tl_core.runtime.sampling): on the device
_LOGITS = P("logits", "tensor", doc="[vocab] or [seq, vocab] (the last row is used)")
_add("temperature_sample", (_LOGITS, P("T", "float", doc="the temperature; <= 0.0001 is "
                                                         "greedy")),
     "int", "nn",
     "The next token id: with `T <= 0.0001` the index of the largest logit (the last one "
     "on ties), else a draw from `softmax(logits / T)`. Seed with `seed(n)` for "
     "reproducible runs.", R.sample_rule, pure=False)
_add("top_k", (P("logits", "tensor", doc="[..., vocab]"),
               P("k", "int", doc="how many of the largest logits to keep")),
     "tensor", "nn",
     "The logits with all but the `k` largest of each row set to -inf (ties with the k-th "
     "are kept), for `temperature_sample(top_k(logits, 40), 0.8)`.", R.logits_filter)
_add("top_p", (P("logits", "tensor", doc="[..., vocab]"),
               P("p", "float", doc="the probability mass to keep, in (0, 1]")),
     "tensor", "nn",
     "Nucleus filtering: keep the most probable tokens whose probabilities, summed from "
     "the largest, first reach `p` (at least one); the rest become -inf.", R.logits_filter)
_add("seed", (P("n", "int", doc="the seed"),), "void", "utility",
     "Seed the random generator used by `temperature_sample`, `rand` and `randn`, so a run "
     "draws the same values each time.", R.fixed(VOID), pure=False)

# KV cache and attention (UPSTREAM.md §14.4, §10.7; tl_core.runtime.kvcache, .attention)
for _n, _what in (("new", "float16"), ("new_f16", "float16"), ("new_f32", "float32")):
    _add(f"KVCache::{_n}", (P("n", "int", doc="the number of layers"),), "KVCache", "nn",
         f"A key/value cache of `n` layers holding {_what} tensors, all layers empty. Each "
         f"layer grows along axis 0 in a buffer preallocated on the device (256 rows at a "
         f"time), so appending a token does not copy the cache. Shared by reference.",
         R.new_kvcache(_what), pure=False)
_CACHE = P("cache", "kvcache", doc="a KVCache")
_LAYER = P("layer", "int", doc="the layer index, 0 <= layer < n")
_add("set", (_CACHE, _LAYER, P("K", "tensor", doc="keys, [rows, ...]"),
             P("V", "tensor", doc="values, [rows, ...]")), "void", "nn",
     "`cache.set(layer, K, V)`: replace a layer's keys and values.", R.cache_store,
     pure=False)
_add("append", (P("x", "any", doc="a KVCache, token ids, or a tensor to add rows to"),
                P("values", "any", doc="layer, K, V for a cache; one id for token ids; the "
                                       "rows for a tensor")),
     "any", "nn",
     "`cache.append(layer, K, V)` adds the rows of K and V (axis 0) after a layer's stored "
     "ones, in place; `append(ids, id)` returns token ids one longer (an int, a float "
     "truncated, or a one-element tensor); `t.append(rows)` returns `t` with the rows "
     "(its trailing shape, or one row) added along axis 0 in t's dtype, within the capacity "
     "of a `Tensor::create_cache` buffer (\"Cache overflow\" beyond it).", R.append_rule,
     variadic=True, pure=False)
for _n, _what in (("f16", "float16"), ("f32", "float32")):
    _add(f"{_n}::from_array", (P("data", "any", doc="numbers: a (nested) list or a tensor"),
                               P("shape", "shape", None, "the shape to give them (the same "
                                                         "element count); their own when "
                                                         "omitted")),
         "tensor", "creation",
         f"A {_what} tensor of the values of `data`, rounded once from the literal's "
         f"digits: `{_n}::from_array([1.0, 2.0, 3.0, 4.0], [2, 2])`.",
         R.from_array(_what))
_add("Tensor::create_cache", (P("max_len", "int", doc="how many rows the buffer may hold"),
                              P("shape_rest", "shape", doc="the shape of one row, e.g. [64]")),
     "tensor", "creation",
     "An empty float32 buffer `[0, *shape_rest]` with room for `max_len` rows, grown with "
     "`cache = cache.append(rows)` (rows along axis 0; more than `max_len` rows is the "
     "error \"Cache overflow\"), as the original's pre-allocated append buffers.",
     R.create_cache, pure=False)
_add("get_k", (_CACHE, _LAYER), "tensor", "nn",
     "`cache.get_k(layer)`: the keys stored in a layer (a view of the cache's buffer).",
     R.cache_tensor, pure=False)
_add("get_v", (_CACHE, _LAYER), "tensor", "nn",
     "`cache.get_v(layer)`: the values stored in a layer (a view of the cache's buffer).",
     R.cache_tensor, pure=False)
_add("int_to_tokenids", (P("id", "int", doc="a token id"),), "token ids", "model",
     "Token ids holding one id (`int32[1]`), to start a list or feed one token.",
     R.fixed(TensorType("int32", (1,))))
_add("attention_with_cache",
     (P("Q", "tensor", doc="[s, heads, head_dim], or [s, E] with heads:"),
      P("K", "tensor", doc="the cached keys [c, kv_heads, head_dim] (this step's included, "
                           "already rotated)"),
      P("V", "tensor", doc="the cached values, like K"),
      P("W_o", "tensor", doc="the output projection [out, heads * head_dim]"),
      P("heads", "int", None, "the query head count of a 2-D Q"),
      P("base", "float", 10000.0, "the RoPE frequency base")),
     "tensor", "nn",
     "One attention step over a cache: RoPE on Q (consecutive pairs, positions c - s ...), "
     "grouped-query attention (query head h reads key/value head h / (heads / kv_heads)), "
     "a causal mask, softmax, then the output projection: `[s, out]`.", R.attention_rule)

# Training
_add("learnable", (P("t", "tensor", doc="the initial value"),), "tensor", "training",
     "Returns its argument unchanged (a mark for readers). `learn` blocks train the "
     "top-level `tensor W: float32[2, 2] learnable = ...` declarations.",
     R.same("t"), pure=False)

# Utility
_add("print", (BuiltinParam("end", "string", "\n", "written after the values; `end: \"\"` "
                                                  "continues the line (streamed text)",
                            keyword_only=True),
               P("values", "any", None, "values to print, separated by spaces")),
     "void", "utility",
     "Print values separated by spaces, then `end` (a newline unless given); when the first "
     "value is a string holding `{}` and more follow, each `{}` takes the next value "
     "(`print(\"x = {}\", x)`). Floats print as the original's Rust formatting: `2.0` as "
     "`2`, `1e-7` as `0.0000001`, `[1.0, 1e-5]` inside lists. Tensors print with their "
     "shape, dtype and device, values abbreviated like NumPy (`1` for a whole element, the "
     "shortest digits of the dtype otherwise). Output is written at once (`tl run` and "
     "editors show it while the program runs).", R.print_rule,
     variadic=True, pure=False)
_add("assert", (P("cond", "bool", doc="the condition"),
                P("msg", "string", "", "the message when it fails")), "void", "utility",
     "Stop the program with an error when `cond` is false.", R.fixed(VOID), pure=False)
_add("assert_eq", (P("a", "any"), P("b", "any")), "void", "utility",
     "Stop the program with an error showing both values when `a` and `b` differ (tensors "
     "compare shape and values).", R.fixed(VOID), pure=False)
_add("env", (P("name", "string", doc="the variable's name"),), "string", "utility",
     "The value of an environment variable, or an empty string when it is not set.",
     R.fixed(STRING), pure=False)
_add("str", (P("x", "any"),), "string", "utility",
     "The text form of a value, as `print` would show it.", R.fixed(STRING), pure=False)
_RANGE = (P("a", "int", doc="n, or the first integer when b is given"),
          P("b", "int", None, "one past the last integer"))
_add("range", _RANGE, "list[int]", "utility",
     "`range(n)`: the integers 0, 1, ..., n-1, for `for i in range(n) { }`; `range(a, b)`: "
     "a, a+1, ..., b-1 (empty when b <= a). A float bound is truncated toward zero and a "
     "1-element tensor gives its value, as in the original.", R.range_rule, pure=False)
_add("range_i", _RANGE, "list[int]", "utility",
     "The same as `range` (the name the original TensorLogic uses): `range_i(n)`, "
     "`range_i(a, b)`.", R.range_rule, pure=False)
_add("input", (P("prompt", "string", "", "written before reading, without a newline"),),
     "string", "utility",
     "One line typed on the terminal, trailing whitespace removed (`tl run`). In an editor "
     "or kernel run there is no terminal: input() is an error there, never a wait.",
     R.fixed(STRING), pure=False)
_add("to_int", (P("x", "any", doc="an int, a float or a 1-element tensor"),), "int", "utility",
     "The value as an int: a float is truncated toward zero, a 1-element tensor gives its "
     "value truncated.", R.fixed(INT), pure=False)
_add("get", (P("items", "any", doc="a list or a 1-D tensor"),
             P("i", "int", doc="the position; negative counts from the end")), "any",
     "utility",
     "The element at position `i` of a list (or of a 1-D tensor, as a number); negative `i` "
     "counts from the end; out of range is an error.", R.fixed(UNKNOWN), pure=False)
_add("string_length", (P("s", "string", doc="the text"),), "int", "utility",
     "The length of a string in UTF-8 bytes (`string_length(\"日本\")` is 6), as `len(s)`.",
     R.fixed(INT), pure=False)
_add("string_substring", (P("s", "string", doc="the text"),
                          P("start", "int", doc="the first character (0-based)"),
                          P("length", "int", doc="how many characters")), "string",
     "utility",
     "`length` characters of `s` from character `start` (Unicode characters, not bytes); "
     "clamped at the end of the string.", R.fixed(STRING), pure=False)
_add("assert_about_eq", (P("a", "tensor"), P("b", "tensor"),
                         P("eps", "float", doc="the largest allowed difference")),
     "void", "utility",
     "Stop the program with an error unless |a - b| < eps for every element (numbers or "
     "tensors of the same shape).", R.fixed(VOID), pure=False)

# The original's remaining built-ins (UPSTREAM.md 13, 12.1, 20, 21; tl_core.runtime.ops_compat)
_add("append_token", (P("ids", "indices", doc="token ids"), P("id", "int", doc="the id to add")),
     "token ids", "model",
     "`ids.append_token(id)`: token ids one longer, as `append(ids, id)` (an int only).",
     R.token_appended)
_add("rank", (P("x", "tensor", doc="a tensor"),), "int", "shape",
     "The number of dimensions of a tensor (0 for a number), as in the original's "
     "condition `if not rank(x) == 2 { ... }`; also `x.ndim`.", R.fixed(INT), pure=False)
_add("norm", (P("x", "tensor", doc="a tensor"),), "tensor", "math",
     "The L2 norm of all the elements, `sqrt(sum(x ** 2))`, computed in float32 (a float16 "
     "sum of squares overflows past 65504) as a 0-d float32 tensor, as in the original's "
     "condition `if not norm(x) > 1.0 { ... }`.", R.fixed(TensorType("float32", ())))
_add("save", (P("t", "tensor", doc="a float16 tensor"),
              P("file", "string", doc="the file to write, relative to the program")),
     "void", "model",
     "Write one float16 tensor to `file` and print `Saved tensor to: FILE`; `load(file)` "
     "reads it back. The file layout is this implementation's own (magic `TLTENSOR`, "
     "version, sizes, float16 data; docs/language.md): the original's layout is not "
     "documented, so files of the original's save() are not read here. Another dtype is an "
     "error (convert with `f16::from_array(t)`). The write is atomic.", R.saved_tensor,
     pure=False)
_add("load", (P("file", "string", doc="a file written by save(t, file)"),), "tensor", "model",
     "Read the float16 tensor that `save(t, file)` wrote and print `Loaded tensor from: FILE "
     "(shape: [..])`. The shape comes from the file, so the checker knows only that it is "
     "a float16 tensor. A file that is not save()'s, or is damaged or truncated, is an error "
     "saying what was expected.", R.fixed(TensorType("float16", None)), pure=False)
_add("cleanup", (P("names", "string", None, "names of values (strings); nothing is done"),),
     "void", "utility",
     "The original's memory hint: checks that its arguments are strings and does nothing "
     "(values are freed when no longer used).", R.fixed(VOID), variadic=True, pure=False)
for _n, _what in (("load_weight_cache_f16", "SafeTensors"), ("load_weight_cache_f32",
                                                             "SafeTensors"),
                  ("load_weight_cache_gguf_f16", "GGUF"), ("load_weight_cache_gguf_f32", "GGUF")):
    _add(_n, (P("path", "model_path", doc=f"a {_what} file"),
              P("capacity", "int", 0, "the original's cache size in tensors (not needed: "
                                       "tensors load on first use)")),
         "Model", "model",
         f"Same as `load_model` (the original's cache of {_what} tensors): navigate it like "
         f"a model (`cache.blk[0].attn_q.weight`) or read tensors with `get_tensor`.",
         R.opened_model, pure=False)

# The original's Metal memory pool (UPSTREAM.md 20; tl_core.runtime.ops_compat):
# `buf.zeros(shape)` is the entry `TensorBuffer::zeros` (the checker and the runtime look
# methods of a TensorBuffer up there).
_add("new_tensor_buffer", (P("bytes", "int", doc="the pool's size in bytes"),),
     "TensorBuffer", "creation",
     "The original's pre-allocated GPU memory pool, whose methods make float16 tensors: "
     "`buf.zeros(shape)`, `buf.ones(shape)`, `buf.alloc(shape, count, elem_size)`. MLX "
     "pools device memory itself, so the size is recorded, not reserved, and tensors are "
     "not limited by it.", R.tensor_buffer, pure=False)
_BUF = P("buf", "tensor_buffer", doc="a TensorBuffer (from new_tensor_buffer)")
_add("TensorBuffer::zeros", (_BUF, _SHAPE), "tensor", "creation",
     "`buf.zeros(shape)`: a float16 tensor of the given shape filled with 0, as "
     "`zeros(shape)`.", R.creation, pure=False)
_add("TensorBuffer::ones", (_BUF, _SHAPE), "tensor", "creation",
     "`buf.ones(shape)`: a float16 tensor of the given shape filled with 1, as "
     "`ones(shape)`.", R.creation, pure=False)
_add("TensorBuffer::alloc", (_BUF, P("shape", "shape", doc="the sizes of each tensor"),
                             P("count", "int", doc="how many tensors of that shape"),
                             P("elem_size", "int", doc="bytes per element (2 for float16)")),
     "void", "creation",
     "`buf.alloc(shape, count, elem_size)`: the original pre-allocates `count` buffers of "
     "`shape` in its pool; MLX's allocator already reuses freed buffers, so here the "
     "arguments are checked and nothing else happens.", R.buffer_alloc, pure=False)
# The methods of a TensorBuffer, for the checker, the runtime and completion.
BUFFER_METHODS: tuple[str, ...] = ("zeros", "ones", "alloc")

# Candle-backed built-ins of the original (UPSTREAM.md 21): the same computations here.
_add("cndl_matmul", (P("a", "tensor"), P("b", "tensor")), "tensor", "math",
     "Batched matrix product (the original's Candle `matmul`), the same as `a @ b`.",
     R.matmul)
_add("cndl_transpose", (X, P("dim_a", "int", doc="one axis"),
                        P("dim_b", "int", doc="the other axis")),
     "tensor", "shape", "`x` with axes `dim_a` and `dim_b` exchanged (any rank).",
     R.swap_axes)
_add("cndl_reshape", (X, P("shape", "shape", doc="the new sizes (a 1-D tensor or a list)")),
     "tensor", "shape", "The same as `reshape(x, shape)`.", R.reshape)
for _n, _what in (("softmax", "softmax"), ("log_softmax", "log of the softmax")):
    _add(f"cndl_{_n}", (X, P("dim", "int", doc="the axis")), "tensor", "math",
         f"The {_what} along `dim` (the original honours `dim` here, not in its `softmax`).",
         R.softmax_any_axis)
for _n, _what in (("gelu", "gelu, tanh form (Candle's `gelu`)"), ("silu", "x * sigmoid(x)"),
                  ("relu", "max(x, 0)"), ("tanh", "the hyperbolic tangent")):
    _add(f"cndl_{_n}", (X,), "tensor", "math",
         f"Element-wise: {_what} (the original's Candle op); the shape is unchanged.",
         R.same())
_add("cndl_layer_norm", (X, P("normalized_shape", "any", None, "ignored (the last axis)"),
                         P("w", "tensor", None, "ignored, as the original ignores it"),
                         P("b", "tensor", None, "ignored, as the original ignores it"),
                         P("eps", "float", 1e-5, "added to the variance")), "tensor", "nn",
     "`(x - mean) / sqrt(var + eps)` over the last axis. As in the original, `w` and `b` "
     "are ignored (the checker warns); `layer_norm(x, w, b, eps)` applies them.",
     R.plain_norm(("w", "b")))
_add("cndl_rms_norm", (X, P("w", "tensor", None, "ignored, as the original ignores it"),
                       P("eps", "float", 1e-5, "added to the mean square")), "tensor", "nn",
     "`x / sqrt(mean(x**2) + eps)` over the last axis. As in the original, `w` is ignored "
     "(the checker warns); `rms_norm(x, w, eps)` applies it.", R.plain_norm(("w",)))
_add("cndl_embedding", (P("ids", "indices", doc="ids: an int or float tensor, or one int"),
                        P("table", "tensor", doc="[vocab, dim]")), "tensor", "nn",
     "`embedding(table, ids)` with the arguments the other way round (float ids are "
     "truncated).", R.embedding)
_add("cndl_rope", (X, P("position", "int", doc="the position of the first sequence entry"),
                   P("theta", "float", 10000.0, "the frequency base")), "tensor", "nn",
     "Rotary embedding in the halves (NeoX) layout: `rope(x, position, base: theta, halves: "
     "true)` (the original's Candle table held one row, so it failed past one position).",
     R.same())
_PATH = P("path", "model_path", doc="a .safetensors or .gguf file")
for _n, _what in (("cndl_load_safetensor", "SafeTensors"), ("cndl_load_gguf_tensor", "GGUF")):
    _add(_n, (_PATH, P("name", "tensor_name", doc="the tensor's name in the file")),
         "tensor", "model",
         f"One tensor of a {_what} file: `get_tensor(load_model(path), name)`.",
         R.file_tensor, pure=False)
for _n, _what in (("cndl_list_safetensors", "SafeTensors"), ("cndl_list_gguf_tensors", "GGUF")):
    _add(_n, (_PATH,), "list[string]", "model",
         f"The tensor names of a {_what} file, in file order: `names(load_model(path))`.",
         R.fixed(ListType(STRING)), pure=False)
_add("cndl_load_model_safetensor", (_PATH,), "Model", "model",
     "Open a model file: the same as `load_model(path)`.", R.opened_model, pure=False)
_add("cndl_save_model_safetensor", (P("model", "model", doc="the model to write"),
                                    P("path", "string", doc="the .safetensors file")),
     "void", "model", "Write a model as SafeTensors: the same as `save_model(model, path)`.",
     R.fixed(VOID), pure=False)
_add("cndl_save_safetensor", (P("t", "tensor", doc="the tensor"),
                              P("path", "string", doc="the .safetensors file"),
                              P("name", "string", doc="its name in the file")),
     "void", "model",
     "Write one tensor as a SafeTensors file: `save_model(model_from(name: t), path)`.",
     R.fixed(VOID), pure=False)

del _n, _op, _what, _f

# `model.name(...)`: the built-ins whose first parameter is a model, as methods of a Model.
# (The original's `cndl_*` file calls take a model first but are not its methods.)
MODEL_METHODS: tuple[str, ...] = tuple(sorted(n for n, b in BUILTINS.items()
                                              if b.is_method_of_model
                                              and not n.startswith("cndl_")))

F = TypeVar("F", bound=Callable[..., Any])


def implements(name: str) -> Callable[[F], F]:
    """Decorator of the runtime: `@implements("softmax")` installs the function as the
    implementation of registry entry `softmax` (an unknown name is an error at import)."""

    def install(fn: F) -> F:
        if name not in BUILTINS:
            raise KeyError(f"@implements({name!r}): no built-in of that name in the registry")
        register_impl(BUILTINS[name], fn)
        return fn

    return install


__all__ = ["BUFFER_METHODS", "BUILTINS", "MODEL_METHODS", "implements"]
