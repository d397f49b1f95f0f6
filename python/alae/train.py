"""Optimizers and the trainer."""

import ctypes
import dataclasses
from ctypes import byref, c_double, c_size_t, c_void_p

import numpy as np

from . import _lib
from . import constants as _k
from ._handle import Handle
from ._lib import AlaeError
from .core import Tensor, as_f32
from .model import Model, part_mask

_OPT_KEYS = _k.keys_with_prefix("OPT_")      # lr, beta1, beta2, eps
_TRAIN_KEYS = _k.keys_with_prefix("TRAIN_")  # r1_gamma, latent_loss, latent_loss_weight, ...
_LEVEL_KEYS = _k.keys_with_prefix("LEVEL_")  # batch, lr
_LATENT_LOSSES = {"l2": _k.LATENT_L2, "l1": _k.LATENT_L1}


def _key(table, name, what):
    if isinstance(name, int):
        return name
    try:
        return table[name]
    except KeyError:
        raise AlaeError(_k.E_INVALID_ARG, "unknown %s setting '%s' (known: %s)"
                        % (what, name, ", ".join(table))) from None


class Optimizer(Handle):
    """Adam as the ALAE reference uses it (LREQAdam) over some parts of a model.

    ``Optimizer(model, "FG", lr=0.002, beta1=0.0, beta2=0.99, eps=1e-8)``; parts is a string of
    part letters or a PART_* mask. Settings are readable and writable as ``opt["lr"]`` and
    ``opt.lr``. The optimizer keeps its model alive."""

    _destroy = "alae_optimizer_destroy"
    _kind = "Optimizer"

    def __init__(self, model, parts, **settings):
        out = c_void_p()
        self.parts = part_mask(parts)
        with model._lock:
            _lib.get().alae_optimizer_create_adam(model._ptr, self.parts, byref(out))
        self._own(out.value, parents=(model,), lock=model._lock)
        self.model = model
        try:
            for name, value in settings.items():
                if value is not None:
                    self[name] = value
        except BaseException:
            self.close()
            raise

    def __setitem__(self, name, value):
        with self._lock:
            _lib.get().alae_optimizer_set(self._ptr, _key(_OPT_KEYS, name, "optimizer"), float(value))

    def __getitem__(self, name):
        value = c_double()
        with self._lock:
            _lib.get().alae_optimizer_get(self._ptr, _key(_OPT_KEYS, name, "optimizer"), byref(value))
        return value.value

    def to_dict(self):
        return {name: self[name] for name in _OPT_KEYS}

    lr = property(lambda self: self["lr"], lambda self, v: self.__setitem__("lr", v), doc="learning rate")


def _check_finite(x):
    """Refuses a batch holding NaN or an infinity: one such step turns every parameter into NaN
    (the losses come back NaN and the trainer cannot recover)."""
    bad = ~np.isfinite(x)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AlaeError(_k.E_INVALID_ARG, "the batch holds a non-finite value (%r) at index %s; the trainer was "
                        "not changed" % (float(x[where]), where))


@dataclasses.dataclass(frozen=True)
class StepStats:
    """The losses of one training iteration (alae_step_stats)."""
    loss_d: float   # D-step loss, R1 included
    loss_g: float   # G-step loss
    loss_ae: float  # latent-matching loss
    r1: float       # the R1 term alone (batch mean, gamma/2 included)
    step: int       # iterations done, this one included

    def as_dict(self):
        return dataclasses.asdict(self)


