"""Version, devices, backends, logging, contexts and tensors."""

import ctypes
import dataclasses
import threading
from ctypes import byref, c_int32, c_int64, c_void_p

import numpy as np

from . import _lib
from . import constants as _k
from ._handle import Handle
from ._lib import AlaeError


def lib():
    """The raw binding: ``alae.lib().alae_<name>(...)`` calls any C entry point directly (status
    results raise AlaeError). Prefer the classes; this is for what they do not cover."""
    return _lib.get()


def library_path():
    """The file libalae was loaded from."""
    return _lib.get().path


def version():
    """The version of the loaded library, "MAJOR.MINOR.PATCH"."""
    return _lib.get().alae_version_string().decode()


def version_number():
    """The loaded library's version as major*10000 + minor*100 + patch."""
    return int(_lib.get().alae_version_number())


def check_version(header_version_number=_lib.HEADER_VERSION_NUMBER):
    """Raises AlaeError(E_VERSION) unless the loaded library serves headers of that version
    (loading the package already checked the version it was written for)."""
    _lib.get().alae_check_version(header_version_number)


def status_string(code):
    """The library's short English text for a status code."""
    return _lib.get().alae_status_string(code).decode()


def last_error():
    """alae_last_error() of the calling thread ("" if the last call succeeded). AlaeError already
    carries it; this exists for completeness."""
    return (_lib.get().alae_last_error() or b"").decode("utf-8", "replace")


# ---- devices and backends ----

@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """One device (alae_device_info)."""
    index: int
    kind: int           # DEVICE_CPU or DEVICE_CUDA
    name: str           # "cpu", "cuda:0", ...
    description: str    # CPU model and GEMM kernels, or GPU name
    mem_total: int      # bytes; 0 if unknown
    mem_free: int       # bytes; 0 if unknown
    threads: int        # default worker threads (CPU)


def device_count():
    """Number of devices; the CPU is device 0."""
    return int(_lib.get().alae_device_count())


def device_info(index=0):
    """The DeviceInfo of one device."""
    info = _lib.DeviceInfo_c()
    info.struct_size = ctypes.sizeof(info)
    _lib.get().alae_device_get_info(index, byref(info))
    return DeviceInfo(index=index, kind=info.kind, name=info.name.decode("utf-8", "replace"),
                      description=info.description.decode("utf-8", "replace"), mem_total=info.mem_total,
                      mem_free=info.mem_free, threads=info.threads)


def devices():
    """Every device, as a list of DeviceInfo."""
    return [device_info(i) for i in range(device_count())]


def load_backend(path):
    """Loads a backend plugin (e.g. the CUDA module) from an explicit path; its devices are
    appended to devices()."""
    _lib.get().alae_backend_load(_lib.encode_path(path))


def load_cuda_backend(path=None):
    """Loads the CUDA backend module: from `path` (absolute) when given, otherwise from
    $ALAE_CUDA_BACKEND, the directory of libalae or the installed backend directory (never the
    current directory). Raises AlaeError (status ALAE_E_BACKEND_UNAVAILABLE, with the reason) when
    it is missing or the machine has no usable GPU or driver."""
    _lib.get().alae_backend_load_cuda(None if path is None else _lib.encode_path(path))


def find_device(name):
    """The device index of "cpu", "cuda" or "cuda:N" (a CUDA name loads the CUDA backend first)."""
    index = c_int32(-1)
    _lib.get().alae_device_find(name.encode("utf-8"), byref(index))
    return int(index.value)


# ---- logging ----

_log_callback = None  # the CFUNCTYPE object must stay alive while the library holds it
_log_lock = threading.Lock()


