"""Measuring and editing a trained model (alae_eval.h): inversion of real images, metrics and
attribute directions.

    codes = model.invert(images, steps=100)              # W: [N, latent_dim]
    codes, report = model.invert(images, steps=100, space="w+", report=True)
    report.psnr_before, report.psnr_after                # dB: G(E(x)) and G(codes)

See docs/evaluation.md.
"""

import ctypes
import os
from ctypes import byref, c_void_p

import numpy as np

from . import _lib
from . import constants as _k
from ._handle import Handle
from ._lib import AlaeError
from .core import as_f32, default_context


class InvertReport:
    """What an inversion measured, over all its batches (means weighted by batch size): steps,
    mse_before / mse_after (per-image mean squared pixel error of G(E(x)) and of G(codes)) and
    psnr_before / psnr_after (per-image PSNR in dB, peak the width of the data range)."""

    def __init__(self, steps):
        self.steps = steps
        self.images = 0
        self.mse_before = self.mse_after = self.psnr_before = self.psnr_after = 0.0

    def _add(self, rep, n):
        total = self.images + n
        for name in ("mse_before", "mse_after", "psnr_before", "psnr_after"):
            mean = (getattr(self, name) * self.images + getattr(rep, name) * n) / total
            setattr(self, name, mean)
        self.images = total

    def __repr__(self):
        return "InvertReport(steps=%d, images=%d, psnr %.3f -> %.3f dB)" % (
            self.steps, self.images, self.psnr_before, self.psnr_after)


def _tensor(ctx, shape):
    dims = (ctypes.c_int64 * len(shape))(*shape)
    out = c_void_p()
    _lib.get().alae_tensor_create(ctx._ptr, _k.DTYPE_F32, len(shape), dims, byref(out))
    return out.value


def invert(model, x, steps=100, space="w", lr=0.1, batch_size=64, report=False):
    """Codes for images x [N, C, S, S] (the model's data range), found from E(x) by ``steps`` Adam
    steps on the pixel error of G(code) through the frozen generator (alae_model_invert).
    space "w": codes [N, latent_dim] (for model.generate); "w+": [N, style_count, latent_dim]
    (for model.generate_styles). Images are optimised batch_size at a time. With report=True
    returns (codes, InvertReport)."""
    if space not in ("w", "w+"):
        raise AlaeError(_k.E_INVALID_ARG, "invert: space must be 'w' or 'w+', not %r" % (space,))
    x = as_f32(x, "x")
    shape = tuple(model.image_shape)
    if x.ndim != 4 or tuple(x.shape[1:]) != shape or x.shape[0] < 1:
        raise AlaeError(_k.E_SHAPE, "invert: x has shape %s, expected [N, %s]" % (
            list(x.shape), ", ".join(str(d) for d in shape)))
    batch_size = int(batch_size)
    if batch_size < 1:
        raise AlaeError(_k.E_INVALID_ARG, "invert: batch_size must be >= 1")
    tail = (model.latent_dim,) if space == "w" else (int(model.get("style_count")), model.latent_dim)
    n = x.shape[0]
    codes = np.empty((n,) + tail, dtype=np.float32)
    summary = InvertReport(int(steps))
    lib_ = _lib.get()
    ctx = model.context
    with model._lock:
        for start in range(0, n, batch_size):
            chunk = np.ascontiguousarray(x[start:start + batch_size])
            k = chunk.shape[0]
            t_x, t_c = _tensor(ctx, (k,) + shape), None
            try:
                t_c = _tensor(ctx, (k,) + tail)
                lib_.alae_tensor_write(t_x, chunk.ctypes.data, chunk.nbytes)
                rep = _lib.InvertReport_c(struct_size=ctypes.sizeof(_lib.InvertReport_c))
                lib_.alae_model_invert(model._ptr, t_x, int(steps), float(lr), t_c, byref(rep))
                dest = codes[start:start + k]
                lib_.alae_tensor_read(t_c, dest.ctypes.data, dest.nbytes)
                summary._add(rep, k)
            finally:
                lib_.alae_tensor_destroy(t_x)
                lib_.alae_tensor_destroy(t_c)
    return (codes, summary) if report else codes


