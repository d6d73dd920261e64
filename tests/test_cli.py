"""The command line: train, hessian, the self-contained npz file, and one-line errors."""

import os
import subprocess
import sys

import numpy as np
import pytest

from hessian_spectra import cli


def _train(tmp_path, *extra):
    out = tmp_path / "run.npz"
    args = [
        "train",
        "--data",
        "blobs",
        "--classes",
        "3",
        "--dim",
        "4",
        "--samples",
        "40",
        "--hidden",
        "5",
        "--activation",
        "tanh",
        "--steps",
        "20",
        "--seed",
        "1",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]
    assert cli.main(args) == 0
    return out


def _numpy_loss(params, X, y, sizes, activation, loss):
    """An independent re-implementation of the file's loss from its documented contract only:
    layout W_l (n_{l-1}, n_l) C-order then b_l; z_l = h_{l-1} W_l + b_l; logits = z_L."""
    acts = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}
    h, off = X, 0
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        W = params[off : off + a * b].reshape(a, b)
        off += a * b
        bias = params[off : off + b]
        off += b
        h = h @ W + bias
        if l < len(sizes) - 2:
            h = acts[activation](h)
    z = h
    if loss == "cross_entropy":
        m = z.max(1, keepdims=True)
        return np.mean(np.log(np.exp(z - m).sum(1)) + m[:, 0] - z[np.arange(len(y)), y])
    T = np.eye(sizes[-1])[y]
    return 0.5 * np.mean(((z - T) ** 2).sum(1))


def test_train_then_hessian_file_stands_on_its_own(tmp_path):
    """`train` then `hessian --engine reference` writes an npz with the documented keys; a loss
    rebuilt from the file alone (plain NumPy, no package code) has second differences equal to
    the stored H (h = 1e-4 central second differences: error ≈ 1e-7 relative)."""
    run = _train(tmp_path)
    out = tmp_path / "hess.npz"
    png = tmp_path / "spec.png"
    assert (
        cli.main(["hessian", str(run), "--out", str(out), "--engine", "reference", "--plot", str(png)]) == 0
    )
    with np.load(out) as f:
        d = {k: f[k] for k in f.files}
    for key in ("X", "y", "layer_sizes", "activation", "loss", "params", "H", "eigvals_H"):
        assert key in d, key
    assert d["X"].dtype == np.float64 and d["H"].dtype == np.float64
    sizes = tuple(int(s) for s in d["layer_sizes"])
    P = d["params"].size
    assert d["H"].shape == (P, P) and np.all(np.diff(d["eigvals_H"]) >= 0)
    f = lambda w: _numpy_loss(w, d["X"], d["y"], sizes, str(d["activation"]), str(d["loss"]))  # noqa: E731
    rng = np.random.default_rng(0)
    h = 1e-4
    for _ in range(3):
        u, v = rng.standard_normal(P), rng.standard_normal(P)
        w = d["params"]
        mixed = f(w + h * u + h * v) - f(w + h * u - h * v) - f(w - h * u + h * v) + f(w - h * u - h * v)
        # truncation O(h²‖∇⁴L‖) ≈ 1e-8 and round-off O(ε|L|/h²) ≈ 2e-8 for |L| ≈ 1: 1e-5·‖H‖ is ample
        assert abs(mixed / (4 * h * h) - u @ d["H"] @ v) < 1e-5 * np.linalg.norm(d["H"], 2) * np.linalg.norm(
            u
        ) * np.linalg.norm(v)
    np.testing.assert_allclose(np.linalg.eigvalsh(d["H"]), d["eigvals_H"], atol=1e-12)
    assert png.stat().st_size > 10_000
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_hessian_at_init_and_no_eigvals(tmp_path):
    """--at-init uses params_init; --no-eigvals stores H without eigenvalues."""
    run = _train(tmp_path)
    out = tmp_path / "h0.npz"
    assert (
        cli.main(
            ["hessian", str(run), "--out", str(out), "--engine", "reference", "--at-init", "--no-eigvals"]
        )
        == 0
    )
    with np.load(out) as f, np.load(run) as r:
        np.testing.assert_array_equal(f["params"], r["params_init"])
        assert "eigvals_H" not in f.files and "H" in f.files


