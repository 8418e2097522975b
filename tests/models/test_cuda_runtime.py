"""tl_core.models.cuda_runtime off the GPU: finding MLX's libcudart in a maps listing, and no
runtime where MLX has no CUDA (the loader's CUDA variants then run as "host-zeros")."""

import mlx.core as mx
import pytest

from tl_core.models import cuda_runtime

MAPS = f"""\
7f00a000-7f00b000 r--p 00000000 08:01 1234   /usr/lib/x86_64-linux-gnu/libc.so.6
7f10a000-7f10b000 r-xp 00010000 08:01 5678   /opt/py/site/nvidia/cu13/lib/libcudart.so.13
7f20a000-7f20b000 rw-p 00000000 00:00 0{" " * 26}
7f30a000-7f30b000 r--p 00000000 08:01 91     /home/a b/nvidia/libcudart.so.12
"""


def test_the_first_mapped_cudart_is_the_one_mlx_loaded():
    assert cuda_runtime.loaded_cudart(MAPS) == "/opt/py/site/nvidia/cu13/lib/libcudart.so.13"


def test_a_path_with_spaces_is_kept_whole():
    assert cuda_runtime.loaded_cudart(MAPS.splitlines()[3]) == "/home/a b/nvidia/libcudart.so.12"


def test_no_cudart_mapped():
    assert cuda_runtime.loaded_cudart(MAPS.splitlines()[0] + "\n" + MAPS.splitlines()[2]) is None


@pytest.mark.skipif(mx.cuda.is_available(), reason="MLX has CUDA here")
def test_no_runtime_without_cuda():
    cuda_runtime.runtime.cache_clear()
    assert cuda_runtime.runtime() is None