# ---- metrics (host arrays; the C functions of alae_eval.h) ----

def _images(x, what):
    x = np.ascontiguousarray(as_f32(x, what))
    if x.ndim != 4 or x.shape[2] != x.shape[3] or x.shape[0] < 1:
        raise AlaeError(_k.E_SHAPE, "%s has shape %s, expected [N, C, S, S]" % (what, list(x.shape)))
    return x


def _features(x, what):
    x = np.ascontiguousarray(as_f32(x, what))
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    return np.ascontiguousarray(x.reshape(x.shape[0], -1))


def _labels(y, n, what):
    y = np.ascontiguousarray(np.asarray(y).astype(np.int32).ravel())
    if y.shape[0] != n:
        raise AlaeError(_k.E_SHAPE, "%s holds %d labels for %d points" % (what, y.shape[0], n))
    return y


def image_quality(x, y, peak):
    """MSE, PSNR and SSIM of image pairs x, y [N, C, S, S] (alae_eval_image_quality); peak is the
    width of the pixel range (1 for [0, 1], 2 for [-1, 1]). Returns a dict."""
    x, y = _images(x, "x"), _images(y, "y")
    if x.shape != y.shape:
        raise AlaeError(_k.E_SHAPE, "image_quality: x %s and y %s differ" % (list(x.shape), list(y.shape)))
    q = _lib.ImageQuality_c(struct_size=ctypes.sizeof(_lib.ImageQuality_c))
    _lib.get().alae_eval_image_quality(x.ctypes.data, y.ctypes.data, x.shape[0], x.shape[1], x.shape[2], float(peak),
                                       byref(q))
    return {"mse": q.mse, "psnr": q.psnr, "ssim": q.ssim}


def swd(a, b, seed=0):
    """Sliced Wasserstein distance x 1000 of two image sets [N, C, S, S] of the same size
    (alae_eval_swd): {"mean": ..., side: distance per pyramid level}."""
    a, b = _images(a, "a"), _images(b, "b")
    if a.shape != b.shape:
        raise AlaeError(_k.E_SHAPE, "swd: a %s and b %s differ" % (list(a.shape), list(b.shape)))
    r = _lib.SwdResult_c(struct_size=ctypes.sizeof(_lib.SwdResult_c))
    _lib.get().alae_eval_swd(a.ctypes.data, b.ctypes.data, a.shape[0], a.shape[1], a.shape[2], int(seed), byref(r))
    out = {"mean": r.mean}
    for level in range(r.levels):
        out[int(r.resolution[level])] = r.distance[level]
    return out