def test_hessian_eigenvalue_driver_option(tmp_path):
    """``--driver`` offers exactly the library's drivers (scipy's and the two-stage one), unset by
    default so that giving it where it has no effect can be refused, and its help names the library's
    default driver; the two-stage eigenvalues of the saved H equal numpy's ``eigvalsh`` of the same H to 1e-12 of the
    largest."""
    from hessian_spectra import spectrum

    parser = cli.build_parser()
    sub = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices["hessian"]
    driver = next(a for a in sub._actions if a.dest == "driver")
    assert tuple(driver.choices) == (*spectrum.DRIVERS, spectrum.TWO_STAGE)
    assert driver.default is None and f"{spectrum.DEFAULT_DRIVER} (default)" in driver.help
    if not spectrum.two_stage_available():
        pytest.skip("no bundled OpenBLAS with dsyevd_2stage here")
    run = _train(tmp_path)
    out = tmp_path / "h2.npz"
    assert cli.main(["hessian", str(run), "--out", str(out), "--driver", "evd_2stage"]) == 0
    with np.load(out) as f:
        ref = np.linalg.eigvalsh(f["H"])
        np.testing.assert_allclose(f["eigvals_H"], ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_run_file_contents(tmp_path):
    """The run file holds data, layer sizes, both parameter vectors and the history."""
    run = _train(tmp_path, "--test-samples", "10")
    with np.load(run) as f:
        assert list(f["layer_sizes"]) == [4, 5, 3]
        assert f["X"].shape == (40, 4) and f["X_test"].shape == (10, 4)
        assert f["params"].shape == f["params_init"].shape == (4 * 5 + 5 + 5 * 3 + 3,)
        assert f["history_loss"][-1] < f["history_loss"][0]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["hessian", "missing.npz", "--out", "x.npz"], "RUN missing.npz: no such file"),
        (["train", "--hidden", "3,x", "--out", "r.npz"], "argument --hidden: expected widths"),
        (
            ["train", "--data", "mnist", "--samples", "4990", "--test-samples", "11", "--out", "r.npz"],
            "--samples 4990 plus --test-samples 11 exceeds the 5000",
        ),
        (
            ["train", "--lr", "-1", "--steps", "1", "--samples", "10", "--dim", "2", "--out", "r.npz"],
            "argument --lr: expected a finite number > 0; got '-1'",
        ),
    ],
)
def test_user_errors_are_one_line_exit_2(argv, message, tmp_path, capsys, monkeypatch):
    """User mistakes print one line `hessian-spectra: error: ...` naming the flag and return exit
    status 2 (every class of bad input is in tests/test_hostile_inputs.py)."""
    monkeypatch.chdir(tmp_path)
    try:
        status = cli.main(argv + ["--no-progress"] if argv[0] == "train" else argv)
    except SystemExit as exc:  # a malformed flag: argparse's parser exits
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hessian-spectra: error:") and message in err[0]


def test_help_documents_every_option():
    """`--help` of each subcommand lists its options with their defaults."""
    for sub, opts in [
        ("train", ["--data", "--classes", "--hidden", "--lr", "--optimizer", "--batch-size"]),
        ("hessian", ["--out", "--engine", "--decompose", "--no-eigvals", "--top-k", "--driver"]),
    ]:
        out = subprocess.run(
            [sys.executable, "-m", "hessian_spectra.cli", sub, "--help"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for o in opts:
            assert o in out, (sub, o)


def test_corrupt_input_file(tmp_path, capsys):
    """A file that is not an npz, or lacks required keys, is a one-line error."""
    bad = tmp_path / "bad.npz"
    bad.write_text("nope")
    assert cli.main(["hessian", str(bad), "--out", str(tmp_path / "o.npz")]) == 2
    np.savez(tmp_path / "partial.npz", X=np.zeros((2, 2)))
    assert cli.main(["hessian", str(tmp_path / "partial.npz"), "--out", str(tmp_path / "o.npz")]) == 2
    assert "missing key(s) y" in capsys.readouterr().err


def test_matrix_free_tolerance_options(tmp_path):
    """`--top-k K --tol T --maxiter M` forwards the Lanczos settings: with a tight tolerance the K
    largest eigenvalues equal the dense ones (relative 1e-8)."""
    run = _train(tmp_path)
    dense, mf = tmp_path / "d.npz", tmp_path / "m.npz"
    assert cli.main(["hessian", str(run), "--out", str(dense), "--engine", "reference"]) == 0
    assert (
        cli.main(
            ["hessian", str(run), "--out", str(mf), "--top-k", "3", "--tol", "1e-10", "--maxiter", "500"]
        )
        == 0
    )
    with np.load(dense) as d, np.load(mf) as m:
        top = np.sort(d["eigvals_H"])[::-1][:3]
        np.testing.assert_allclose(m["top_eigvals_H"], top, rtol=1e-8)
