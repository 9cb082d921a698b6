"""Property tests: shapes and round trips hold for any network and experiment a user can make."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.activations import ACTIVATIONS
from engine.network import Network
from engine.optimizers import OPTIMIZERS
from engine.spec import BatchNormSpec, DenseSpec, DropoutSpec, ExperimentSpec, ModelSpec
from workbench.experiment import dumps, loads_experiment

dense = st.builds(
    DenseSpec,
    units=st.integers(1, 12),
    activation=st.sampled_from(ACTIVATIONS.names()),
    weight_init=st.sampled_from(["he_uniform", "glorot_normal", "lecun_normal", "zeros"]),
)
layer = st.one_of(
    dense,
    st.builds(DropoutSpec, rate=st.floats(0.0, 0.9)),
    st.builds(BatchNormSpec, momentum=st.floats(0.01, 1.0)),
)
models = st.builds(ModelSpec, layers=st.lists(layer, max_size=5).map(tuple))
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    model=models,
    lead=st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple),
    n_in=st.integers(1, 6),
    n_out=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_any_stack_maps_shapes_and_fills_every_gradient(model, lead, n_in, n_out, seed) -> None:
    rng = np.random.default_rng(seed)
    net = Network.from_spec(model, (n_in,), n_out, rng)
    x = rng.standard_normal((*lead, n_in)).astype(np.float32)
    if len(lead) == 2:  # rank-3 input: (batch, time, features)
        net = Network.from_spec(model, (lead[1], n_in), n_out, np.random.default_rng(seed))
    out = net.forward(x, training=True)
    assert out.shape == (*lead, n_out) and out.dtype == np.float32
    net.grads[...] = np.nan
    gx = net.backward(np.ones_like(out))
    assert gx.shape == x.shape
    assert np.isfinite(net.grads).all()  # every parameter's gradient was written
    assert set(net.gradients()) == set(net.parameters())
    for name, g in net.gradients().items():
        assert g.shape == net.parameters()[name].shape


@FAST
@given(model=models, seed=st.integers(0, 2**16))
def test_state_dict_round_trips_into_a_fresh_network(model, seed) -> None:
    a = Network.from_spec(model, (3,), 2, np.random.default_rng(seed))
    b = Network.from_spec(model, (3,), 2, np.random.default_rng(seed + 1))
    b.load_state_dict(a.state_dict())
    x = np.random.default_rng(seed).standard_normal((5, 3)).astype(np.float32)
    assert np.array_equal(a.forward(x), b.forward(x))


@FAST
@given(
    model=models,
    optimizer=st.sampled_from([n for n in OPTIMIZERS.names() if n != "lbfgs"]),
    lr=st.floats(1e-5, 1.0),
    seed=st.integers(0, 2**32 - 1),
    epochs=st.integers(1, 1000),
    batch=st.integers(1, 512),
)
def test_any_experiment_round_trips_through_its_file(model, optimizer, lr, seed, epochs, batch) -> None:
    spec = ExperimentSpec(
        seed=seed,
        model=model,
        optimizer={"name": optimizer, "lr": lr},
        training={"epochs": epochs, "batch_size": batch},
    )
    text = dumps(spec)
    again = loads_experiment(text)
    assert again == spec
    assert dumps(again) == text  # byte-stable
