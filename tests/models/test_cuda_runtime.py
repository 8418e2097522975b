"""tl_core.models.cuda_runtime off the GPU: finding MLX's libcudart in a maps listing, no
runtime where MLX has no CUDA (the loader's CUDA variants then run as "host-zeros"), and the
calls `CudaRuntime` makes, against a stand-in library of C callbacks (`FakeCudart`)."""

import ctypes

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


def test_the_newest_packaged_cudart_is_found(tmp_path):
    # MLX links its runtime statically: without a mapped one, NVIDIA's wheels provide one
    for rel in ("cu13/lib/libcudart.so.13", "cuda_runtime/lib/libcudart.so.12",
                "cublas/lib/libcublas.so.13"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert cuda_runtime.packaged_cudart([str(tmp_path)]) == str(
        tmp_path / "cu13/lib/libcudart.so.13")
    (tmp_path / "cu13/lib/libcudart.so.13").unlink()
    assert cuda_runtime.packaged_cudart([str(tmp_path)]) == str(
        tmp_path / "cuda_runtime/lib/libcudart.so.12")
    assert cuda_runtime.packaged_cudart([str(tmp_path / "cublas")]) is None


def test_no_cudart_mapped():
    assert cuda_runtime.loaded_cudart(MAPS.splitlines()[0] + "\n" + MAPS.splitlines()[2]) is None


@pytest.mark.skipif(mx.cuda.is_available(), reason="MLX has CUDA here")
def test_no_runtime_without_cuda():
    cuda_runtime.runtime.cache_clear()
    assert cuda_runtime.runtime() is None


# A stand-in for libcudart: each function a real C function pointer (ctypes callbacks), so
# the argument types CudaRuntime declares are applied as they are with the real library.
_I, _P, _U, _Z = ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t
_PROTOTYPES = {
    "cudaGetErrorString": (_P, _I),
    "cudaGetLastError": (_I,),
    "cudaRuntimeGetVersion": (_I, ctypes.POINTER(_I)),
    "cudaGetDevice": (_I, ctypes.POINTER(_I)),
    "cudaDeviceGetAttribute": (_I, ctypes.POINTER(_I), _I, _I),
    "cudaStreamCreateWithFlags": (_I, ctypes.POINTER(_P), _U),
    "cudaStreamSynchronize": (_I, _P),
    "cudaMemcpyAsync": (_I, _P, _P, _Z, _I, _P),
    "cudaMemPrefetchAsync": (_I, _P, _Z, cuda_runtime._Location, _U, _P),
    "cudaMemPrefetchAsync_v2": (_I, _P, _Z, cuda_runtime._Location, _U, _P),
    "cudaHostRegister": (_I, _P, _Z, _U),
    "cudaHostUnregister": (_I, _P),
}
REASON = ctypes.create_string_buffer(b"invalid argument")


class FakeCudart:
    """The calls made (name, arguments), and the return codes set per function (`rc`)."""

    def __init__(self, version=13000, attributes=None, missing=(), rc=None):
        self.calls: list[tuple] = []
        self.rc = dict(rc or {})
        attributes = {99: 1, 113: 1} if attributes is None else attributes
        streams = iter(range(0x1000, 0x2000, 0x10))

        def out(value):
            def write(p, *rest):
                p[0] = value(*rest) if callable(value) else value
            return write

        effects = {
            "cudaGetErrorString": lambda rc: ctypes.addressof(REASON),
            "cudaRuntimeGetVersion": out(version),
            "cudaGetDevice": out(2),
            "cudaDeviceGetAttribute": out(lambda attr, dev: attributes.get(attr, 0)),
            "cudaStreamCreateWithFlags": out(lambda flags: next(streams)),
        }
        for name, (restype, *argtypes) in _PROTOTYPES.items():
            if name in missing:
                continue

            def fn(*args, name=name):
                self.calls.append((name, *(
                    (a.type, a.id) if isinstance(a, cuda_runtime._Location) else a
                    for a in args if not isinstance(a, ctypes._Pointer))))
                effect = effects.get(name)
                result = effect(*args) if effect else None
                return result if name == "cudaGetErrorString" else self.rc.get(name, 0)

            setattr(self, name, ctypes.CFUNCTYPE(restype, *argtypes)(fn))

    def called(self, name):
        return [c[1:] for c in self.calls if c[0] == name]


def test_host_register_is_read_only_where_the_device_supports_it():
    lib = FakeCudart()
    rt = cuda_runtime.CudaRuntime(lib)
    assert rt.can_register and rt.register(0x7000, 8192)
    assert lib.called("cudaHostRegister") == [(0x7000, 8192, 8)]  # cudaHostRegisterReadOnly
    assert rt.unregister(0x7000) and lib.called("cudaHostUnregister") == [(0x7000,)]
    assert lib.called("cudaDeviceGetAttribute")[-2:] == [(99, 2), (113, 2)]  # on device 2


def test_host_register_without_the_read_only_flag_on_older_devices():
    lib = FakeCudart(attributes={99: 1})
    assert cuda_runtime.CudaRuntime(lib).register(0x7000, 4096)
    assert lib.called("cudaHostRegister") == [(0x7000, 4096, 0)]


def test_no_host_register_where_the_device_has_none():
    lib = FakeCudart(attributes={})
    rt = cuda_runtime.CudaRuntime(lib)
    assert not rt.can_register and not rt.register(0x7000, 4096)
    assert lib.called("cudaHostRegister") == []


def test_a_refused_attribute_reads_as_unsupported_and_leaves_no_error():
    lib = FakeCudart(rc={"cudaDeviceGetAttribute": 1})
    rt = cuda_runtime.CudaRuntime(lib)
    assert not rt.can_register
    assert len(lib.called("cudaGetLastError")) == 2  # each refusal reset for MLX's checks


def test_a_refused_registration_is_false_and_leaves_no_error():
    lib = FakeCudart(rc={"cudaHostRegister": 712, "cudaHostUnregister": 4})
    rt = cuda_runtime.CudaRuntime(lib)
    assert rt.register(0x7000, 4096) is False
    assert lib.called("cudaGetLastError") == [()]
    assert rt.unregister(0x7000) is False
    assert lib.called("cudaGetLastError") == [(), ()]


def test_copy_passes_the_addresses_and_waits_on_a_reused_stream():
    lib = FakeCudart()
    rt = cuda_runtime.CudaRuntime(lib)
    rt.copy(0xA000, 0xB000, 400)
    rt.copy(0xA100, 0xB100, 8)
    assert lib.called("cudaMemcpyAsync") == [(0xA000, 0xB000, 400, 4, 0x1000),
                                             (0xA100, 0xB100, 8, 4, 0x1000)]
    assert lib.called("cudaStreamSynchronize") == [(0x1000,), (0x1000,)]
    assert len(lib.called("cudaStreamCreateWithFlags")) == 1


def test_a_failed_copy_names_the_call_and_cuda_reason():
    lib = FakeCudart(rc={"cudaMemcpyAsync": 1})
    rt = cuda_runtime.CudaRuntime(lib)
    with pytest.raises(cuda_runtime.CudaError) as e:
        rt.copy(0xA000, 0xB000, 4)
    assert str(e.value) == "cudaMemcpyAsync failed: invalid argument"
    assert lib.called("cudaGetLastError") == [()]
    assert lib.called("cudaStreamSynchronize") == []
    del lib.rc["cudaMemcpyAsync"]
    rt.copy(0xA000, 0xB000, 4)
    assert lib.called("cudaMemcpyAsync")[-1] == (0xA000, 0xB000, 4, 4, 0x1000)
    assert len(lib.called("cudaStreamCreateWithFlags")) == 1  # the stream went back


@pytest.mark.parametrize(("version", "missing", "symbol"), [
    (13000, ("cudaMemPrefetchAsync_v2",), "cudaMemPrefetchAsync"),
    (12080, (), "cudaMemPrefetchAsync_v2"),
])
def test_prefetch_takes_the_location_signature_of_each_version(version, missing, symbol):
    lib = FakeCudart(version=version, missing=missing)
    rt = cuda_runtime.CudaRuntime(lib)
    assert rt.version == version and rt.can_prefetch
    rt.prefetch(0xC000, 4096)
    assert lib.called(symbol) == [(0xC000, 4096, (1, 2), 0, 0x1000)]  # device 2


def test_no_prefetch_before_cuda_12_2():
    lib = FakeCudart(version=12010, missing=("cudaMemPrefetchAsync_v2",))
    rt = cuda_runtime.CudaRuntime(lib)
    assert not rt.can_prefetch
    with pytest.raises(cuda_runtime.CudaError) as e:
        rt.prefetch(0xC000, 4096)
    assert str(e.value) == "this CUDA runtime (12010) has no location prefetch"
