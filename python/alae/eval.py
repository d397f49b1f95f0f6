"""Measuring and editing a trained model (alae_eval.h): inversion of real images.

    codes = model.invert(images, steps=100)              # W: [N, latent_dim]
    codes, report = model.invert(images, steps=100, space="w+", report=True)
    report.psnr_before, report.psnr_after                # dB: G(E(x)) and G(codes)

See docs/evaluation.md.
"""

import ctypes
from ctypes import byref, c_void_p

import numpy as np

from . import _lib
from . import constants as _k
from ._lib import AlaeError
from .core import as_f32


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


def invert(model, x, steps=100, space="w", lr=0.01, batch_size=64, report=False):
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