def precision_recall(real, fake, k=3):
    """Improved precision and recall of fake against real features (alae_eval_precision_recall);
    rows are points (images are flattened). Returns (precision, recall)."""
    real, fake = _features(real, "real"), _features(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise AlaeError(_k.E_SHAPE, "precision_recall: dims %d and %d differ" % (real.shape[1], fake.shape[1]))
    p, r = ctypes.c_double(), ctypes.c_double()
    _lib.get().alae_eval_precision_recall(real.ctypes.data, real.shape[0], fake.ctypes.data, fake.shape[0],
                                          real.shape[1], int(k), byref(p), byref(r))
    return p.value, r.value


def _accuracy(fn_name, train, train_labels, test, test_labels):
    train, test = _features(train, "train"), _features(test, "test")
    if train.shape[1] != test.shape[1]:
        raise AlaeError(_k.E_SHAPE, "%s: dims %d and %d differ" % (fn_name, train.shape[1], test.shape[1]))
    yl, tl = _labels(train_labels, train.shape[0], "train_labels"), _labels(test_labels, test.shape[0], "test_labels")
    acc = ctypes.c_double()
    getattr(_lib.get(), fn_name)(train.ctypes.data, yl.ctypes.data, train.shape[0], test.ctypes.data, tl.ctypes.data,
                                 test.shape[0], train.shape[1], byref(acc))
    return acc.value


def nn_accuracy(train, train_labels, test, test_labels):
    """1-nearest-neighbour accuracy of the test points over the training points."""
    return _accuracy("alae_eval_nn_accuracy", train, train_labels, test, test_labels)


def linear_accuracy(train, train_labels, test, test_labels):
    """Accuracy of a one-vs-rest ridge linear classifier fitted on the training points."""
    return _accuracy("alae_eval_linear_accuracy", train, train_labels, test, test_labels)


def path_length(model, n=1000, epsilon=1e-4, seed=0, z0=None, z1=None, features=None):
    """Perceptual path length in W, end-point sampling, pixel distance (alae_model_path_length),
    or with features=FeatureNet the squared distance of its features
    (alae_model_path_length_features): returns (trimmed mean, per-pair lengths). Pairs z0, z1
    [N, latent_dim] default to n pairs drawn from seed."""
    if z0 is None or z1 is None:
        z = model.random_latents(2 * int(n), seed=seed)
        z0, z1 = z[:n], z[n:]
    z0, z1 = np.ascontiguousarray(as_f32(z0, "z0")), np.ascontiguousarray(as_f32(z1, "z1"))
    if z0.ndim != 2 or z0.shape != z1.shape or z0.shape[1] != model.latent_dim:
        raise AlaeError(_k.E_SHAPE, "path_length: z0 %s and z1 %s must both be [N, %d]" % (
            list(z0.shape), list(z1.shape), model.latent_dim))
    lengths = np.empty(z0.shape[0], dtype=np.float32)
    mean = ctypes.c_double()
    lib_ = _lib.get()
    with model._lock:
        t0 = t1 = None
        try:
            t0, t1 = _tensor(model.context, z0.shape), _tensor(model.context, z1.shape)
            lib_.alae_tensor_write(t0, z0.ctypes.data, z0.nbytes)
            lib_.alae_tensor_write(t1, z1.ctypes.data, z1.nbytes)
            if features is None:
                lib_.alae_model_path_length(model._ptr, t0, t1, float(epsilon), lengths.ctypes.data, byref(mean))
            else:
                with features._lock:
                    lib_.alae_model_path_length_features(model._ptr, features._ptr, t0, t1, float(epsilon),
                                                         lengths.ctypes.data, byref(mean))
        finally:
            lib_.alae_tensor_destroy(t0)
            lib_.alae_tensor_destroy(t1)
    return mean.value, lengths


def frechet_distance(a, b):
    """Frechet distance of two feature sets [N, dim] (the distance FID reports; computed in double,
    alae_eval_frechet_distance)."""
    a, b = _features(a, "a"), _features(b, "b")
    if a.shape[1] != b.shape[1]:
        raise AlaeError(_k.E_SHAPE, "frechet_distance: dims %d and %d differ" % (a.shape[1], b.shape[1]))
    d = ctypes.c_double()
    _lib.get().alae_eval_frechet_distance(a.ctypes.data, a.shape[0], b.ctypes.data, b.shape[0], a.shape[1], byref(d))
    return d.value


class FeatureNet(Handle):
    """FID's Inception-v3 (alae_feature_net_*), from user-supplied weights: pytorch-fid's
    ``pt_inception-2015-12-05-*.pth`` as it is, or the same tensors as safetensors
    (docs/evaluation.md). ``FeatureNet(path, context=None)``; ``net.dim`` (2048);
    ``net.features(images, lo=0.0, hi=1.0)`` for images [N, 1 or 3, S, S] spanning [lo, hi].

        net = alae.eval.FeatureNet("pt_inception-2015-12-05-6726825d.pth")
        fid = alae.eval.frechet_distance(net.features(real), net.features(fake))
    """

    _destroy = "alae_feature_net_destroy"
    _kind = "FeatureNet"

    def __init__(self, path, context=None):
        context = context or default_context()
        out = c_void_p()
        with context._lock:
            _lib.get().alae_feature_net_load(context._ptr, os.fsencode(path), byref(out))
        self._own(out.value, parents=(context,), lock=context._lock)
        self.context = context

    @property
    def dim(self):
        return int(_lib.get().alae_feature_net_dim(self._ptr))

    def features(self, images, lo=0.0, hi=1.0):
        """Features [N, dim] of images [N, C, S, S] (C 1 or 3) whose pixels span [lo, hi]."""
        x = np.ascontiguousarray(as_f32(images, "images"))
        if x.ndim != 4 or x.shape[2] != x.shape[3]:
            raise AlaeError(_k.E_SHAPE, "features: images %s must be [N, C, S, S]" % (list(x.shape),))
        with self._lock:
            out = np.empty((x.shape[0], self.dim), dtype=np.float32)
            _lib.get().alae_feature_net_features(self._ptr, x.ctypes.data, x.shape[0], x.shape[1], x.shape[2],
                                                 float(lo), float(hi), out.ctypes.data)
        return out


# ---- attribute directions ----

def fit_direction(codes, positive):
    """The unit normal in W of a linear boundary between codes [N, latent_dim] with and without
    an attribute (positive [N], non-zero: present), fitted on 4 of every 5 codes
    (alae_direction_fit). Returns (direction [latent_dim], held-out accuracy)."""
    codes = _features(codes, "codes")
    positive = _labels(positive, codes.shape[0], "positive")
    direction = np.empty(codes.shape[1], dtype=np.float32)
    acc = ctypes.c_double()
    _lib.get().alae_direction_fit(codes.ctypes.data, positive.ctypes.data, codes.shape[0], codes.shape[1],
                                  direction.ctypes.data, byref(acc))
    return direction, acc.value


def save_directions(path, directions):
    """Writes {name: vector or (vector, accuracy)} as a directions file (alae_directions_save);
    accuracy None or NaN: unknown. Vectors are scaled to unit length."""
    items = list(directions.items())
    if not items:
        raise AlaeError(_k.E_INVALID_ARG, "save_directions: no directions")
    lib_ = _lib.get()
    first = items[0][1][0] if isinstance(items[0][1], tuple) else items[0][1]
    out = c_void_p()
    lib_.alae_directions_create(int(np.asarray(first).size), byref(out))
    try:
        for name, value in items:
            vector, acc = value if isinstance(value, tuple) else (value, None)
            vector = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).ravel())
            if vector.size != lib_.alae_directions_dim(out.value):
                raise AlaeError(_k.E_SHAPE, "save_directions: %s has %d values, the first %d" % (
                    name, vector.size, lib_.alae_directions_dim(out.value)))
            lib_.alae_directions_add(out.value, name.encode(), vector.ctypes.data,
                                     float("nan") if acc is None else float(acc))
        lib_.alae_directions_save(out.value, os.fsencode(path))
    finally:
        lib_.alae_directions_destroy(out.value)


