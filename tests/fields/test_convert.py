"""FieldTensorConverter: layout, exact round trips, batching, gradients, numpy helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from phi.field import CenteredGrid, Noise, StaggeredGrid
from phi.geom import Box
from phi.physics import advect
from phiml import math
from phiml.math import batch, channel, extrapolation, spatial

from hyco.errors import ConfigError
from hyco.fields import FieldSpec, padding_mode
from hyco.fields.converter import FieldTensorConverter


def conv2d(grid: str = "centered", **fields) -> FieldTensorConverter:
    """A 6x5 converter; ``fields`` maps names to channel counts (2: vector, 1: scalar)."""
    specs = [FieldSpec(n, "vector" if c == 2 else "scalar", grid if c == 2 else "centered")
             for n, c in (fields or {"velocity": 2}).items()]
    return FieldTensorConverter(("x", "y"), (6, 5), (1.0, 2.0), specs)


def centered_vector(b: int = 3) -> CenteredGrid:
    values = math.random_normal(batch(b=b), spatial(x=6, y=5), channel(vector="x,y"))
    return CenteredGrid(values, extrapolation.PERIODIC, bounds=Box(x=1, y=2))


def staggered(b: int = 3) -> StaggeredGrid:
    return StaggeredGrid(math.random_normal(batch(b=b), spatial(x=6, y=5), channel(vector="x,y")),
                         extrapolation.PERIODIC, x=6, y=5, bounds=Box(x=1, y=2))


# ------------------------------------------------------------------------------------------------
# layout
# ------------------------------------------------------------------------------------------------
def test_centered_vector_layout_and_round_trip():
    conv = conv2d()
    f = centered_vector()
    t = conv.to_tensor(f)
    assert t.shape == (3, 2, 6, 5)
    # channel c, index (i, j) is component c at the cell centre (x_i, y_j)
    assert float(t[1, 1, 4, 2]) == float(f.values.b[1].vector["y"].x[4].y[2])
    g = conv.to_field(t)
    assert g.is_centered and g.resolution == f.resolution and g.bounds == f.bounds
    assert torch.equal(conv.to_tensor(g), t)
    assert torch.equal(g.values.native("b,vector,x,y"), f.values.native("b,vector,x,y"))


def test_scalar_centered_round_trip():
    conv = conv2d(density=1)
    f = CenteredGrid(math.random_normal(batch(b=2), spatial(x=6, y=5)), extrapolation.PERIODIC, bounds=Box(x=1, y=2))
    t = conv.to_tensor(f)
    assert t.shape == (2, 1, 6, 5)
    g = conv.to_field(t)
    assert "vector" not in g.shape and g.is_centered
    assert torch.equal(g.values.native("b,x,y"), f.values.native("b,x,y"))
    assert torch.equal(conv.to_tensor(g), t)


def test_periodic_staggered_layout_and_round_trip():
    conv = conv2d("staggered")
    f = staggered()
    t = conv.to_tensor(f)
    assert t.shape == (3, 2, 6, 5)
    # channel c = component c on the faces normal to axis c: PhiFlow's uniform face values
    assert torch.equal(t, f.values.native("b,~vector,x,y"))
    x_faces = f.points[{"~vector": "x"}].numpy("x,y,vector")
    np.testing.assert_allclose(x_faces[:, 0, 0], np.arange(6) / 6, atol=1e-6)  # x-faces at i dx
    g = conv.to_field(t)
    assert g.is_staggered and g.extrapolation == extrapolation.PERIODIC
    assert torch.equal(conv.to_tensor(g), t)
    # a PhiFlow operation accepts the rebuilt field and agrees with the original
    a = conv.to_tensor(advect.semi_lagrangian(f, f, 0.05))
    b = conv.to_tensor(advect.semi_lagrangian(g, g, 0.05))
    assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("grid", ["centered", "staggered"])
def test_1d_vector_and_scalar_fields(grid):
    conv = FieldTensorConverter(("x",), (8,), 1.0, [FieldSpec("velocity", "vector", grid), FieldSpec("nu", "scalar")])
    assert conv.is_vector("velocity") and not conv.is_vector("nu")
    t = torch.randn(4, 2, 8)
    state = conv.tensor_to_state(t)
    assert state["velocity"].is_staggered == (grid == "staggered")
    assert state["velocity"].shape.get_item_names("vector") == ("x",) and "vector" not in state["nu"].shape
    assert torch.equal(conv.state_to_tensor(state), t)


def test_tensor_round_trip_is_exact_and_a_view():
    conv = conv2d()
    t = torch.randn(4, 2, 6, 5)
    back = conv.to_tensor(conv.to_field(t))
    assert torch.equal(back, t)
    assert back.data_ptr() == t.data_ptr()  # no copy on the way there and back


def test_state_channels_follow_field_order():
    conv = conv2d(velocity=2, density=1)
    t = torch.randn(2, 3, 6, 5)
    state = conv.tensor_to_state(t)
    assert list(state) == ["velocity", "density"]
    assert torch.equal(state["density"].values.native("b,x,y"), t[:, 2])
    assert torch.equal(conv.state_to_tensor({"density": state["density"], "velocity": state["velocity"]}), t)
    assert torch.equal(conv.to_tensor(state), t)
    with pytest.raises(KeyError, match="density"):
        conv.state_to_tensor({"velocity": state["velocity"]})
    with pytest.raises(ValueError, match="name required"):
        conv.to_field(t[:, :2])


def test_extra_batch_dim_is_flattened_outside_b():
    conv = conv2d()
    frames = [centered_vector(3) for _ in range(2)]
    f = frames[0].with_values(math.stack([fr.values for fr in frames], batch("time")))
    t = conv.to_tensor(f)
    assert t.shape == (6, 2, 6, 5)
    for time in range(2):
        for b in range(3):  # row time * B + b
            assert torch.equal(t[time * 3 + b], conv.to_tensor(frames[time])[b])
    g = conv.to_field(t, batch_shape=batch(time=2, b=3))
    assert g.shape.batch == batch(time=2, b=3)
    assert torch.equal(conv.to_tensor(g), t)
    assert conv.to_tensor(CenteredGrid(math.zeros(spatial(x=6, y=5), channel(vector="x,y")), extrapolation.PERIODIC,
                                       bounds=Box(x=1, y=2))).shape == (1, 2, 6, 5)


def test_shape_errors_and_closed_staggered():
    conv = conv2d()
    with pytest.raises(ValueError, match=r"\[B, 2, 6, 5\]"):
        conv.to_field(torch.zeros(2, 3, 6, 5))
    with pytest.raises(ValueError, match="batch_shape"):
        conv.to_field(torch.zeros(4, 2, 6, 5), batch_shape=batch(time=3, b=1))
    with pytest.raises(ConfigError, match="boundary"):
        FieldSpec("velocity", boundary=("wall",))
    with pytest.raises(ConfigError, match="staggered"):
        FieldSpec("density", "scalar", "staggered")


# ------------------------------------------------------------------------------------------------
# walls: Dirichlet / Neumann centered fields, walled staggered grids (N + 1 faces)
# ------------------------------------------------------------------------------------------------
WALLED = [("dirichlet",), ("neumann",), ("periodic", "dirichlet"), ("dirichlet", "neumann")]


@pytest.mark.parametrize("boundary", WALLED)
def test_walled_staggered_round_trip_is_exact(boundary):
    spec = FieldSpec("velocity", "vector", "staggered", boundary)
    conv = FieldTensorConverter(("x", "y"), (6, 5), (1.0, 2.0), [spec])
    assert conv.sample_shape == (7, 6)
    bc = spec.for_dim(2).extrapolation(("x", "y"))
    f = StaggeredGrid(Noise(batch(b=3)), bc, x=6, y=5, bounds=Box(x=1, y=2))
    t = conv.to_tensor(f)
    assert t.shape == (3, 2, 7, 6)
    g = conv.to_field(t)
    assert g.is_staggered and g.extrapolation == f.extrapolation
    for comp in ("x", "y"):  # every face value, each component with its own face count
        a, b = (v.values[{"~vector": comp}] for v in (g, f))
        np.testing.assert_allclose(a.numpy(a.shape.names), b.numpy(a.shape.names), atol=1e-6)
    assert torch.equal(conv.to_tensor(g), t)


@pytest.mark.parametrize("boundary", WALLED)
def test_centered_fields_keep_their_boundary(boundary):
    conv = FieldTensorConverter(("x", "y"), (6, 5), (1.0, 2.0), [FieldSpec("u", "scalar", boundary=boundary)])
    t = torch.randn(3, 1, 6, 5)
    f = conv.to_field(t)
    assert f.extrapolation == FieldSpec("u", "scalar", boundary=boundary).for_dim(2).extrapolation(("x", "y"))
    assert torch.equal(conv.to_tensor(f), t)


def test_mixed_state_is_padded_to_the_largest_layout_and_cropped_back():
    specs = [FieldSpec("velocity", "vector", "staggered", ("dirichlet",)),
             FieldSpec("smoke", "scalar", boundary=("dirichlet",))]
    conv = FieldTensorConverter(("x", "y"), (6, 5), (1.0, 2.0), specs)
    assert conv.field_shapes == {"velocity": (7, 6), "smoke": (6, 5)} and conv.sample_shape == (7, 6)
    smoke = torch.randn(2, 1, 6, 5)
    velocity = conv.to_tensor(conv.to_field(torch.randn(2, 2, 7, 6), "velocity"))
    t = torch.cat([velocity, torch.nn.functional.pad(smoke, (0, 1, 0, 1))], dim=1)
    state = conv.tensor_to_state(t)
    assert torch.equal(state["smoke"].values.native("b,x,y"), smoke[:, 0])
    assert torch.equal(conv.state_to_tensor(state), t)


def test_padding_mode_follows_the_boundaries():
    assert padding_mode([FieldSpec("u", "scalar")]) == "circular"
    assert padding_mode([FieldSpec("u", "scalar", boundary=("dirichlet",))]) == "zeros"
    assert padding_mode([FieldSpec("u", "scalar", boundary=("neumann",))]) == "replicate"
    assert padding_mode([FieldSpec("u", "scalar", boundary=("periodic", "dirichlet"))]) == "zeros"


# ------------------------------------------------------------------------------------------------
# gradients and devices
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("grid", ["centered", "staggered"])
def test_gradients_flow_through_phiflow_ops(grid):
    conv = conv2d(grid)
    t = torch.randn(2, 2, 6, 5, requires_grad=True)
    (3.0 * conv.to_tensor(conv.to_field(t) * 1.5)).sum().backward()  # linear: d/dt = 4.5
    assert torch.allclose(t.grad, torch.full_like(t, 4.5))
    t.grad = None
    f = conv.to_field(t)
    out = conv.to_tensor(advect.semi_lagrangian(f, f, 0.05))
    (out ** 2).sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_device_is_preserved():
    conv = conv2d()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        t = torch.randn(2, 2, 6, 5, device=dev)
        assert conv.to_tensor(conv.to_field(t)).device.type == dev


# ------------------------------------------------------------------------------------------------
# numpy helpers (data generation / cache)
# ------------------------------------------------------------------------------------------------
def test_numpy_helpers():
    conv = conv2d("staggered", velocity=2, density=1)
    arr = np.random.default_rng(0).standard_normal((2, 3, 6, 5))
    state = conv.from_numpy(arr)
    out = conv.to_numpy(state)
    assert set(out) == {"velocity", "density"} and out["velocity"].dtype == np.float32
    np.testing.assert_array_equal(out["velocity"], arr[:, :2].astype(np.float32))
    np.testing.assert_array_equal(out["density"], arr[:, 2:].astype(np.float32))
    again = conv.from_numpy(out)  # the per-field dict form round-trips too
    np.testing.assert_array_equal(conv.to_numpy(again["velocity"]), out["velocity"])
    nu = math.tensor(np.arange(30.0).reshape(6, 5), spatial("x,y"))
    np.testing.assert_array_equal(conv.static_to_numpy(nu), np.arange(30.0, dtype=np.float32).reshape(1, 6, 5))
    np.testing.assert_array_equal(conv.static_to_numpy(math.tensor(0.5)), np.full((1, 6, 5), 0.5, np.float32))