class Comm:
    """A communicator for data-parallel training (docs/distributed.md): ``Comm("mpi", context)``
    or ``Comm("nccl", context)`` opens one of libalae's modules (every rank of an MPI job calls
    it); ``rank`` and ``size`` say where this process stands. Give it to ``Trainer.set_comm`` and
    close it after the trainers that use it (``with Comm(...) as comm:``)."""

    def __init__(self, kind, context):
        self._ptr = ctypes.POINTER(_lib.Comm_c)()
        out = c_void_p()
        _lib.get().alae_comm_open(kind.encode(), context._ptr, byref(out))
        self._ptr = ctypes.cast(out, ctypes.POINTER(_lib.Comm_c))
        self.context = context

    @property
    def rank(self):
        return int(self._ptr.contents.rank)

    @property
    def size(self):
        return int(self._ptr.contents.size)

    def close(self):
        """Closes the communicator (finalising MPI when the module started it); idempotent."""
        if self._ptr:
            ptr, self._ptr = self._ptr, ctypes.POINTER(_lib.Comm_c)()
            _lib.get().alae_comm_close(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


class Trainer(Handle):
    """Trains a model with the three ALAE steps (D-step with R1, G-step, latent step) and keeps
    a smoothed (EMA) copy for inference.

    ``Trainer(model, lr=0.002, seed=0, r1_gamma=10, ...)`` creates the two Adam optimizers the
    reference uses (F|G and E|D) with the given learning rate and betas; pass ``opt_fg=`` and
    ``opt_ed=`` to use your own. Other keywords are trainer settings (ALAE_TRAIN_* names:
    r1_gamma, latent_loss ("l2"/"l1"), latent_loss_weight, ema_half_life, dlatent_beta, seed),
    also readable and writable as ``trainer["r1_gamma"]``. The trainer keeps the model and the
    optimizers alive."""

    _destroy = "alae_trainer_destroy"
    _kind = "Trainer"

    def __init__(self, model, opt_fg=None, opt_ed=None, lr=None, beta1=None, beta2=None, eps=None, **settings):
        adam = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps)
        own = []
        try:
            if opt_fg is None:
                opt_fg = Optimizer(model, "FG", **adam)
                own.append(opt_fg)
            if opt_ed is None:
                opt_ed = Optimizer(model, "ED", **adam)
                own.append(opt_ed)
            out = c_void_p()
            with model._lock:
                _lib.get().alae_trainer_create(model._ptr, opt_fg._ptr, opt_ed._ptr, byref(out))
        except BaseException:
            for opt in own:
                opt.close()
            raise
        self._own(out.value, parents=(model, opt_fg, opt_ed), lock=model._lock)
        self.model, self.opt_fg, self.opt_ed = model, opt_fg, opt_ed
        self._batch = None  # the reusable input tensor (raw pointer) and its shape
        self._batch_shape = None
        try:
            for name, value in settings.items():
                if value is not None:
                    self[name] = value
        except BaseException:
            self.close()
            raise

    def __setitem__(self, name, value):
        if name in ("latent_loss", _k.TRAIN_LATENT_LOSS) and isinstance(value, str):
            value = _LATENT_LOSSES[value.lower()]
        with self._lock:
            _lib.get().alae_trainer_set(self._ptr, _key(_TRAIN_KEYS, name, "trainer"), float(value))

    def __getitem__(self, name):
        value = c_double()
        with self._lock:
            _lib.get().alae_trainer_get(self._ptr, _key(_TRAIN_KEYS, name, "trainer"), byref(value))
        v = value.value
        return int(v) if v.is_integer() else v

    def to_dict(self):
        """Every trainer setting the library knows, {name: value}."""
        out = {}
        for name in _TRAIN_KEYS:
            try:
                out[name] = self[name]
            except AlaeError as e:
                if e.code != _k.E_INVALID_ARG:
                    raise
        return out

    # ---- the progressive-growing schedule (StyleALAE) ----

    def set_level(self, lod, name, value):
        """Sets an entry of the per-level schedule table: set_level(3, "batch", 32),
        set_level(3, "lr", 0.0015) (ALAE_LEVEL_* keys)."""
        with self._lock:
            _lib.get().alae_trainer_set_level(self._ptr, int(lod), _key(_LEVEL_KEYS, name, "level"), float(value))

    def get_level(self, lod, name):
        """Reads an entry of the per-level schedule table."""
        value = c_double()
        with self._lock:
            _lib.get().alae_trainer_get_level(self._ptr, int(lod), _key(_LEVEL_KEYS, name, "level"), byref(value))
        v = value.value
        return int(v) if v.is_integer() else v

    def set_position(self, epoch, images_in_epoch=0):
        """Moves the schedule to images_in_epoch images into epoch (call it at the start of every
        epoch, or after load() with the saved position): sets the level, the fade-in and the
        learning rate of the level; the batch to draw is then trainer["batch"] images of
        trainer["lod"]'s size."""
        with self._lock:
            _lib.get().alae_trainer_set_position(self._ptr, int(epoch), int(images_in_epoch))

    def reserve(self, batch):
        """Plans and allocates the step graphs for a batch size now (so that steps of that size
        allocate nothing); returns the bytes they need."""
        needed = c_size_t()
        with self._lock:
            _lib.get().alae_trainer_reserve(self._ptr, int(batch), byref(needed))
        return int(needed.value)

    def step(self, images):
        """One training iteration on real images [N, C, S, S] (a numpy array in the model's data
        range); returns its StepStats."""
        x = as_f32(images, "the batch")
        _check_finite(x)
        batch = self._batch
        if batch is None or batch.closed or self._batch_shape != x.shape:
            # one device tensor, reused by every step of the same shape
            self._batch, self._batch_shape = Tensor(self.model.context, x.shape), x.shape
            if batch is not None:
                batch.close()
            batch = self._batch
        stats = _lib.StepStats_c()
        stats.struct_size = ctypes.sizeof(stats)
        lib_ = _lib.get()
        with self._lock:
            lib_.alae_tensor_write(batch._ptr, x.ctypes.data, x.nbytes)
            lib_.alae_trainer_step(self._ptr, batch._ptr, byref(stats))
        return StepStats(loss_d=stats.loss_d, loss_g=stats.loss_g, loss_ae=stats.loss_ae, r1=stats.r1,
                         step=int(stats.step))

    def step_tensor(self, tensor):
        """One iteration on an alae.Tensor already on the model's context; returns StepStats."""
        stats = _lib.StepStats_c()
        stats.struct_size = ctypes.sizeof(stats)
        with self._lock:
            _lib.get().alae_trainer_step(self._ptr, tensor._ptr, byref(stats))
        return StepStats(loss_d=stats.loss_d, loss_g=stats.loss_g, loss_ae=stats.loss_ae, r1=stats.r1,
                         step=int(stats.step))

    @property
    def step_count(self):
        """Iterations done so far."""
        with self._lock:
            return int(_lib.get().alae_trainer_step_count(self._ptr))

    def save(self, path):
        """Writes the whole training state (for resuming), atomically."""
        with self._lock:
            _lib.get().alae_trainer_save(self._ptr, _lib.encode_path(path))

    def load(self, path):
        """Restores a training state written by save() for the same configuration."""
        with self._lock:
            _lib.get().alae_trainer_load(self._ptr, _lib.encode_path(path))

    def set_comm(self, comm):
        """Trains data-parallel over comm's ranks (a Comm, or None to train alone again): rank 0's
        parameters are broadcast now (call it on every rank after load()), and every step then
        averages the gradients over the ranks; each rank steps with its own batch of the same size."""
        with self._lock:
            _lib.get().alae_trainer_set_comm(self._ptr, comm._ptr if comm is not None else None)
        self._comm = comm  # the communicator must outlive its use by the trainer

    def save_model(self, path):
        """Writes the smoothed (EMA) model as a model file (load it with Model.load)."""
        with self._lock:
            _lib.get().alae_trainer_save_model(self._ptr, _lib.encode_path(path))

    def smoothed_model(self):
        """A new Model holding the smoothed (EMA) parameters, on the same context."""
        out = c_void_p()
        with self._lock:
            _lib.get().alae_trainer_smoothed_model(self._ptr, byref(out))
        return Model._adopt(out.value, self.model.context)

    def close(self):
        batch = self.__dict__.get("_batch")
        if batch is not None:
            batch.close()
        super().close()
