"""Hostile inputs through the Python package (issue #20, docs/reliability.md section 7): every
case here was accepted, silently, before its fix."""

import json
import math
import struct

import numpy as np
import pytest

import alae


def _poke_f32(path, tensor, index, value):
    """Writes value into element index of F32 tensor `tensor` of a safetensors file, in place."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        begin = header[tensor]["data_offsets"][0]
        f.seek(8 + n + begin + 4 * index)
        f.write(struct.pack("<f", value))


@pytest.fixture
def batch(tiny_idx, small_model):
    with alae.Dataset(tiny_idx[0]) as ds:
        return ds.read(range(16), for_model=small_model)


def test_nan_batch_is_refused_and_the_trainer_kept(small_model, batch):
    tr = alae.Trainer(small_model, lr=0.002, seed=3)
    bad = batch.copy()
    bad[3, 0, 5, 7] = np.nan
    with pytest.raises(alae.AlaeError) as e:
        tr.step(bad)
    assert e.value.code == alae.E_INVALID_ARG and "(3, 0, 5, 7)" in str(e.value)
    bad[3, 0, 5, 7] = np.inf
    with pytest.raises(alae.AlaeError):
        tr.step(bad)
    assert tr.step_count == 0
    stats = tr.step(batch)  # the trainer was not poisoned
    assert all(math.isfinite(v) for v in (stats.loss_d, stats.loss_g, stats.loss_ae, stats.r1))
    tr.close()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_parameters_are_refused_naming_the_tensor(small_model, tmp_path, context, value):
    path = tmp_path / "model.safetensors"
    small_model.save(path)
    _poke_f32(path, "G.fc.2.weight", 5, value)
    with pytest.raises(alae.AlaeError) as e:
        alae.Model.load(path, context=context)
    assert e.value.code == alae.E_FORMAT
    assert "tensor 'G.fc.2.weight' holds a non-finite value" in str(e.value) and "element 5" in str(e.value)


def test_non_finite_training_state_is_refused_before_anything_changes(small_model, batch, tmp_path):
    tr = alae.Trainer(small_model, lr=0.002, seed=3)
    tr.step(batch)
    path = tmp_path / "state.safetensors"
    tr.save(path)
    tr.step(batch)
    _poke_f32(path, "adam.v/D.dense.0.bias", 2, float("inf"))
    with pytest.raises(alae.AlaeError) as e:
        tr.load(path)
    assert e.value.code == alae.E_FORMAT and "'adam.v/D.dense.0.bias'" in str(e.value)
    assert tr.step_count == 2
    tr.close()


def test_path_with_nul_is_refused_like_open(small_model, tmp_path, context):
    target = tmp_path / "a"
    for path in (str(target) + "\0.safetensors", bytes(target) + b"\0x"):
        with pytest.raises(ValueError, match="embedded null byte"):
            small_model.save(path)
        with pytest.raises(ValueError, match="embedded null byte"):
            alae.Model.load(path, context=context)
    with pytest.raises(ValueError, match="embedded null byte"):
        alae.save_npy(str(target) + "\0.npy", np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="embedded null byte"):  # the raw binding too
        alae.lib().alae_model_save(small_model._ptr, bytes(target) + b"\0")
    assert not target.exists()  # the write did not land on the name before the NUL
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [2**64 + 1, -(2**63) - 1, 2**70])
def test_integers_out_of_range_are_refused_not_wrapped(small_model, context, value):
    tr = alae.Trainer(small_model, lr=0.002, seed=3)
    with pytest.raises(alae.AlaeError) as e:
        tr.set_position(value)  # uint64_t: 2^64 + 1 used to arrive as 1
    assert e.value.code == alae.E_INVALID_ARG and "out of range for c_" in str(e.value)
    assert tr["epoch"] == 0
    tr.close()
    with pytest.raises(alae.AlaeError) as e:
        context.seed = value  # int64_t
    assert e.value.code == alae.E_INVALID_ARG
    with pytest.raises(alae.AlaeError) as e:
        alae.shuffle_order(value, 0, 4)
    assert e.value.code == alae.E_INVALID_ARG
