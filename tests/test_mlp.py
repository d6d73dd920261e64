"""The MLP: parameter layout, activations and their derivatives, initialization, forward pass."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import elementwise_grad
from hypothesis import given, settings
from hypothesis import strategies as st

from hessian_spectra import mlp

sizes_strategy = st.lists(st.integers(1, 7), min_size=2, max_size=5)


@given(sizes=sizes_strategy, seed=st.integers(0, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_flatten_unflatten_round_trip(sizes, seed):
    """unflatten(w) splits a length-P vector into layers of the documented shapes, and flatten
    of those layers gives back w bit for bit, for any layer sizes."""
    P = mlp.n_params(sizes)
    w = np.random.default_rng(seed).standard_normal(P)
    layers = mlp.unflatten(w, sizes)
    assert [(W.shape, b.shape) for W, b in layers] == mlp.layer_shapes(sizes)
    np.testing.assert_array_equal(mlp.flatten(layers), w)


@given(sizes=sizes_strategy)
@settings(max_examples=40, deadline=None)
def test_layout_index_formula(sizes):
    """W_l[a, p] sits at offset_l + a·n_l + p and b_l[p] right after vec(W_l): the documented
    C-order layout, checked by unflattening the vector of indices 0..P-1."""
    P = mlp.n_params(sizes)
    layers = mlp.unflatten(np.arange(P, dtype=float), sizes)
    offset = 0
    for (W, b), n_in, n_out in zip(layers, sizes[:-1], sizes[1:], strict=True):
        a, p = np.meshgrid(np.arange(n_in), np.arange(n_out), indexing="ij")
        np.testing.assert_array_equal(W, offset + a * n_out + p)
        offset += n_in * n_out
        np.testing.assert_array_equal(b, offset + np.arange(n_out))
        offset += n_out
    assert offset == P


def test_unflatten_returns_views():
    """The pieces of unflatten share memory with the flat vector (no copies)."""
    w = np.zeros(mlp.n_params((3, 4, 2)))
    W1, b1 = mlp.unflatten(w, (3, 4, 2))[0]
    W1[0, 0] = 7.0
    b1[1] = 5.0
    assert w[0] == 7.0 and w[3 * 4 + 1] == 5.0


@pytest.mark.parametrize(
    "sizes, expected",
    [
        ((100, 30, 30, 50), 5510),
        ((100, 30, 30, 2), 3960 + 31 * 2),
        ((64, 30, 10), 75 * 30 + 10),
        ((784, 70, 10), 55660),
        ((2, 5, 5, 2), 5 * 5 + 6 * 5 + 2),
    ],
)
def test_parameter_counts_match_the_paper(sizes, expected):
    """P matches the counts stated in PAPER.md (S18: 5,510 for 100-30-30-50, 3,960 + 31k, 75h + 10,
    55,660 for 784-70-10; S16: h² + 6h + 2)."""
    assert mlp.n_params(sizes) == expected


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@pytest.mark.parametrize("name", sorted(mlp.ACTIVATIONS))
def test_activation_derivatives_match_autograd(name):
    """σ′ and σ″ in closed form equal autograd's first and second elementwise derivatives of σ
    (points away from 0 so that ReLU is differentiable there); agreement to 1e-12 relative."""
    act = mlp.get_activation(name)
    z = np.concatenate([np.linspace(-6, -0.05, 40), np.linspace(0.05, 6, 40)])
    d1 = elementwise_grad(act.fn)(z)
    d2 = elementwise_grad(elementwise_grad(act.fn))(z)
    np.testing.assert_allclose(act.d1(z), d1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(act.d2(z), d2, rtol=1e-12, atol=1e-14)


def test_activation_values():
    """Closed forms at known points: relu(−1)=0, tanh(0)=0, sigmoid(0)=½, softplus(0)=log 2,
    and the stable sigmoid/softplus do not overflow at ±800."""
    A = mlp.ACTIVATIONS
    assert A["relu"].fn(np.array(-1.0)) == 0 and A["relu"].fn(np.array(2.0)) == 2
    assert A["sigmoid"].fn(np.array(0.0)) == 0.5
    assert np.isclose(A["softplus"].fn(np.array(0.0)), np.log(2.0), rtol=0, atol=1e-15)
    big = np.array([-800.0, 800.0])
    with np.errstate(over="raise", invalid="raise"):
        np.testing.assert_allclose(A["sigmoid"].fn(big), [0.0, 1.0])
        np.testing.assert_allclose(A["softplus"].fn(big), [0.0, 800.0])


def test_forward_one_layer_is_affine(rng):
    """With no hidden layer the logits are X W + b exactly."""
    X = rng.standard_normal((7, 3))
    w = rng.standard_normal(mlp.n_params((3, 4)))
    W, b = mlp.unflatten(w, (3, 4))[0]
    np.testing.assert_allclose(mlp.forward(w, X, (3, 4), "tanh"), X @ W + b, rtol=1e-15, atol=1e-15)


def test_forward_two_layers_by_hand(rng):
    """A 3-5-2 tanh network: logits = tanh(X W1 + b1) W2 + b2, written out by hand."""
    X = rng.standard_normal((6, 3))
    w = rng.standard_normal(mlp.n_params((3, 5, 2)))
    (W1, b1), (W2, b2) = mlp.unflatten(w, (3, 5, 2))
    expected = np.tanh(X @ W1 + b1) @ W2 + b2
    np.testing.assert_allclose(mlp.forward(w, X, (3, 5, 2), "tanh"), expected, rtol=1e-14)
    zs, hs = mlp.forward_all(w, X, (3, 5, 2), "tanh")
    np.testing.assert_allclose(zs[-1], expected, rtol=1e-14)
    assert len(hs) == 2
    np.testing.assert_allclose(hs[1], np.tanh(X @ W1 + b1), rtol=1e-14)


def test_init_schemes_statistics():
    """'normal' draws N(0, 0.1²) weights and biases; 'glorot' and 'he' give weight variances
    2/(n_in+n_out) and 2/n_in with zero biases. Sample variances of 200×300 weights are within 3%
    (the standard error of a variance from 60,000 draws is √(2/60000) ≈ 0.6%)."""
    sizes = (200, 300, 2)
    for scheme, var in [("normal", 0.01), ("glorot", 2 / 500), ("he", 2 / 200)]:
        w = mlp.init_params(sizes, scheme, seed=3)
        (W1, b1), _ = mlp.unflatten(w, sizes)
        assert abs(W1.var() / var - 1) < 0.03, scheme
        if scheme == "normal":
            assert abs(b1.std() - 0.1) < 0.03
        else:
            assert np.all(b1 == 0)


def test_init_is_deterministic_given_seed():
    """The same seed gives the same vector; another seed another one; a Generator is accepted."""
    a = mlp.init_params((4, 3, 2), seed=5)
    np.testing.assert_array_equal(a, mlp.init_params((4, 3, 2), seed=5))
    assert not np.array_equal(a, mlp.init_params((4, 3, 2), seed=6))
    mlp.init_params((4, 3, 2), seed=np.random.default_rng(1))


def test_bad_inputs_raise_clear_errors():
    """Wrong vector length, bad layer sizes, unknown activation or init name, X of the wrong width."""
    with pytest.raises(ValueError, match="params must be a flat vector of length 11"):
        mlp.unflatten(np.zeros(10), (3, 2, 1))
    with pytest.raises(ValueError, match="layer_sizes"):
        mlp.n_params((5,))
    with pytest.raises(ValueError, match="positive"):
        mlp.n_params((5, 0, 2))
    with pytest.raises(ValueError, match="activation must be one of"):
        mlp.get_activation("gelu")
    with pytest.raises(ValueError, match="init must be one of"):
        mlp.init_params((2, 2), "xavier")
    with pytest.raises(ValueError, match="X has 4 features"):
        mlp.check_inputs(np.zeros((3, 4)), (5, 2))
    with pytest.raises(ValueError, match="non-finite"):
        mlp.check_inputs(np.array([[np.nan, 1.0]]), (2, 2))


def test_forward_is_differentiable_in_inputs(rng):
    """autograd can differentiate the forward pass with respect to X too (used by sensitivity
    checks): d/dX of sum(logits) for a linear net is 1ᵀ Wᵀ."""
    w = rng.standard_normal(mlp.n_params((3, 2)))
    X = rng.standard_normal((4, 3))
    W, _ = mlp.unflatten(w, (3, 2))[0]
    g = elementwise_grad(lambda x: anp.sum(mlp.forward(w, x, (3, 2), "linear")))(X)
    np.testing.assert_allclose(g, np.tile(W.sum(axis=1), (4, 1)), rtol=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "softplus", "relu"])
def test_backward_and_parameter_gradient_equal_autograd(activation, rng):
    """For a cotangent u of the logits' shape, parameter_gradient(backward(u)) is ∇_w Σ_ic u_ic f_ic(w),
    by autograd's reverse mode on the forward pass (another route: no hand-written backward); with a
    stack of C one-hot cotangents it gives the C rows of Σ_i J_i. Widths 3-5-4-2 differ, so a
    transposed weight in the backward pass changes a shape. Agreement to 1e-12 relative."""
    from autograd import grad

    sizes = (3, 5, 4, 2)
    X = rng.standard_normal((7, 3))
    w = mlp.init_params(sizes, "normal", seed=1, scale=0.8)
    fp = mlp.forward_pass(w, X, sizes, activation)
    u = rng.standard_normal((7, 2))
    expected = grad(lambda v: anp.sum(u * mlp.forward(v, X, sizes, activation)))(w)
    np.testing.assert_allclose(fp.parameter_gradient(fp.backward(u)), expected, rtol=1e-12, atol=1e-14)
    signals = fp.backward(u)
    assert [d.shape for d in signals] == [(7, 5), (7, 4), (7, 2)]
    np.testing.assert_array_equal(signals[-1], u)  # δ_L = u
    stack = np.broadcast_to(np.eye(2)[:, None, :], (2, 7, 2))  # [k, i, :] = e_k
    rows = fp.parameter_gradient(fp.backward(stack))
    for k in range(2):
        e_k = np.zeros((7, 2))
        e_k[:, k] = 1.0
        np.testing.assert_allclose(
            rows[k],
            grad(lambda v, e=e_k: anp.sum(e * mlp.forward(v, X, sizes, activation)))(w),
            rtol=1e-12,
            atol=1e-14,
        )


def test_forward_pass_quantities_by_hand(rng):
    """forward_pass of a 3-4-2 sigmoid network: hs = [X, σ(X W1 + b1)], zs = [X W1 + b1, logits],
    d1 = [σ′(z_1)] = [σ(1 − σ)], d2 = [σ(1 − σ)(1 − 2σ)], written out with numpy's exp."""
    sizes = (3, 4, 2)
    X = rng.standard_normal((5, 3))
    w = rng.standard_normal(mlp.n_params(sizes))
    (W1, b1), (W2, b2) = mlp.unflatten(w, sizes)
    z1 = X @ W1 + b1
    s = 1 / (1 + np.exp(-z1))
    fp = mlp.forward_pass(w, X, sizes, "sigmoid")
    np.testing.assert_array_equal(fp.hs[0], X)
    np.testing.assert_allclose(fp.zs[0], z1, rtol=1e-14)
    np.testing.assert_allclose(fp.hs[1], s, rtol=1e-14)
    np.testing.assert_allclose(fp.logits, s @ W2 + b2, rtol=1e-13)
    np.testing.assert_allclose(fp.d1[0], s * (1 - s), rtol=1e-13)
    np.testing.assert_allclose(fp.d2()[0], s * (1 - s) * (1 - 2 * s), rtol=1e-12, atol=1e-15)
    assert len(fp.d1) == 1 and len(fp.d2()) == 1


