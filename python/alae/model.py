"""Model configurations and models: creation, inference, save and load."""

import ctypes
import re
import warnings
from ctypes import byref, c_double, c_int32, c_uint64, c_void_p

import numpy as np

from . import _lib
from . import constants as _k
from ._handle import Handle
from ._lib import AlaeError
from .core import Context, as_f32, default_context

_MODEL_KEYS = _k.keys_with_prefix("MODEL_")  # lod, blend, truncation_psi, ...
_PARTS = {"F": _k.PART_F, "G": _k.PART_G, "E": _k.PART_E, "D": _k.PART_D}


def part_mask(parts):
    """A part mask from an int (PART_* bits) or a string of part letters: "FG", "ED", "all"."""
    if isinstance(parts, int):
        return parts
    if parts.lower() == "all":
        return _k.PART_ALL
    mask = 0
    for letter in parts.upper():
        if letter not in _PARTS:
            raise AlaeError(_k.E_INVALID_ARG, "unknown part '%s' in %r (use the letters F, G, E, D)" % (letter, parts))
        mask |= _PARTS[letter]
    return mask


def _key(table, name):
    if isinstance(name, int):
        return name
    try:
        return table[name]
    except KeyError:
        raise AlaeError(_k.E_INVALID_ARG, "unknown model setting '%s' (known: %s)" % (name, ", ".join(table))) from None


def setting_names():
    """The names of the model settings (ALAE_CFG_* keys), e.g. "latent_dim"."""
    return list(_k.keys_with_prefix("CFG_"))


def presets():
    """The names of the presets the loaded library knows (read from its error message for an
    unknown preset, as the C API has no enumeration)."""
    out = c_void_p()
    lib_ = _lib.get()  # a library that cannot be loaded is an error, not an empty list
    try:
        lib_.alae_model_config_create(b"", byref(out))
    except AlaeError as e:
        match = re.search(r"\(known: ([^)]*)\)", e.message)
        if match:
            return [name.strip() for name in match.group(1).split(",") if name.strip()]
        return []
    lib_.alae_model_config_destroy(out.value)
    return []


class ModelConfig(Handle):
    """A model configuration: a preset plus settings. ``ModelConfig("mnist-fc", latent_dim=64)``;
    ``cfg["hidden"]``, ``cfg["hidden"] = 256``, ``cfg.to_dict()``. Whole values read back as
    ints, the others as floats."""

    _destroy = "alae_model_config_destroy"
    _kind = "ModelConfig"

    def __init__(self, preset="mnist-fc", **settings):
        out = c_void_p()
        _lib.get().alae_model_config_create(preset.encode(), byref(out))
        self._own(out.value)
        self.preset = preset
        try:
            for name, value in settings.items():
                self[name] = value
        except BaseException:
            self.close()
            raise

    @classmethod
    def _adopt(cls, ptr, preset=None):
        cfg = cls.__new__(cls)
        cfg._own(ptr)
        cfg.preset = preset
        return cfg

    @staticmethod
    def key(name):
        """The ALAE_CFG_* key of a setting name (an int passes through)."""
        if isinstance(name, int):
            return name
        key = c_int32()
        _lib.get().alae_model_config_key(name.encode(), byref(key))
        return key.value

    @staticmethod
    def bounds(name):
        """The inclusive range (lo, hi) a setting accepts."""
        lo, hi = c_double(), c_double()
        _lib.get().alae_model_config_bounds(ModelConfig.key(name), byref(lo), byref(hi))
        return lo.value, hi.value

    def __setitem__(self, name, value):
        with self._lock:
            _lib.get().alae_model_config_set(self._ptr, self.key(name), float(value))

    def __getitem__(self, name):
        value = c_double()
        with self._lock:
            _lib.get().alae_model_config_get(self._ptr, self.key(name), byref(value))
        v = value.value
        return int(v) if v.is_integer() else v

    def to_dict(self):
        """Every setting of the configuration's architecture, {name: value} (keys of the other
        architecture, which the library refuses, are left out)."""
        out = {}
        for name in setting_names():
            try:
                out[name] = self[name]
            except AlaeError as e:
                if e.code != _k.E_INVALID_ARG:
                    raise
        return out

    def __repr__(self):
        return "<alae.ModelConfig %s>" % ("closed" if self.closed else self.to_dict())


