"""Large GGUF metadata arrays, read on demand (`gguf.metadata_array`), against gguf.GGUFReader."""

from __future__ import annotations

import os

import gguf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.models.builders import write_gguf
from tl_core.models import ArrayInfo, ModelFileError, read_header
from tl_core.models.gguf import SMALL_ARRAY, metadata_array


def oracle_array(path, key):
    return gguf.GGUFReader(path).fields[key].contents()


_strings = st.lists(st.text(max_size=10), min_size=SMALL_ARRAY + 1, max_size=300)
_ints = st.lists(st.integers(-(2**31), 2**31 - 1), min_size=SMALL_ARRAY + 1, max_size=300)
_floats = st.lists(
    st.floats(width=32, allow_nan=False), min_size=SMALL_ARRAY + 1, max_size=300
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(strings=_strings, ints=_ints, floats=_floats)
def test_large_arrays_read_on_demand_equal_gguf_reader(tmp_path, strings, ints, floats):
    path = tmp_path / "a.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_array("t.strings", strings)
    w.add_array("t.ints", ints)  # gguf writes Python ints as int32 when they fit
    w.add_array("t.floats", floats)  # float32 (the strategy draws float32 values)
    w.add_array("t.small", [1, 2, 3])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()
    header = read_header(path)
    for key in ("t.strings", "t.ints", "t.floats"):
        assert isinstance(header.metadata[key], ArrayInfo)
        assert metadata_array(header, key) == oracle_array(str(path), key)
    assert metadata_array(header, "t.small") == [1, 2, 3]


def test_not_an_array_and_changed_file(tmp_path):
    path = write_gguf(tmp_path / "v.gguf", vocab=100)
    header = read_header(path)
    with pytest.raises(ModelFileError) as err:
        metadata_array(header, "tokenizer.ggml.scores")
    assert str(err.value) == f'{path}: metadata "tokenizer.ggml.scores" is not an array (found missing)'
    with open(path, "ab") as f:
        f.write(b"\0" * 32)
    os.utime(path, ns=(header.mtime_ns + 10**9, header.mtime_ns + 10**9))
    with pytest.raises(ModelFileError) as err:
        metadata_array(header, "tokenizer.ggml.tokens")
    assert str(err.value) == f"{path}: the file changed after its header was read; load it again"
