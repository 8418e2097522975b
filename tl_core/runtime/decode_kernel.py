"""One-query attention over a KV cache's whole buffer in one CUDA kernel (the "kernel" form
of tl_core.runtime.decode_form).

A compiled decode step attends over each layer's preallocated buffer `[capacity, Hkv, D]`
whose first `n` rows are filled (`n` a device scalar: the step's shapes never change). MLX's
fused attention takes no length, so the other forms pay for it per layer: a mask (no fused
kernel on CUDA), or a padded bias channel (a pad of K, a concatenation of Q, a slice of the
result). On CUDA the device then waits for the host, which encodes ~5 us per kernel
(docs/benchmarks.md): this kernel does a layer's RoPE of Q, grouped-query attention over rows
`0 .. n-1` and the heads' concatenation in one launch, from the unpadded buffers.

What it computes (exactly the uncompiled `attention_with_cache` of one query at position
`n - 1`, up to float rounding): Q rotated by RoPE with consecutive pairs (llama.cpp, the
original's), rounded to Q's dtype as `mx.fast.rope` returns it; scores `q . k_r / sqrt(D)`
in float32; softmax over the filled rows with a running maximum; the weighted sum of V in
float32, rounded once to Q's dtype. One thread block per query head (4 warps, each an
interleaved quarter of the rows; a lane holds head-dimension pairs `lane + 32 j`), the
warps' partial results combined in shared memory. CUDA only: MLX has no CPU or Metal form of
`mx.fast.cuda_kernel`; tests/gpu checks it against the mask form.
"""

from __future__ import annotations

import functools
import math

import mlx.core as mx

from tl_core.runtime.tracecache import folded

_WARPS = 4

_SOURCE = """
    constexpr int WARPS = 4;
    constexpr int HALF = D / 2;
    constexpr int PAIRS = (HALF + 31) / 32;
    __shared__ float s_m[WARPS];
    __shared__ float s_l[WARPS];
    __shared__ float s_acc[WARPS][D];
    const int h = blockIdx.x;
    const int warp = threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    const int kvh = h / (HQ / HKV);
    const int len = n[0];
    const float pos = static_cast<float>(len - 1);
    const float scale = rsqrtf(static_cast<float>(D));
    float q0[PAIRS], q1[PAIRS], a0[PAIRS], a1[PAIRS];
    for (int j = 0; j < PAIRS; ++j) {
        const int p = lane + 32 * j;
        q0[j] = 0.0f; q1[j] = 0.0f; a0[j] = 0.0f; a1[j] = 0.0f;
        if (p < HALF) {
            const float x0 = static_cast<float>(q[h * D + 2 * p]);
            const float x1 = static_cast<float>(q[h * D + 2 * p + 1]);
            const float theta = pos * freqs[p];
            const float c = cosf(theta);
            const float s = sinf(theta);
            q0[j] = static_cast<float>(static_cast<T>(x0 * c - x1 * s)) * scale;
            q1[j] = static_cast<float>(static_cast<T>(x0 * s + x1 * c)) * scale;
        }
    }
    float m = -1e30f;
    float l = 0.0f;
    for (int r = warp; r < len; r += WARPS) {
        const T* kr = k + (static_cast<size_t>(r) * HKV + kvh) * D;
        float dot = 0.0f;
        for (int j = 0; j < PAIRS; ++j) {
            const int p = lane + 32 * j;
            if (p < HALF) {
                dot += q0[j] * static_cast<float>(kr[2 * p])
                     + q1[j] * static_cast<float>(kr[2 * p + 1]);
            }
        }
        for (int o = 16; o > 0; o /= 2) {
            dot += __shfl_xor_sync(0xffffffff, dot, o);
        }
        const float m_new = fmaxf(m, dot);
        const float corr = expf(m - m_new);
        const float w = expf(dot - m_new);
        l = l * corr + w;
        const T* vr = v + (static_cast<size_t>(r) * HKV + kvh) * D;
        for (int j = 0; j < PAIRS; ++j) {
            const int p = lane + 32 * j;
            if (p < HALF) {
                a0[j] = a0[j] * corr + w * static_cast<float>(vr[2 * p]);
                a1[j] = a1[j] * corr + w * static_cast<float>(vr[2 * p + 1]);
            }
        }
        m = m_new;
    }
    if (lane == 0) {
        s_m[warp] = m;
        s_l[warp] = l;
    }
    for (int j = 0; j < PAIRS; ++j) {
        const int p = lane + 32 * j;
        if (p < HALF) {
            s_acc[warp][2 * p] = a0[j];
            s_acc[warp][2 * p + 1] = a1[j];
        }
    }
    __syncthreads();
    float big = -1e30f;
    for (int w = 0; w < WARPS; ++w) {
        big = fmaxf(big, s_m[w]);
    }
    float total = 0.0f;
    for (int w = 0; w < WARPS; ++w) {
        if (s_l[w] > 0.0f) {
            total += s_l[w] * expf(s_m[w] - big);
        }
    }
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = 0.0f;
        for (int w = 0; w < WARPS; ++w) {
            if (s_l[w] > 0.0f) {
                acc += s_acc[w][d] * expf(s_m[w] - big);
            }
        }
        out[h * D + d] = static_cast<T>(acc / total);
    }
"""

