"""Data sets (IDX files), the shuffled epoch order, PNG image grids and .npy files."""

import ctypes
import math
import threading
from ctypes import byref, c_int32, c_int64, c_void_p

import numpy as np

from . import _lib
from . import constants as _k
from ._handle import Handle
from ._lib import AlaeError
from .core import Tensor, as_f32, default_context


class Dataset(Handle):
    """An IDX image collection (MNIST, Fashion-MNIST; raw or gzip), with optional labels, or an
    image folder (``Dataset.open_folder``).

    ``ds = Dataset("train-images-idx3-ubyte.gz", labels="train-labels-idx1-ubyte.gz")``;
    ``len(ds)``, ``ds.image_shape`` (C, H, W), ``ds.label(i)``, ``ds.labels()``,
    ``ds.read(indices, image_size=32, data_range=1)`` -> float32 [n, C, S, S]."""

    _destroy = "alae_dataset_destroy"
    _kind = "Dataset"

    def __init__(self, images, labels=None):
        out = c_void_p()
        _lib.get().alae_dataset_open_idx(_lib.encode_path(images),
                                         None if labels is None else _lib.encode_path(labels), byref(out))
        self._own(out.value, lock=threading.RLock())
        self.path = images

    open_idx = classmethod(lambda cls, images, labels=None: cls(images, labels))

    @classmethod
    def open_folder(cls, path, channels, size, crop=True, skip_bad=False):
        """The images of a folder (its .png, .jpg, .jpeg, .bmp files, sorted by name) or of one
        image file, converted to `channels` and resized to size x size: area averaging where an
        axis shrinks, bicubic (Catmull-Rom) where it grows; from the centre square (crop=True,
        as ``alae train``) or the whole image (crop=False, its aspect ratio not kept, as the
        inference commands without --crop). skip_bad skips undecodable files with a warning.
        No labels."""
        flags = (_k.FOLDER_SKIP_BAD if skip_bad else 0) | (0 if crop else _k.FOLDER_NO_CROP)
        out = c_void_p()
        _lib.get().alae_dataset_open_folder(_lib.encode_path(path), int(channels), int(size), flags, byref(out))
        ds = cls.__new__(cls)
        ds._own(out.value, lock=threading.RLock())
        ds.path = path
        return ds

    def __len__(self):
        with self._lock:
            return int(_lib.get().alae_dataset_count(self._ptr))

    @property
    def image_shape(self):
        """(channels, height, width) of the stored images."""
        c, h, w = c_int32(), c_int32(), c_int32()
        with self._lock:
            _lib.get().alae_dataset_image_shape(self._ptr, byref(c), byref(h), byref(w))
        return c.value, h.value, w.value

    def label(self, index):
        """The label of one image (AlaeError E_STATE when the data set has no labels)."""
        value = c_int32()
        with self._lock:
            _lib.get().alae_dataset_label(self._ptr, int(index), byref(value))
        return value.value

    def labels(self):
        """Every label, as an int32 array."""
        return np.array([self.label(i) for i in range(len(self))], dtype=np.int32)

    def read(self, indices=None, image_size=None, data_range=0, context=None, for_model=None):
        """The images at indices (default: all) as float32 [n, C, S, S]: pixel/255 for
        data_range 0 ([0, 1]), pixel/127.5 - 1 for data_range 1 ([-1, 1]); images smaller than
        S are centred on a black border. for_model=model takes S, C and the range from a model."""
        if for_model is not None:
            channels, image_size, _ = for_model.image_shape
            data_range = for_model.data_range
            context = context or for_model.context
        else:
            channels = self.image_shape[0]
            if image_size is None:
                image_size = max(self.image_shape[1:])
        if indices is None:
            indices = np.arange(len(self), dtype=np.int64)
        idx = np.ascontiguousarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            return np.empty((0, channels, image_size, image_size), dtype=np.float32)
        context = context or default_context()
        with Tensor(context, (idx.size, channels, image_size, image_size)) as t:
            with self._lock, context._lock:
                _lib.get().alae_dataset_read(self._ptr, idx.ctypes.data_as(ctypes.POINTER(c_int64)), idx.size,
                                             int(data_range), t._ptr)
            return t.numpy()

    def __repr__(self):
        return "<alae.Dataset %s%s>" % (self.path, " closed" if self.closed else " (%d images)" % len(self))


def shuffle_order(seed, epoch, count):
    """The order of epoch `epoch` of a shuffled pass over count items (int64 permutation from
    (seed, epoch) with xoshiro256**, the same on every platform; ``alae train`` uses it)."""
    perm = np.empty(int(count), dtype=np.int64)
    if count:
        _lib.get().alae_shuffle_order(int(seed), int(epoch), int(count), perm.ctypes.data_as(ctypes.POINTER(c_int64)))
    return perm


def write_png_grid(path, images, lo=None, hi=None, columns=None, model=None):
    """Writes images [N, C, H, W] (C = 1 or 3) as one PNG grid (2-pixel gaps), atomically.
    Values in [lo, hi] map to 0..255 (default: the model's pixel range, else [0, 1]); columns
    defaults to ceil(sqrt(N))."""
    x = as_f32(images, "the images")
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise AlaeError(_k.E_SHAPE, "write_png_grid: the images must be [N, C, H, W], not %s" % (list(x.shape),))
    default = model.pixel_range if model is not None else (0.0, 1.0)
    lo = default[0] if lo is None else lo
    hi = default[1] if hi is None else hi
    n = x.shape[0]
    if columns is None:
        columns = max(1, math.ceil(math.sqrt(n)))
    _lib.get().alae_image_grid_write_png(_lib.encode_path(path), x.ctypes.data, n, x.shape[1], x.shape[2],
                                         x.shape[3], float(lo), float(hi), int(columns))


def save_npy(path, array):
    """Writes a float32 .npy file (C order), atomically."""
    a = as_f32(array)
    shape = (c_int64 * a.ndim)(*a.shape)
    _lib.get().alae_npy_write_f32(_lib.encode_path(path), a.ndim, shape, a.ctypes.data)


def load_npy(path):
    """Reads a float32 .npy file (as ``alae encode`` writes) into a numpy array."""
    ndim = c_int32()
    shape = (c_int64 * 8)()
    data = c_void_p()
    lib_ = _lib.get()
    lib_.alae_npy_read_f32(_lib.encode_path(path), byref(ndim), shape, byref(data))
    try:
        dims = tuple(int(d) for d in shape[:ndim.value])
        count = int(np.prod(dims)) if dims else 1
        out = np.empty(dims, dtype=np.float32)
        if count:
            ctypes.memmove(out.ctypes.data, data.value, count * 4)
        return out
    finally:
        lib_.alae_free(data.value)
