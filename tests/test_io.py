"""Atomic writes: a failed write leaves nothing behind and never a half-written file."""

import os

import numpy as np
import pytest

from hessian_spectra import io


def test_atomic_write_replaces_only_on_success(tmp_path):
    """An exception inside the write keeps the old file intact and removes the temporary file."""
    target = tmp_path / "out.json"
    io.save_json(target, {"a": 1})
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        with open(tmp, "w") as fh:
            fh.write("partial")
        raise RuntimeError("interrupted")
    assert io.load_json(target) == {"a": 1}
    assert os.listdir(tmp_path) == ["out.json"]


def test_npz_round_trip_with_strings(tmp_path):
    """Arrays and 0-d strings survive save_npz/load_npz; missing required keys are named."""
    io.save_npz(tmp_path / "f.npz", a=np.arange(3.0), s=np.array("relu"))
    d = io.load_npz(tmp_path / "f.npz")
    assert d["s"] == "relu" and isinstance(d["s"], str)
    np.testing.assert_array_equal(d["a"], [0, 1, 2])
    with pytest.raises(ValueError, match="missing key"):
        io.load_npz(tmp_path / "f.npz", required=("a", "b"))


def test_json_converts_numpy(tmp_path):
    """NumPy scalars and arrays are written as plain JSON numbers and lists."""
    io.save_json(tmp_path / "x.json", {"i": np.int64(3), "f": np.float64(0.5), "a": np.arange(2)})
    assert io.load_json(tmp_path / "x.json") == {"i": 3, "f": 0.5, "a": [0, 1]}


def test_load_npz_reads_the_keys_asked_for_and_checks_their_headers(tmp_path):
    """Only the required and the present optional keys come back; a spec that the header does not
    match is a BadFileError naming the key (the file is written by plain numpy.savez)."""
    np.savez(tmp_path / "f.npz", a=np.arange(3.0), b=np.zeros((2, 2)), c=np.array("x"))
    d = io.load_npz(tmp_path / "f.npz", required=("a",), optional=("c", "absent"))
    assert sorted(d) == ["a", "c"] and d["c"] == "x"
    with pytest.raises(
        io.BadFileError, match=r"b must be integers of shape \(2, n\); the file declares float64"
    ):
        io.load_npz(tmp_path / "f.npz", required=("b",), specs={"b": io.ArraySpec("i", (2, None))})


def test_library_writes_create_a_missing_folder_but_the_check_can_refuse_it(tmp_path):
    """save_* create a missing destination folder (the experiments write points/ this way), while
    check_output_path refuses it unless make_folder is set (the command line refuses it)."""
    io.save_json(tmp_path / "a" / "b" / "x.json", {"k": 1})
    assert io.load_json(tmp_path / "a" / "b" / "x.json") == {"k": 1}
    with pytest.raises(io.UnsafeOutputError, match="does not exist"):
        io.check_output_path(tmp_path / "c" / "y.npz")
    assert io.check_output_path(tmp_path / "c" / "y.npz", make_folder=True) == str(tmp_path / "c" / "y.npz")
    assert (tmp_path / "c").is_dir()
