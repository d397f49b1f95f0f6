"""Optimizers and the trainer: steps, settings, checkpoints and the smoothed model."""

import math

import numpy as np
import pytest

import alae


@pytest.fixture
def batch(tiny_idx, small_model):
    with alae.Dataset(tiny_idx[0]) as ds:
        return ds.read(range(16), for_model=small_model)


def test_optimizer(small_model):
    with alae.Optimizer(small_model, "FG", lr=0.001) as opt:
        assert opt.parts == alae.PART_F | alae.PART_G
        assert opt.lr == pytest.approx(0.001)
        opt["beta2"] = 0.9
        assert opt.to_dict()["beta2"] == pytest.approx(0.9)
        with pytest.raises(alae.AlaeError) as e:
            opt["lr"] = -1
        assert e.value.code == alae.E_INVALID_ARG
        with pytest.raises(alae.AlaeError):
            opt["momentum"] = 0.5


def test_trainer_steps(small_model, batch):
    tr = alae.Trainer(small_model, lr=0.002, seed=3, r1_gamma=5.0, latent_loss="l1")
    assert tr["r1_gamma"] == 5 and tr["latent_loss"] == alae.LATENT_L1 and tr["seed"] == 3
    assert tr.opt_fg.lr == pytest.approx(0.002) and tr.opt_ed.parts == alae.PART_E | alae.PART_D
    assert tr.reserve(16) > 0
    assert tr.step_count == 0
    for i in range(3):
        stats = tr.step(batch)
        assert stats.step == i + 1
        for v in (stats.loss_d, stats.loss_g, stats.loss_ae, stats.r1):
            assert math.isfinite(v)
    assert set(stats.as_dict()) == {"loss_d", "loss_g", "loss_ae", "r1", "step"}
    assert tr.step_count == 3
    assert set(tr.to_dict()) >= {"r1_gamma", "latent_loss", "latent_loss_weight", "ema_half_life", "dlatent_beta",
                                 "seed"}
    with pytest.raises(alae.AlaeError) as e:
        tr.step(batch[:, :, :28, :28])
    assert e.value.code == alae.E_SHAPE
    with pytest.raises(alae.AlaeError):
        tr["no_such_setting"] = 1
    tr.close()


def test_trainer_step_tensor(small_model, batch):
    with alae.Trainer(small_model, seed=0) as tr, alae.Tensor.from_numpy(small_model.context, batch) as t:
        assert tr.step_tensor(t).step == 1


def test_checkpoint_resume_is_exact(tiny_idx, tmp_path):
    """Two steps, save, two more == load the state into a fresh trainer, two more (one thread)."""

    def make():
        ctx = alae.Context(threads=1)
        model = alae.Model.from_preset("mnist-fc", seed=4, context=ctx, hidden=32)
        return model, alae.Trainer(model, seed=4)

    with alae.Dataset(tiny_idx[0]) as ds:
        model, tr = make()
        batches = [ds.read(range(i * 8, i * 8 + 8), for_model=model) for i in range(4)]
        for b in batches[:2]:
            tr.step(b)
        tr.save(tmp_path / "state.safetensors")
        straight = [tr.step(b) for b in batches[2:]]
        model2, tr2 = make()
        tr2.load(str(tmp_path / "state.safetensors"))
        assert tr2.step_count == 2
        resumed = [tr2.step(b) for b in batches[2:]]
        assert straight == resumed
        z = model.random_latents(4, seed=1)
        assert np.array_equal(model.sample(z), model2.sample(z))
        tr.close()
        tr2.close()


def test_smoothed_model_and_save_model(small_model, batch, tmp_path):
    tr = alae.Trainer(small_model, seed=0, ema_half_life=10)
    tr.step(batch)
    smoothed = tr.smoothed_model()
    assert smoothed.context is small_model.context
    tr.save_model(tmp_path / "ema.safetensors")
    loaded = alae.Model.load(tmp_path / "ema.safetensors", context=small_model.context)
    z = small_model.random_latents(3, seed=0)
    assert np.array_equal(smoothed.sample(z), loaded.sample(z))
    with pytest.raises(alae.AlaeError) as e:
        tr.load(tmp_path / "ema.safetensors")  # a model file is not a training state
    assert e.value.code == alae.E_FORMAT
    tr.close()


def test_trainer_with_own_optimizers(small_model, batch):
    fg = alae.Optimizer(small_model, alae.PART_F | alae.PART_G, lr=0.001)
    ed = alae.Optimizer(small_model, "ED", lr=0.003)
    with alae.Trainer(small_model, opt_fg=fg, opt_ed=ed) as tr:
        tr.step(batch)
        assert tr.opt_fg is fg
    with pytest.raises(alae.AlaeError) as e:
        alae.Trainer(small_model, opt_fg=ed, opt_ed=fg)
    assert e.value.code == alae.E_INVALID_ARG


def test_schedule_api(small_model):
    """The progressive-growing schedule (StyleALAE), where the loaded library has it: the MLP has
    one level, so its table has one row."""
    with alae.Trainer(small_model, seed=0) as tr:
        try:
            tr.set_level(0, "batch", 16)
        except alae.AlaeError as e:
            if e.code == alae.E_UNSUPPORTED:
                pytest.skip("the loaded library has no alae_trainer_set_level yet")
            raise
        assert tr.get_level(0, "batch") == 16
        tr.set_position(0, 0)
        assert tr["lod"] == 0 and tr["epoch"] == 0
        with pytest.raises(alae.AlaeError) as e:
            tr.set_level(5, "batch", 16)
        assert e.value.code == alae.E_INVALID_ARG


def test_keys_of_another_family_are_refused(small_model):
    """Every family of keys has its own range (ABI 0.2): a model key given to the trainer, the
    optimizer or the context is refused instead of setting something else."""
    with alae.Trainer(small_model, seed=0) as tr:
        gamma = tr["r1_gamma"]
        for setter, key, family in ((tr.__setitem__, alae.MODEL_LOD, "ALAE_TRAIN_*"),
                                    (tr.opt_fg.__setitem__, alae.TRAIN_R1_GAMMA, "ALAE_OPT_*"),
                                    (small_model.set, alae.OPT_LR, "ALAE_MODEL_*"),
                                    (small_model.context.set_param, alae.MODEL_LOD, "ALAE_CTX_*")):
            with pytest.raises(alae.AlaeError) as e:
                setter(key, 1)
            assert e.value.code == alae.E_INVALID_ARG
            assert "not an %s key" % family in e.value.message, e.value.message
        assert tr["r1_gamma"] == gamma
