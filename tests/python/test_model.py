"""Configurations and models: presets, settings, inference, save and load."""

import numpy as np
import pytest

import alae


def test_presets_and_settings():
    assert {"mnist-fc", "mnist-fc-paper"} <= set(alae.presets())
    names = alae.setting_names()
    assert {"latent_dim", "image_size", "channels", "data_range"} <= set(names)
    with alae.ModelConfig("mnist-fc-paper", latent_dim=20) as cfg:
        d = cfg.to_dict()
        assert d["latent_dim"] == 20 and d["image_size"] == 28 and d["data_range"] == 0
        assert d["arch"] == alae.ARCH_MLP
        cfg["hidden"] = 128
        assert cfg["hidden"] == 128
        assert cfg[alae.CFG_HIDDEN] == 128
    assert alae.ModelConfig.key("latent_dim") == alae.CFG_LATENT_DIM
    assert alae.ModelConfig.bounds("latent_dim") == (1.0, 4096.0)


def test_config_errors():
    with pytest.raises(alae.AlaeError) as e:
        alae.ModelConfig("no-such-preset")
    assert e.value.code == alae.E_INVALID_ARG and "mnist-fc" in e.value.message
    with pytest.raises(alae.AlaeError) as e:
        alae.ModelConfig("mnist-fc", no_such_setting=3)
    assert e.value.code == alae.E_INVALID_ARG and "no_such_setting" in e.value.message
    with pytest.raises(alae.AlaeError) as e:
        alae.ModelConfig("mnist-fc", latent_dim=0)
    assert e.value.code == alae.E_INVALID_ARG and "latent_dim" in e.value.message
    with pytest.raises(alae.AlaeError):
        alae.ModelConfig("mnist-fc", arch=2)  # fixed by the preset


def test_model_geometry(small_model):
    m = small_model
    assert m.latent_dim == 50 and m.image_shape == (1, 32, 32) and m.pixel_range == (-1.0, 1.0)
    cfg = m.config
    assert cfg["hidden"] == 64 and cfg["image_size"] == 32 and cfg["net_size"] == 28
    assert m.param_count() == m.param_count("FGED") == sum(m.param_count(p) for p in "FGED")
    assert m.param_count("F") == m.param_count(alae.PART_F) > 0
    with pytest.raises(alae.AlaeError):
        m.param_count("X")


def test_inference_shapes(small_model):
    m = small_model
    z = m.random_latents(5, seed=2)
    assert z.shape == (5, 50) and z.dtype == np.float32
    w = m.map(z)
    x = m.generate(w)
    assert w.shape == (5, 50) and x.shape == (5, 1, 32, 32) and x.dtype == np.float32
    assert np.array_equal(m.decode(w), x)
    assert np.array_equal(m.sample(z), x)
    assert np.array_equal(m.sample(n=5, seed=2), x)
    assert m.encode(x).shape == (5, 50)
    assert m.reconstruct(x).shape == (5, 1, 32, 32)
    assert m.discriminate(w).shape == (5,)
    assert np.allclose(m.reconstruct(x), m.generate(m.encode(x)), atol=1e-5)


def test_inference_converts_and_batches(small_model):
    m = small_model
    z = np.asfortranarray(m.random_latents(7, seed=1).astype(np.float64))
    one = m.sample(z)
    chunked = m.sample(z, batch_size=3)
    assert np.allclose(one, chunked, rtol=1e-4, atol=1e-4)  # GEMM blocking differs by batch size
    assert m.sample(np.zeros((0, 50))).shape == (0, 1, 32, 32)


def test_inference_shape_errors(small_model):
    with pytest.raises(alae.AlaeError) as e:
        small_model.encode(np.zeros((2, 1, 28, 28)))
    assert e.value.code == alae.E_SHAPE and "[N, 1, 32, 32]" in e.value.message
    with pytest.raises(alae.AlaeError) as e:
        small_model.generate(np.zeros((2, 49)))
    assert e.value.code == alae.E_SHAPE
    with pytest.raises(alae.AlaeError):
        small_model.sample()


def test_same_seed_same_model(context):
    a = alae.Model.from_preset("mnist-fc-paper", seed=5, context=context, hidden=32)
    b = alae.Model.from_preset("mnist-fc-paper", seed=5, context=context, hidden=32)
    c = alae.Model.from_preset("mnist-fc-paper", seed=6, context=context, hidden=32)
    z = a.random_latents(4, seed=0)
    assert np.array_equal(a.sample(z), b.sample(z))
    assert not np.array_equal(a.sample(z), c.sample(z))
    assert a.image_shape == (1, 28, 28) and a.pixel_range == (0.0, 1.0)


def test_save_and_load(small_model, tmp_path, context):
    path = tmp_path / "model.safetensors"
    small_model.save(path)
    loaded = alae.Model.load(str(path), context=context)
    assert loaded.config == small_model.config
    z = small_model.random_latents(3, seed=9)
    assert np.array_equal(loaded.sample(z), small_model.sample(z))
    with loaded.get_config() as cfg:
        assert cfg["hidden"] == 64
    with pytest.raises(alae.AlaeError) as e:
        alae.Model.load(tmp_path / "missing.safetensors", context=context)
    assert e.value.code == alae.E_IO
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(alae.AlaeError) as e:
        alae.Model.load(bad, context=context)
    assert e.value.code == alae.E_FORMAT


def test_default_context():
    m = alae.Model.from_preset("mnist-fc", seed=0, hidden=16)
    assert m.context is alae.default_context()
    assert m.sample(n=2).shape == (2, 1, 32, 32)
    m.close()


def test_model_constructor_is_not_public():
    with pytest.raises(TypeError):
        alae.Model()


def test_inference_settings(small_model):
    try:
        settings = small_model.settings
    except alae.AlaeError as e:
        if e.code == alae.E_UNSUPPORTED:
            pytest.skip("the loaded library has no alae_model_set/get yet")
        raise
    assert settings["levels"] >= 1 and settings["resolution"] == 32


def test_noise_mode_by_name(small_model):
    small_model.set("noise", "off")
    assert small_model.get("noise") == alae.NOISE_OFF
    small_model.set("noise", "batch")
    assert small_model.get("noise") == alae.NOISE_BATCH_CONSTANT
    small_model.set("noise", alae.NOISE_PER_SAMPLE)
    assert small_model.get("noise") == alae.NOISE_PER_SAMPLE
    with pytest.raises(ValueError):
        small_model.set("noise", "loud")
    assert small_model.get("noise") == alae.NOISE_PER_SAMPLE