def test_a_stack_of_parameter_vectors_is_a_stack_of_networks(rng):
    """forward with params of shape (K, P) gives (K, N, C): entry k equals forward with params[k]; with
    per-sample parameters (N, P) and inputs X[:, None, :], sample i is run through network i."""
    sizes = (3, 4, 2)
    X = rng.standard_normal((6, 3))
    W = rng.standard_normal((4, mlp.n_params(sizes)))
    out = mlp.forward(W, X, sizes, "tanh")
    assert out.shape == (4, 6, 2)
    for k in range(4):
        np.testing.assert_allclose(out[k], mlp.forward(W[k], X, sizes, "tanh"), rtol=1e-14)
    rows = rng.standard_normal((6, mlp.n_params(sizes)))
    per_sample = mlp.forward(rows, X[:, None, :], sizes, "tanh")[:, 0, :]
    for i in range(6):
        np.testing.assert_allclose(
            per_sample[i], mlp.forward(rows[i], X[i : i + 1], sizes, "tanh")[0], rtol=1e-14
        )


def test_activation_by_callable_and_the_relu_default(rng):
    """forward takes an elementwise callable as the activation (e.g. autograd's tanh) with the same
    logits as the registered name, and forward / forward_pass default to relu."""
    sizes = (3, 4, 2)
    X = rng.standard_normal((5, 3))
    w = rng.standard_normal(mlp.n_params(sizes))
    np.testing.assert_array_equal(mlp.forward(w, X, sizes, anp.tanh), mlp.forward(w, X, sizes, "tanh"))
    (W1, b1), (W2, b2) = mlp.unflatten(w, sizes)
    relu = np.maximum(X @ W1 + b1, 0) @ W2 + b2
    np.testing.assert_allclose(mlp.forward(w, X, sizes), relu, rtol=1e-14)
    np.testing.assert_allclose(mlp.forward_pass(w, X, sizes).logits, relu, rtol=1e-14)


def test_parameter_gradient_of_a_stack_of_networks(rng):
    """forward_pass of a stack (K, P) of parameter vectors, with one cotangent per network (K, N, C),
    gives the K gradients ∇_w Σ u_k·f(w_k), each equal to that network's own gradient alone (which the
    test above checks against autograd). K = 2, N = 6 and the widths 3-5-4 all differ."""
    sizes = (3, 5, 4)
    X = rng.standard_normal((6, 3))
    W = rng.standard_normal((2, mlp.n_params(sizes)))
    U = rng.standard_normal((2, 6, 4))
    fp = mlp.forward_pass(W, X, sizes, "tanh")
    stacked = fp.parameter_gradient(fp.backward(U))
    assert stacked.shape == (2, mlp.n_params(sizes))
    for k in range(2):
        one = mlp.forward_pass(W[k], X, sizes, "tanh")
        np.testing.assert_allclose(
            stacked[k], one.parameter_gradient(one.backward(U[k])), rtol=1e-13, atol=1e-14
        )
