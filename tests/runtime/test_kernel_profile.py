"""bench/generate.py's `--kernels` summary (KernelProfile.report) from known kernel times."""

from __future__ import annotations

import pytest

from bench.generate import KernelProfile


def test_report_sums_kernels_per_token() -> None:
    p = KernelProfile()
    # (name, start us, end us): 2 tokens; busy 10 + 30 + 20 = 60 us over a span of 0..100
    p.kernels = [("gemv", 0.0, 10.0), ("sdpa", 40.0, 70.0), ("gemv", 80.0, 100.0)]
    lines = p.report("ours", tokens=2, top=5)
    # idle: 10..40 (30 us, over 20) and 70..80 (10 us): 40 us, one long gap of 30, per 2 tokens
    assert lines[0] == ("ours: per token 1.5 kernels, busy 30.0 us, span 50.0 us (60% busy); "
                        "idle between kernels per token: 20.0 us, of it 0.5 gaps over 20 us "
                        "(15.0 us)")
    assert lines[1:] == ["        15.0 us    1.0x  gemv", "        15.0 us    0.5x  sdpa"]


def test_report_says_why_there_is_no_profile() -> None:
    p = KernelProfile()
    assert p.report("ours", 4) == ["ours: no kernels recorded"]
    p.error = "no device profile: torch sees no CUDA device"
    assert p.report("hand-written", 4) == ["hand-written: no device profile: torch sees no "
                                           "CUDA device"]


def test_without_a_cuda_device_the_block_runs_and_says_so() -> None:
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and torch.cuda.is_available():
        pytest.skip("a CUDA device: the profile is taken")
    p = KernelProfile()
    ran = []
    with p():
        ran.append(1)
    assert ran == [1]
    assert p.error.startswith("no device profile: ")
    assert p.kernels == []
