"""Fixtures of the Python package's tests: the package (from python/ unless PYTHONPATH says
otherwise), a tiny IDX data set written here, and small models."""

import gzip
import os
import struct
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.join(REPO, "python") not in sys.path:
    sys.path.insert(0, os.path.join(REPO, "python"))

import alae  # noqa: E402


def write_idx_images(path, images):
    """images: uint8 [N, H, W] -> an IDX3 file (gzip when path ends with .gz)."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    data = struct.pack(">IIII", 0x00000803, *images.shape) + images.tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def write_idx_labels(path, labels):
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">II", 0x00000801, labels.shape[0]) + labels.tobytes())


def tiny_digits(n=64, size=28, seed=0):
    """n images of size x size: a bright bar whose position and angle depend on the label i % 10,
    plus a little noise; and the labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.zeros((n, size, size), dtype=np.float64)
    labels = np.arange(n) % 10
    for i, label in enumerate(labels):
        angle = np.pi * label / 10
        d = np.abs((xx - size / 2) * np.sin(angle) - (yy - size / 2) * np.cos(angle))
        images[i] = np.clip(1.5 - d / 2, 0, 1) * (np.hypot(xx - size / 2, yy - size / 2) < size * 0.4)
    images = np.clip(images * 255 + rng.normal(0, 8, images.shape), 0, 255)
    return images.astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_idx(tmp_path_factory):
    """(images path, labels path, uint8 images, labels) of 64 28x28 images."""
    d = tmp_path_factory.mktemp("idx")
    images, labels = tiny_digits()
    write_idx_images(d / "images.idx", images)
    write_idx_labels(d / "labels.idx", labels)
    return str(d / "images.idx"), str(d / "labels.idx"), images, labels


@pytest.fixture
def context():
    ctx = alae.Context(threads=1)
    yield ctx
    ctx.close()


@pytest.fixture
def small_model(context):
    """A small mnist-fc model (hidden 64) on a one-thread context."""
    model = alae.Model.from_preset("mnist-fc", seed=1, context=context, hidden=64)
    yield model
    model.close()
