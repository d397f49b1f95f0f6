"""IDX data sets, the shuffled order, PNG grids and .npy files."""

import numpy as np
import pytest

import alae
from conftest import write_idx_images


def test_dataset(tiny_idx):
    images_path, labels_path, images, labels = tiny_idx
    with alae.Dataset(images_path, labels=labels_path) as ds:
        assert len(ds) == 64 and ds.image_shape == (1, 28, 28)
        assert ds.label(3) == labels[3]
        assert np.array_equal(ds.labels(), labels)
        x = ds.read([0, 5])
        assert x.shape == (2, 1, 28, 28) and x.dtype == np.float32
        assert np.allclose(x[1, 0], images[5] / 255.0)
        y = ds.read([5], image_size=32, data_range=1)
        assert y.shape == (1, 1, 32, 32)
        assert np.allclose(y[0, 0, 2:30, 2:30], images[5] / 127.5 - 1, atol=1e-6)
        assert np.all(y[0, 0, :2] == -1.0)  # the border is black
        assert ds.read().shape == (64, 1, 28, 28)
        assert ds.read([]).shape == (0, 1, 28, 28)
        with pytest.raises(alae.AlaeError) as e:
            ds.read([0], image_size=16)
        assert e.value.code == alae.E_SHAPE
        with pytest.raises(alae.AlaeError):
            ds.read([64])


def test_dataset_gzip_and_errors(tmp_path, tiny_idx):
    write_idx_images(tmp_path / "x.idx.gz", tiny_idx[2][:10])
    with alae.Dataset(tmp_path / "x.idx.gz") as ds:
        assert len(ds) == 10
        with pytest.raises(alae.AlaeError) as e:
            ds.label(0)
        assert e.value.code == alae.E_STATE
    with pytest.raises(alae.AlaeError) as e:
        alae.Dataset(tmp_path / "missing.idx")
    assert e.value.code == alae.E_IO
    (tmp_path / "bad.idx").write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05")
    with pytest.raises(alae.AlaeError) as e:
        alae.Dataset.open_idx(tmp_path / "bad.idx")
    assert e.value.code == alae.E_FORMAT and "bad.idx" in e.value.message


def _write_bmp(path, grey):
    """A 24-bit BMP of the 2-D uint8 array grey (rows bottom-up, padded to 4 bytes)."""
    import struct
    h, w = grey.shape
    row = (3 * w + 3) // 4 * 4
    data = bytearray()
    for y in range(h - 1, -1, -1):
        line = bytes(v for x in range(w) for v in (int(grey[y, x]),) * 3)
        data += line + b"\0" * (row - len(line))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(data), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(data), 2835, 2835, 0, 0)
    path.write_bytes(header + info + bytes(data))


def test_open_folder_crop_or_whole(tmp_path):
    # 6 x 2: column pairs of 0, 100, 200; the centre square is the 100 pair
    grey = np.repeat(np.array([[0, 0, 100, 100, 200, 200]], dtype=np.uint8), 2, axis=0)
    _write_bmp(tmp_path / "wide.bmp", grey)
    with alae.Dataset.open_folder(str(tmp_path), 1, 3) as ds:
        assert len(ds) == 1 and ds.image_shape == (1, 3, 3)
        assert np.allclose(ds.read()[0, 0] * 255, 100, atol=1e-3)
    with alae.Dataset.open_folder(str(tmp_path / "wide.bmp"), 1, 3, crop=False) as ds:
        x = ds.read()[0, 0] * 255
        assert np.allclose(x, [[0, 100, 200]] * 3, atol=1e-3)
    # growing: a constant image stays constant
    _write_bmp(tmp_path / "wide.bmp", np.full((2, 6), 37, dtype=np.uint8))
    with alae.Dataset.open_folder(str(tmp_path), 1, 11, crop=False) as ds:
        assert np.allclose(ds.read() * 255, 37, atol=1e-3)
    with pytest.raises(alae.AlaeError) as e:
        alae.Dataset.open_folder(str(tmp_path / "missing"), 1, 3)
    assert e.value.code == alae.E_IO


def test_shuffle_order():
    a = alae.shuffle_order(1, 0, 100)
    assert sorted(a) == list(range(100)) and a.dtype == np.int64
    assert np.array_equal(a, alae.shuffle_order(1, 0, 100))
    assert not np.array_equal(a, alae.shuffle_order(1, 1, 100))
    assert alae.shuffle_order(1, 0, 0).shape == (0,)


def test_png_grid(tmp_path, small_model):
    x = small_model.sample(n=6)
    alae.write_png_grid(tmp_path / "grid.png", x, model=small_model)
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    alae.write_png_grid(tmp_path / "gray.png", np.random.rand(4, 8, 8), columns=4)
    assert (tmp_path / "gray.png").stat().st_size > 0
    with pytest.raises(alae.AlaeError):
        alae.write_png_grid(tmp_path / "bad.png", np.zeros((2, 2, 8, 8)))  # 2 channels


def test_npy_round_trip(tmp_path):
    a = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    alae.save_npy(tmp_path / "a.npy", a)
    assert np.array_equal(np.load(tmp_path / "a.npy"), a)
    assert np.array_equal(alae.load_npy(tmp_path / "a.npy"), a)
    np.save(tmp_path / "b.npy", a[0])
    assert np.array_equal(alae.load_npy(str(tmp_path / "b.npy")), a[0])
    np.save(tmp_path / "c.npy", a.astype(np.float64))
    with pytest.raises(alae.AlaeError):
        alae.load_npy(tmp_path / "c.npy")