@functools.cache
def _kernel() -> object:
    """The kernel object, made once per process (MLX compiles it per template argument
    tuple on first use)."""
    return mx.fast.cuda_kernel(name="tl_decode_attention",
                               input_names=["q", "k", "v", "n", "freqs"],
                               output_names=["out"], source=_SOURCE)


def usable(q3: mx.array, k3: mx.array) -> bool:
    """Whether the kernel takes this step: one query, CUDA the default device, an even head
    width of at most 256, query heads a multiple of the key/value heads, floating rows."""
    s, hq, d = q3.shape
    return (s == 1 and d % 2 == 0 and d <= 256 and k3.ndim == 3 and k3.shape[2] == d
            and hq % k3.shape[1] == 0 and q3.dtype in (mx.float16, mx.bfloat16, mx.float32)
            and mx.default_device() == mx.gpu and mx.cuda.is_available())


def attend(q3: mx.array, k3: mx.array, v3: mx.array, n: mx.array, base: float) -> mx.array:
    """`[1, Hq * D]`: Q `[1, Hq, D]` (before RoPE) over the first `n` rows (a `[1]` int32
    device array, the length after this step's append) of K and V `[capacity, Hkv, D]`."""
    _, hq, d = q3.shape
    hkv = k3.shape[1]
    dtype = q3.dtype
    freqs = folded(mx.array([base ** (-2.0 * p / d) for p in range(d // 2)], dtype=mx.float32))
    (out,) = _kernel()(  # type: ignore[operator]
        inputs=[q3, k3.astype(dtype), v3.astype(dtype), n.astype(mx.int32), freqs],
        template=[("T", dtype), ("D", d), ("HQ", hq), ("HKV", hkv)],
        grid=(hq * 32 * _WARPS, 1, 1), threadgroup=(32 * _WARPS, 1, 1),
        output_shapes=[(1, hq * d)], output_dtypes=[dtype])
    return out


def reference(q3: mx.array, k3: mx.array, v3: mx.array, n: int, base: float) -> mx.array:
    """What `attend` computes, from MLX's own ops (tests/gpu compares the two)."""
    _, hq, d = q3.shape
    qh = mx.fast.rope(q3.transpose(1, 0, 2)[None], d, traditional=True, base=base, scale=1.0,
                      offset=n - 1)
    kh = k3[:n].astype(q3.dtype).transpose(1, 0, 2)[None]
    vh = v3[:n].astype(q3.dtype).transpose(1, 0, 2)[None]
    out = mx.fast.scaled_dot_product_attention(qh, kh, vh, scale=1.0 / math.sqrt(d))
    return out.transpose(0, 2, 1, 3).reshape(1, hq * d)
