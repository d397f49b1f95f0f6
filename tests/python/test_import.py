"""alae.Model.import_pth: the authors' PyTorch checkpoints (tests/fixtures/pth) without PyTorch."""
import os

import numpy as np
import pytest

import alae

PTH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "pth")
STYLE16 = dict(image_size=16, channels=3, start_channels=8, max_channels=16, latent_dim=32, mapping_layers=3)


@pytest.mark.parametrize("name", ["style16_legacy.pth", "style16_zip.pth"])
def test_both_formats_import_the_same_model(name, tmp_path):
    m = alae.Model.import_pth(os.path.join(PTH, name), "mnist", **STYLE16)
    with alae.ModelConfig("mnist", **STYLE16) as cfg:
        t = alae.Model.import_pth(os.path.join(PTH, name), cfg, copy="training")
    assert m.get(alae.MODEL_RESOLUTION) == 16
    assert m.param_count() == 38873
    z = np.random.default_rng(0).standard_normal((2, 32)).astype(np.float32)
    # the smoothed and the training networks differ
    assert not np.allclose(m.map(z), t.map(z))
    path = str(tmp_path / "m.safetensors")
    m.save(path)
    back = alae.Model.load(path)
    np.testing.assert_array_equal(back.map(z), m.map(z))


def test_refusals_raise_with_the_reason():
    with pytest.raises(alae.AlaeError, match="tracker.RunningMeanTorch") as e:
        alae.Model.import_pth(os.path.join(PTH, "models_unknown.pth"), "mnist", **STYLE16)
    assert e.value.code == alae.E_FORMAT
    with pytest.raises(alae.AlaeError, match="does not fit the configuration 'celeba'"):
        alae.Model.import_pth(os.path.join(PTH, "style16_zip.pth"), "celeba")
    with pytest.raises(ValueError, match="copy"):
        alae.Model.import_pth(os.path.join(PTH, "style16_zip.pth"), "mnist", copy="ema")