def set_log_callback(fn):
    """Routes the library's log messages to fn(level, message) (level: LOG_DEBUG..LOG_ERROR,
    message: str); None restores the default (stderr). fn may be called from library worker
    threads (the library serialises the calls) and must not call back into libalae; exceptions
    it raises are printed and ignored."""
    global _log_callback
    lib_ = _lib.get()
    with _log_lock:
        if fn is None:
            lib_.alae_set_log_callback(ctypes.cast(None, _lib.LOG_FN), None)
            _log_callback = None
            return

        def trampoline(level, message, user):
            try:
                fn(int(level), (message or b"").decode("utf-8", "replace"))
            except Exception:  # never unwind into C
                import traceback
                traceback.print_exc()

        callback = _lib.LOG_FN(trampoline)
        lib_.alae_set_log_callback(callback, None)
        _log_callback = callback


def log_to_python(logger=None):
    """Sends the library's messages to a ``logging`` logger (default: logging.getLogger("alae"))."""
    import logging
    logger = logger or logging.getLogger("alae")
    levels = {_k.LOG_DEBUG: logging.DEBUG, _k.LOG_INFO: logging.INFO, _k.LOG_WARN: logging.WARNING,
              _k.LOG_ERROR: logging.ERROR}
    set_log_callback(lambda level, message: logger.log(levels.get(level, logging.ERROR), "%s", message))


def set_log_level(level):
    """Drops messages below level (LOG_DEBUG..LOG_NONE; default LOG_WARN)."""
    _lib.get().alae_set_log_level(level)


def get_log_level():
    """The current minimum log level."""
    return int(_lib.get().alae_get_log_level())


# ---- contexts ----

_CTX_KEYS = _k.keys_with_prefix("CTX_")  # threads, seed, deterministic, poison


class Context(Handle):
    """A device context: the unit of concurrency of libalae. Every object created from a
    context runs on its device; the wrapper serialises the calls made on it (and on its
    models, tensors, optimizers and trainers) from Python threads with one lock, as the C API
    requires. Different contexts run in parallel.

    ``Context(device=0, threads=None, seed=None, deterministic=None, poison=None)``; the keyword
    settings are the ALAE_CTX_* parameters, also readable and writable as attributes."""

    _destroy = "alae_context_destroy"
    _kind = "Context"

    def __init__(self, device=_k.DEVICE_CPU, **params):
        lib_ = _lib.get()
        out = c_void_p()
        lib_.alae_context_create(device, byref(out))
        self._own(out.value, lock=threading.RLock())
        self.device = device
        try:
            for name, value in params.items():
                if value is not None:
                    self.set_param(name, value)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _key(name):
        if isinstance(name, int):
            return name
        try:
            return _CTX_KEYS[name]
        except KeyError:
            raise AlaeError(_k.E_INVALID_ARG, "unknown context parameter '%s' (known: %s)"
                            % (name, ", ".join(_CTX_KEYS))) from None

    def set_param(self, name, value):
        """Sets a parameter by name ("threads", "seed", "deterministic", "poison") or key."""
        with self._lock:
            _lib.get().alae_context_set_param(self._ptr, self._key(name), int(value))

    def get_param(self, name):
        """Reads a parameter by name or key."""
        value = c_int64()
        with self._lock:
            _lib.get().alae_context_get_param(self._ptr, self._key(name), byref(value))
        return int(value.value)

    threads = property(lambda self: self.get_param("threads"), lambda self, v: self.set_param("threads", v),
                       doc="worker threads, 1..256")
    seed = property(lambda self: self.get_param("seed"), lambda self, v: self.set_param("seed", v),
                    doc="seed of the context's generator; setting it restarts the generator")
    deterministic = property(lambda self: bool(self.get_param("deterministic")),
                             lambda self, v: self.set_param("deterministic", bool(v)),
                             doc="bitwise-reproducible kernels")
    poison = property(lambda self: bool(self.get_param("poison")), lambda self, v: self.set_param("poison", bool(v)),
                      doc="NaN-fill freed activation memory (debugging)")

    @property
    def info(self):
        """The DeviceInfo of the context's device."""
        return device_info(self.device)

    def synchronize(self):
        """Waits until the work queued on the context has finished."""
        with self._lock:
            _lib.get().alae_context_synchronize(self._ptr)

    def request_abort(self):
        """Asks the call running on this context in another thread to stop: it raises
        AlaeError(E_ABORTED) at the next operation boundary. Safe from any thread (it does not
        take the context's lock)."""
        native = self._native
        if native.ptr is not None:
            _lib.get().alae_context_request_abort(native.ptr)

    def normal(self, shape, seed=None, mean=0.0, std=1.0):
        """A float32 array of N(mean, std^2) numbers from the context's Philox generator (the
        same numbers on every backend). With a seed, the generator restarts from it first, as
        ``alae sample --seed`` does."""
        with Tensor(self, shape) as t:
            with self._lock:
                if seed is not None:
                    _lib.get().alae_context_set_param(self._ptr, _k.CTX_SEED, int(seed))
                _lib.get().alae_tensor_fill_normal(t._ptr, mean, std)
            return t.numpy()

    def __repr__(self):
        return "<alae.Context device=%d%s>" % (self.device, " closed" if self.closed else "")


