"""Measuring and editing from Python: inversion (Model.invert)."""

import json
import os

import numpy as np
import pytest

import alae


def psnr(a, b, peak):
    mse = ((a - b) ** 2).reshape(a.shape[0], -1).mean(axis=1)
    return float(np.mean(10 * np.log10(peak * peak / mse)))


def test_invert_raises_psnr_and_reports_it(small_model):
    m = small_model
    w_true = m.random_latents(6, seed=3) * 0.5
    x = m.generate(w_true)
    codes, rep = m.invert(x, steps=60, lr=0.05, batch_size=4, report=True)
    assert codes.shape == (6, m.latent_dim) and codes.dtype == np.float32
    assert rep.steps == 60 and rep.images == 6
    peak = 2.0  # mnist-fc reads [-1, 1]
    # G's output clamped to the data range, as image files show it
    assert rep.psnr_before == pytest.approx(psnr(np.clip(m.reconstruct(x), -1, 1), x, peak), abs=1e-3)
    assert rep.psnr_after == pytest.approx(psnr(np.clip(m.generate(codes), -1, 1), x, peak), abs=1e-3)
    assert rep.psnr_after > rep.psnr_before + 3
    # 0 steps: the codes are E(x)
    np.testing.assert_array_equal(m.invert(x, steps=0), m.encode(x))


def test_invert_w_plus(small_model):
    m = small_model
    x = m.generate(m.random_latents(2, seed=4))
    codes = m.invert(x, steps=5, space="w+")
    assert codes.shape == (2, 1, m.latent_dim)
    assert np.all(np.isfinite(m.generate_styles(codes)))


def test_invert_errors(small_model):
    m = small_model
    x = np.zeros((2,) + m.image_shape, dtype=np.float32)
    with pytest.raises(alae.AlaeError) as e:
        m.invert(x, space="z")
    assert e.value.code == alae.E_INVALID_ARG
    with pytest.raises(alae.AlaeError) as e:
        m.invert(x[:, :, :5], steps=1)
    assert e.value.code == alae.E_SHAPE
    with pytest.raises(alae.AlaeError) as e:
        m.invert(x, steps=-1)
    assert e.value.code == alae.E_INVALID_ARG and "steps" in e.value.message
    with pytest.raises(alae.AlaeError) as e:
        m.invert(x, steps=1, lr=0)
    assert e.value.code == alae.E_INVALID_ARG and "lr" in e.value.message


def test_metrics_on_known_cases(small_model):
    from alae import eval as ev
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 1, 16, 16)).astype(np.float32)
    q = ev.image_quality(x, x + 0.1, peak=1.0)
    assert q["mse"] == pytest.approx(0.01, rel=1e-4)
    assert q["psnr"] == pytest.approx(20.0, abs=1e-3)
    assert ev.image_quality(x, x, 1.0)["ssim"] == pytest.approx(1.0)
    s = ev.swd(x, x)
    assert s["mean"] == 0 and set(s) == {"mean", 16, 8}
    p, r = ev.precision_recall(x, x)
    assert (p, r) == (1.0, 1.0)
    feats = np.arange(10, dtype=np.float32).reshape(10, 1) * 10
    labels = np.arange(10)
    assert ev.nn_accuracy(feats, labels, feats + 1, labels) == 1.0
    assert ev.linear_accuracy(np.array([[-2.], [-1.], [1.], [2.]]), [0, 0, 1, 1], np.array([[-3.], [3.]]), [0, 1]) == 1.0
    mean, lengths = ev.path_length(small_model, n=20, epsilon=1e-2)
    assert lengths.shape == (20,) and np.all(lengths >= 0) and lengths.min() <= mean <= lengths.max()
    with pytest.raises(alae.AlaeError) as e:
        ev.nn_accuracy(feats, labels[:3], feats, labels)
    assert e.value.code == alae.E_SHAPE


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def read_safetensors(path, name):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        entry = json.loads(f.read(n))[name]
        begin, end = entry["data_offsets"]
        f.seek(8 + n + begin)
        return np.frombuffer(f.read(end - begin), dtype="<f4").reshape(entry["shape"])


def test_frechet_distance_known_cases():
    from alae import eval as ev
    a = np.random.default_rng(1).normal(size=(300, 6)).astype(np.float32)
    assert ev.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert ev.frechet_distance(a, a + 0.5) == pytest.approx(6 * 0.25, rel=1e-5)
    with pytest.raises(alae.AlaeError) as e:
        ev.frechet_distance(a, a[:, :3])
    assert e.value.code == alae.E_SHAPE


def test_feature_net_matches_pytorch_and_drives_fid_and_ppl(small_model):
    """The narrow Inception of tests/fixtures (made by make_inception_fixture.py with PyTorch)."""
    from alae import eval as ev
    path = os.path.join(FIXTURES, "inception_tiny.safetensors")
    images = read_safetensors(path, "test.rgb.images")
    want = read_safetensors(path, "test.rgb.features")
    with ev.FeatureNet(path, context=small_model.context) as net:
        assert net.dim == want.shape[1]
        got = net.features(images, lo=0.0, hi=1.0)
        assert np.abs(got - want).max() <= 2e-5 * np.abs(want).max()
        assert ev.frechet_distance(got, got) == pytest.approx(0.0, abs=1e-9)
        mean, lengths = ev.path_length(small_model, n=3, epsilon=1e-2, features=net)
        assert lengths.shape == (3,) and np.all(lengths > 0)
    with pytest.raises(alae.AlaeError) as e:
        ev.FeatureNet(os.path.join(FIXTURES, "mlp.safetensors"))
    assert e.value.code == alae.E_FORMAT and "Conv2d_1a_3x3.conv.weight" in str(e.value)


def test_directions_fit_save_load_and_edit(small_model, tmp_path):
    from alae import eval as ev
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(500, 6)).astype(np.float32)
    truth = np.array([1, 0, 0, -1, 0, 0], dtype=np.float32) / np.sqrt(2)
    positive = (codes @ truth > 0).astype(np.int32)
    d, acc = ev.fit_direction(codes, positive)
    assert np.linalg.norm(d) == pytest.approx(1, abs=1e-5) and float(d @ truth) > 0.97 and acc > 0.9
    path = str(tmp_path / "dirs.safetensors")
    ev.save_directions(path, {"smile": (d, acc), "imported": np.arange(1, 7, dtype=np.float32)})
    back = ev.load_directions(path)
    assert set(back) == {"smile", "imported"}
    np.testing.assert_allclose(back["smile"][0], d, atol=1e-6)
    assert back["smile"][1] == pytest.approx(acc, abs=1e-6) and back["imported"][1] is None
    assert np.linalg.norm(back["imported"][0]) == pytest.approx(1, abs=1e-6)
    with pytest.raises(alae.AlaeError) as e:
        ev.fit_direction(codes, np.ones(500))
    assert e.value.code == alae.E_INVALID_ARG
    m = small_model
    w = m.encode(np.zeros((1,) + m.image_shape, dtype=np.float32))[0]
    one_hot = np.eye(m.latent_dim, dtype=np.float32)[3]
    strip = ev.edit(m, w, one_hot, [-1, 0, 1])
    assert strip.shape == (3,) + m.image_shape
    np.testing.assert_allclose(strip[1], m.generate(w[None])[0], atol=1e-6)