def _warn_if_not_finite(fn_name, x, out):
    """A RuntimeWarning (as numpy gives for an overflow) when finite inputs gave NaN or infinite
    outputs: the model's parameters overflow."""
    if not np.isfinite(out).all() and np.isfinite(x).all():
        bad = int(np.argwhere(~np.isfinite(out))[0][0])
        warnings.warn("%s: output %d holds a non-finite value although the input is finite: the model's "
                      "parameters overflow" % (fn_name, bad), RuntimeWarning, stacklevel=3)


def _chunks(n, batch_size):
    batch_size = max(1, int(batch_size))
    for start in range(0, n, batch_size):
        yield start, min(n, start + batch_size)


class Model(Handle):
    """An ALAE: F (z -> w), G (w -> image), E (image -> w) and D (w -> logit).

    Arrays in and out are float32 numpy arrays: latents ``[N, latent_dim]``, images
    ``[N, channels, image_size, image_size]`` in the model's data range (``pixel_range``),
    logits ``[N]``. Inputs of another dtype or layout are converted. Large inputs run in
    batches of ``batch_size`` (256).

    Create with ``Model.from_preset(name, seed=0, **settings)``, ``Model.from_config(cfg)`` or
    ``Model.load(path)``; a model lives on a Context (the shared default CPU context unless
    ``context=`` is given), which it keeps alive."""

    _destroy = "alae_model_destroy"
    _kind = "Model"
    batch_size = 256

    def __init__(self, *args, **kwargs):
        raise TypeError("use Model.from_preset(), Model.from_config() or Model.load()")

    @classmethod
    def _adopt(cls, ptr, context):
        m = cls.__new__(cls)
        m._own(ptr, parents=(context,), lock=context._lock)
        m.context = context
        m._geometry()
        return m

    @classmethod
    def from_config(cls, config, seed=0, context=None):
        """A freshly initialised model of a ModelConfig."""
        context = context or default_context()
        out = c_void_p()
        with context._lock:
            _lib.get().alae_model_create(context._ptr, config._ptr, int(seed), byref(out))
        return cls._adopt(out.value, context)

    @classmethod
    def from_preset(cls, preset="mnist-fc", seed=0, context=None, **settings):
        """A freshly initialised model of a preset ("mnist-fc", "mnist-fc-paper", ... see
        alae.presets()) with settings by name (latent_dim=, hidden=, ... see
        alae.setting_names()). seed draws the initial parameters."""
        with ModelConfig(preset, **settings) as cfg:
            return cls.from_config(cfg, seed=seed, context=context)

    @classmethod
    def load(cls, path, context=None):
        """Loads a model file (alae_model_save, Trainer.save_model, ``alae train``'s
        model.safetensors)."""
        context = context or default_context()
        out = c_void_p()
        with context._lock:
            _lib.get().alae_model_load(context._ptr, _lib.encode_path(path), byref(out))
        return cls._adopt(out.value, context)

    @classmethod
    def import_pth(cls, path, preset, copy="smoothed", context=None, **settings):
        """Imports a checkpoint of the authors' PyTorch ALAE (their published ``.pth`` files:
        FFHQ, CelebA-HQ 256, LSUN Bedroom, CelebA), without PyTorch. preset is the configuration
        it was trained with ("ffhq", "celeba-hq256", "bedroom", "celeba", "mnist") or a
        ModelConfig; settings by name change the preset's (latent_dim=, ...). copy: "smoothed"
        (the EMA networks the authors use for inference; a file without them falls back to the
        training ones with a warning in the log) or "training". Nothing in the file is executed;
        a file that does not fit the configuration raises AlaeError naming the tensors."""
        copies = {"smoothed": _k.IMPORT_SMOOTHED, "training": _k.IMPORT_TRAINING}
        if copy not in copies:
            raise ValueError("copy must be 'smoothed' or 'training', not %r" % (copy,))
        context = context or default_context()
        out = c_void_p()
        config = preset if isinstance(preset, ModelConfig) else ModelConfig(preset, **settings)
        try:
            with context._lock:
                _lib.get().alae_model_import_pth(context._ptr, _lib.encode_path(path), config._ptr, copies[copy],
                                                 byref(out))
        finally:
            if config is not preset:
                config.close()
        return cls._adopt(out.value, context)

    def save(self, path):
        """Writes the model as a safetensors file, atomically."""
        with self._lock:
            _lib.get().alae_model_save(self._ptr, _lib.encode_path(path))

    def get_config(self):
        """A ModelConfig copy of the model's configuration."""
        out = c_void_p()
        with self._lock:
            _lib.get().alae_model_get_config(self._ptr, byref(out))
        return ModelConfig._adopt(out.value)

    @property
    def config(self):
        """The configuration as a dict {setting name: value}."""
        with self.get_config() as cfg:
            return cfg.to_dict()

    def _geometry(self):
        cfg = self.config
        self.latent_dim = cfg["latent_dim"]
        self.channels = cfg["channels"]
        self.data_range = cfg["data_range"]
        self.pixel_range = (0.0, 1.0) if self.data_range == 0 else (-1.0, 1.0)
        self._image_size = cfg["image_size"]

    # ---- inference settings (ALAE_MODEL_*: lod, blend, truncation_psi, ...) ----

    _NOISE_NAMES = {"off": _k.NOISE_OFF, "batch": _k.NOISE_BATCH_CONSTANT, "sample": _k.NOISE_PER_SAMPLE}

    def set(self, name, value):
        """Sets an inference setting by name ("lod", "blend", "truncation_psi",
        "truncation_cutoff", "noise") or ALAE_MODEL_* key. The noise mode may be given as
        "off", "batch" or "sample" (as the command line's --noise) or as alae.NOISE_*."""
        if isinstance(value, str) and _key(_MODEL_KEYS, name) == _k.MODEL_NOISE:
            if value not in self._NOISE_NAMES:
                raise ValueError("noise must be 'off', 'batch' or 'sample', not %r" % value)
            value = self._NOISE_NAMES[value]
        with self._lock:
            _lib.get().alae_model_set(self._ptr, _key(_MODEL_KEYS, name), float(value))

    def get(self, name):
        """Reads an inference setting (also the read-only "style_count", "resolution", "levels")."""
        value = c_double()
        with self._lock:
            _lib.get().alae_model_get(self._ptr, _key(_MODEL_KEYS, name), byref(value))
        v = value.value
        return int(v) if v.is_integer() else v

    @property
    def settings(self):
        """Every inference setting, {name: value}."""
        return {name: self.get(name) for name in _MODEL_KEYS}

    @property
    def image_shape(self):
        """(channels, S, S) of the images the model reads and writes at its current level of
        detail."""
        try:
            size = self.get("resolution")
        except AlaeError as e:  # a library without inference settings
            if e.code != _k.E_UNSUPPORTED:
                raise
            size = self._image_size
        return (self.channels, size, size)

    def param_count(self, parts="all"):
        """Number of parameters in parts ("all", "FG", "E", ... or a PART_* mask)."""
        out = c_uint64()
        with self._lock:
            _lib.get().alae_model_param_count(self._ptr, part_mask(parts), byref(out))
        return int(out.value)

    # ---- inference ----

    def _run(self, fn_name, x, in_tail, out_tail, what, batch_size):
        x = as_f32(x, what)
        if x.ndim != 1 + len(in_tail) or tuple(x.shape[1:]) != tuple(in_tail):
            raise AlaeError(_k.E_SHAPE, "%s: %s has shape %s, expected [N, %s]" % (
                fn_name, what, list(x.shape), ", ".join(str(d) for d in in_tail)))
        n = x.shape[0]
        out = np.empty((n,) + tuple(out_tail), dtype=np.float32)
        if n == 0:
            return out
        lib_ = _lib.get()
        fn = getattr(lib_, fn_name)
        ctx = self.context
        with self._lock:
            tensors = {}
            try:
                for start, end in _chunks(n, batch_size or self.batch_size):
                    size = end - start
                    if size not in tensors:
                        tensors[size] = (self._tensor(ctx, (size,) + tuple(in_tail)),
                                         self._tensor(ctx, (size,) + tuple(out_tail)))
                    t_in, t_out = tensors[size]
                    chunk, dest = x[start:end], out[start:end]
                    lib_.alae_tensor_write(t_in, chunk.ctypes.data, chunk.nbytes)
                    fn(self._ptr, t_in, t_out)
                    lib_.alae_tensor_read(t_out, dest.ctypes.data, dest.nbytes)
            finally:
                for pair in tensors.values():
                    for t in pair:
                        lib_.alae_tensor_destroy(t)
        _warn_if_not_finite(fn_name, x, out)
        return out

    @staticmethod
    def _tensor(ctx, shape):
        # a raw tensor for one call, destroyed by _run (no wrapper: no lock juggling)
        dims = (ctypes.c_int64 * len(shape))(*shape)
        out = c_void_p()
        _lib.get().alae_tensor_create(ctx._ptr, _k.DTYPE_F32, len(shape), dims, byref(out))
        return out.value

    def map(self, z, batch_size=None):
        """F: latents z [N, latent_dim] -> w [N, latent_dim]."""
        return self._run("alae_model_map", z, (self.latent_dim,), (self.latent_dim,), "z", batch_size)

    def generate(self, w, batch_size=None):
        """G: w [N, latent_dim] -> images [N, C, S, S]."""
        return self._run("alae_model_generate", w, (self.latent_dim,), self.image_shape, "w", batch_size)

    decode = generate

    def encode(self, x, batch_size=None):
        """E: images [N, C, S, S] -> w [N, latent_dim]."""
        return self._run("alae_model_encode", x, self.image_shape, (self.latent_dim,), "x", batch_size)

    def discriminate(self, w, batch_size=None):
        """D: w [N, latent_dim] -> logits [N]."""
        return self._run("alae_model_discriminate", w, (self.latent_dim,), (), "w", batch_size)

    def reconstruct(self, x, batch_size=None):
        """G(E(x)): images [N, C, S, S] -> images [N, C, S, S]."""
        return self._run("alae_model_reconstruct", x, self.image_shape, self.image_shape, "x", batch_size)

    def generate_styles(self, styles, batch_size=None):
        """G from per-layer styles [N, style_count, latent_dim] (StyleALAE style mixing; rows 2i
        and 2i+1 feed level i) -> images [N, C, S, S]."""
        rows = self.get("style_count")
        return self._run("alae_model_generate_styles", styles, (rows, self.latent_dim), self.image_shape, "styles",
                         batch_size)

    def invert(self, x, steps=100, space="w", lr=0.1, batch_size=64, report=False):
        """Codes for images x [N, C, S, S] that G reconstructs more faithfully than E(x): steps of
        gradient descent on the pixel error through the frozen G, from E(x). space "w" gives
        [N, latent_dim], "w+" [N, style_count, latent_dim]; report=True also returns the PSNR
        before and after (alae.eval.InvertReport). See alae.eval.invert."""
        from .eval import invert
        return invert(self, x, steps=steps, space=space, lr=lr, batch_size=batch_size, report=report)

    def random_latents(self, n, seed=0):
        """n latents z ~ N(0, I) [n, latent_dim] from the context's generator restarted at seed
        (the latents ``alae sample --seed`` draws)."""
        return self.context.normal((int(n), self.latent_dim), seed=seed)

    def sample(self, z=None, n=None, seed=0, batch_size=None):
        """G(F(z)): images of latents z [N, latent_dim]; without z, of n latents drawn with
        random_latents(n, seed)."""
        if z is None:
            if n is None:
                raise AlaeError(_k.E_INVALID_ARG, "sample: give z or n")
            z = self.random_latents(n, seed)
        return self._run("alae_model_sample", z, (self.latent_dim,), self.image_shape, "z", batch_size)

    def __repr__(self):
        if self.closed:
            return "<alae.Model closed>"
        return "<alae.Model latent_dim=%d image_shape=%s>" % (self.latent_dim, self.image_shape)