_default = None
_default_lock = threading.Lock()


def default_context():
    """A CPU context shared by the objects created without ``context=`` (created on first use)."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = Context()
        return _default


# ---- tensors ----

def as_f32(array, what="array"):
    """array as a C-contiguous float32 numpy array (a copy only when needed)."""
    a = np.ascontiguousarray(array, dtype=np.float32)
    if a.ndim == 0:
        raise AlaeError(_k.E_SHAPE, "%s must have at least one dimension" % what)
    return a


class Tensor(Handle):
    """A float32 tensor on a context's device (1 to 4 dimensions, each >= 1). Data moves
    through write() and numpy(); the high-level classes create and destroy tensors for you."""

    _destroy = "alae_tensor_destroy"
    _kind = "Tensor"

    def __init__(self, context, shape, dtype=_k.DTYPE_F32):
        shape = tuple(int(d) for d in shape)
        dims = (ctypes.c_int64 * max(len(shape), 1))(*shape)
        out = c_void_p()
        with context._lock:
            _lib.get().alae_tensor_create(context._ptr, dtype, len(shape), dims, byref(out))
        self._own(out.value, parents=(context,), lock=context._lock)
        self.context = context

    @classmethod
    def from_numpy(cls, context, array):
        """A tensor holding a copy of array (converted to float32)."""
        a = as_f32(array)
        t = cls(context, a.shape)
        t.write(a)
        return t

    @property
    def ndim(self):
        return int(_lib.get().alae_tensor_ndim(self._ptr))

    @property
    def dtype(self):
        return int(_lib.get().alae_tensor_dtype(self._ptr))

    @property
    def numel(self):
        return int(_lib.get().alae_tensor_numel(self._ptr))

    @property
    def shape(self):
        dims = (ctypes.c_int64 * _k.TENSOR_MAX_DIMS)()
        with self._lock:
            _lib.get().alae_tensor_shape(self._ptr, dims, _k.TENSOR_MAX_DIMS)
            n = _lib.get().alae_tensor_ndim(self._ptr)
        return tuple(int(d) for d in dims[:n])

    def write(self, array):
        """Copies array (its size must match; converted to float32) into the tensor."""
        a = as_f32(array)
        with self._lock:
            _lib.get().alae_tensor_write(self._ptr, a.ctypes.data, a.nbytes)

    def numpy(self):
        """A new float32 numpy array with the tensor's contents."""
        a = np.empty(self.shape, dtype=np.float32)
        with self._lock:
            _lib.get().alae_tensor_read(self._ptr, a.ctypes.data, a.nbytes)
        return a

    def fill_normal(self, mean=0.0, std=1.0):
        """Fills the tensor from the context's generator (advancing it)."""
        with self._lock:
            _lib.get().alae_tensor_fill_normal(self._ptr, mean, std)

    def __repr__(self):
        return "<alae.Tensor%s>" % (" closed" if self.closed else " shape=%s" % (self.shape,))