def load_directions(path):
    """Reads a directions file: {name: (unit vector [latent_dim], accuracy or None)}."""
    lib_ = _lib.get()
    handle = c_void_p()
    lib_.alae_directions_load(os.fsencode(path), byref(handle))
    try:
        dim, result = lib_.alae_directions_dim(handle.value), {}
        for i in range(lib_.alae_directions_count(handle.value)):
            name, acc = c_void_p(), ctypes.c_double()
            vector = np.empty(dim, dtype=np.float32)
            lib_.alae_directions_get(handle.value, i, byref(name), vector.ctypes.data, byref(acc))
            result[ctypes.string_at(name.value).decode()] = (vector, None if np.isnan(acc.value) else acc.value)
        return result
    finally:
        lib_.alae_directions_destroy(handle.value)


def edit(model, code, direction, amounts):
    """Images G(code + t direction) [len(amounts), C, S, S] for a code [latent_dim] in W and a
    direction [latent_dim] (traversal along a latent dimension: a one-hot direction)."""
    code = np.asarray(code, dtype=np.float32).ravel()
    direction = np.asarray(direction, dtype=np.float32).ravel()
    codes = code[None, :] + np.asarray(amounts, dtype=np.float32)[:, None] * direction[None, :]
    return model.generate(codes)
