"""Finding and loading libalae, the prototype of every C entry point, and error translation.

The table PROTOTYPES below is the whole binding at the C level: one line per ``ALAE_API``
function, ``"name": (restype, argtypes...)``. A function whose restype is ``STATUS`` returns an
``alae_status``; a non-zero result raises :class:`AlaeError` with ``alae_last_error()``, read
at once on the calling thread (the message is thread-local in C, and ctypes calls the function on
the caller's OS thread). Adding a function to the C API means adding its line here; after that it
is callable as ``alae.lib.<name>(...)``. tests/python/test_bindings.py parses the headers and fails
for every ``ALAE_API`` function without a line, or whose line disagrees with the header.
"""

import ctypes
import ctypes.util
import operator
import os
import sys
import sysconfig
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int32, c_int64,
                    c_size_t, c_uint32, c_uint64, c_void_p)

from . import constants as _k

# The headers this package was written against: 0.2.0 (ALAE_VERSION_NUMBER = major*10000 +
# minor*100 + patch). While the major version is 0 every minor release is its own ABI, so the
# library must be a 0.2.x no older than this; its file is libalae.so.0.2 (the SONAME).
HEADER_VERSION_NUMBER = 200
SOVERSION = "0.2"


class AlaeError(Exception):
    """A libalae call failed. ``code`` is the ``alae_status`` (a negative ``alae.E_*`` value),
    ``message`` the library's ``alae_last_error()`` text (or the status text when empty), and
    ``status`` the code's name, e.g. ``"ALAE_E_SHAPE"``."""

    def __init__(self, code, message):
        self.code = int(code)
        self.message = message
        self.status = _k.STATUS_NAMES.get(self.code, "ALAE_E_%d" % self.code)
        super().__init__(code, message)

    def __str__(self):
        return "%s [%s]" % (self.message, self.status)

    def __repr__(self):
        return "AlaeError(%s, %r)" % (self.status, self.message)


# ---- C types that cross the boundary ----

STATUS = "alae_status"  # marker: c_int32 plus the error check


class DeviceInfo_c(Structure):
    """alae_device_info (alae_device.h)."""
    _fields_ = [("struct_size", c_uint32), ("kind", c_int32), ("name", c_char * 64),
                ("description", c_char * 128), ("mem_total", c_uint64), ("mem_free", c_uint64),
                ("threads", c_int32)]


class StepStats_c(Structure):
    """alae_step_stats (alae_train.h)."""
    _fields_ = [("struct_size", c_uint32), ("loss_d", c_float), ("loss_g", c_float), ("loss_ae", c_float),
                ("r1", c_float), ("step", c_uint64)]


COMM_COLLECTIVE_FN = CFUNCTYPE(c_int32, c_void_p, POINTER(c_float), c_size_t, c_int32, c_void_p)


class Comm_c(Structure):
    """alae_comm (alae_comm.h): a communicator's table."""
    _fields_ = [("struct_size", c_uint32), ("version", c_uint32), ("rank", c_int32), ("size", c_int32),
                ("memory", c_int32), ("user", c_void_p), ("allreduce", COMM_COLLECTIVE_FN),
                ("broadcast", COMM_COLLECTIVE_FN), ("destroy", CFUNCTYPE(None, c_void_p))]


class InvertReport_c(Structure):
    """alae_invert_report (alae_eval.h)."""
    _fields_ = [("struct_size", c_uint32), ("steps", c_int32), ("mse_before", c_double), ("mse_after", c_double),
                ("psnr_before", c_double), ("psnr_after", c_double)]


class ImageQuality_c(Structure):
    """alae_image_quality (alae_eval.h)."""
    _fields_ = [("struct_size", c_uint32), ("mse", c_double), ("psnr", c_double), ("ssim", c_double)]


class SwdResult_c(Structure):
    """alae_swd_result (alae_eval.h)."""
    _fields_ = [("struct_size", c_uint32), ("levels", c_int32), ("resolution", c_int32 * _k.SWD_MAX_LEVELS),
                ("distance", c_double * _k.SWD_MAX_LEVELS), ("mean", c_double)]


LOG_FN = CFUNCTYPE(None, c_int32, c_char_p, c_void_p)  # alae_log_fn

HANDLE = c_void_p            # every opaque handle: alae_context *, alae_model *, ...
OUT_HANDLE = POINTER(c_void_p)  # alae_x **out
P_I32 = POINTER(c_int32)
P_I64 = POINTER(c_int64)
P_U64 = POINTER(c_uint64)
P_F64 = POINTER(c_double)
P_SIZE = POINTER(c_size_t)
BUFFER = c_void_p            # float * / void * host memory: pass a numpy array's .ctypes.data

# ---- every ALAE_API function: "name": (restype, argtypes...) ----

PROTOTYPES = {
    # alae_version.h
    "alae_version_number": (c_uint32,),
    "alae_version_string": (c_char_p,),
    "alae_check_version": (STATUS, c_uint32),
    # alae_status.h
    "alae_status_string": (c_char_p, c_int32),
    "alae_last_error": (c_char_p,),
    "alae_set_log_callback": (None, LOG_FN, c_void_p),
    "alae_set_log_level": (STATUS, c_int32),
    "alae_get_log_level": (c_int32,),
    # alae_device.h
    "alae_device_count": (c_int32,),
    "alae_device_get_info": (STATUS, c_int32, POINTER(DeviceInfo_c)),
    "alae_backend_load": (STATUS, c_char_p),
    "alae_backend_load_cuda": (STATUS, c_char_p),
    "alae_device_find": (STATUS, c_char_p, POINTER(c_int32)),
    "alae_context_create": (STATUS, c_int32, OUT_HANDLE),
    "alae_context_destroy": (None, HANDLE),
    "alae_context_set_param": (STATUS, HANDLE, c_int32, c_int64),
    "alae_context_get_param": (STATUS, HANDLE, c_int32, P_I64),
    "alae_context_synchronize": (STATUS, HANDLE),
    "alae_context_request_abort": (None, HANDLE),
    # alae_tensor.h
    "alae_tensor_create": (STATUS, HANDLE, c_int32, c_int32, P_I64, OUT_HANDLE),
    "alae_tensor_destroy": (None, HANDLE),
    "alae_tensor_ndim": (c_int32, HANDLE),
    "alae_tensor_dtype": (c_int32, HANDLE),
    "alae_tensor_numel": (c_int64, HANDLE),
    "alae_tensor_shape": (STATUS, HANDLE, P_I64, c_int32),
    "alae_tensor_write": (STATUS, HANDLE, BUFFER, c_size_t),
    "alae_tensor_read": (STATUS, HANDLE, BUFFER, c_size_t),
    "alae_tensor_fill_normal": (STATUS, HANDLE, c_float, c_float),
    # alae_model.h
    "alae_model_config_create": (STATUS, c_char_p, OUT_HANDLE),
    "alae_model_config_destroy": (None, HANDLE),
    "alae_model_config_set": (STATUS, HANDLE, c_int32, c_double),
    "alae_model_config_get": (STATUS, HANDLE, c_int32, P_F64),
    "alae_model_config_key": (STATUS, c_char_p, P_I32),
    "alae_model_config_bounds": (STATUS, c_int32, P_F64, P_F64),
    "alae_model_create": (STATUS, HANDLE, HANDLE, c_uint64, OUT_HANDLE),
    "alae_model_destroy": (None, HANDLE),
    "alae_model_get_config": (STATUS, HANDLE, OUT_HANDLE),
    "alae_model_param_count": (STATUS, HANDLE, c_int32, P_U64),
    "alae_model_set": (STATUS, HANDLE, c_int32, c_double),
    "alae_model_get": (STATUS, HANDLE, c_int32, P_F64),
    "alae_model_map": (STATUS, HANDLE, HANDLE, HANDLE),
    "alae_model_generate": (STATUS, HANDLE, HANDLE, HANDLE),
    "alae_model_encode": (STATUS, HANDLE, HANDLE, HANDLE),
    "alae_model_discriminate": (STATUS, HANDLE, HANDLE, HANDLE),
    "alae_model_reconstruct": (STATUS, HANDLE, HANDLE, HANDLE),
    "alae_model_sample": (STATUS, HANDLE, HANDLE, HANDLE),
    "alae_model_generate_styles": (STATUS, HANDLE, HANDLE, HANDLE),
    "alae_model_save": (STATUS, HANDLE, c_char_p),
    "alae_model_load": (STATUS, HANDLE, c_char_p, OUT_HANDLE),
    "alae_model_import_pth": (STATUS, HANDLE, c_char_p, HANDLE, c_int32, OUT_HANDLE),
    # alae_eval.h
    "alae_model_invert": (STATUS, HANDLE, HANDLE, c_int32, c_double, HANDLE, POINTER(InvertReport_c)),
    "alae_eval_image_quality": (STATUS, BUFFER, BUFFER, c_int64, c_int32, c_int32, c_double, POINTER(ImageQuality_c)),
    "alae_eval_swd": (STATUS, BUFFER, BUFFER, c_int64, c_int32, c_int32, c_uint64, POINTER(SwdResult_c)),
    "alae_eval_precision_recall": (STATUS, BUFFER, c_int64, BUFFER, c_int64, c_int64, c_int32, P_F64, P_F64),
    "alae_eval_nn_accuracy": (STATUS, BUFFER, BUFFER, c_int64, BUFFER, BUFFER, c_int64, c_int64, P_F64),
    "alae_eval_linear_accuracy": (STATUS, BUFFER, BUFFER, c_int64, BUFFER, BUFFER, c_int64, c_int64, P_F64),
    "alae_model_path_length": (STATUS, HANDLE, HANDLE, HANDLE, c_double, BUFFER, P_F64),
    "alae_model_path_length_features": (STATUS, HANDLE, HANDLE, HANDLE, HANDLE, c_double, BUFFER, P_F64),
    "alae_eval_frechet_distance": (STATUS, BUFFER, c_int64, BUFFER, c_int64, c_int64, P_F64),
    "alae_feature_net_load": (STATUS, HANDLE, c_char_p, OUT_HANDLE),
    "alae_feature_net_destroy": (None, HANDLE),
    "alae_feature_net_dim": (c_int64, HANDLE),
    "alae_feature_net_features": (STATUS, HANDLE, BUFFER, c_int64, c_int32, c_int32, c_double, c_double, BUFFER),
    "alae_direction_fit": (STATUS, BUFFER, BUFFER, c_int64, c_int64, BUFFER, P_F64),
    "alae_directions_create": (STATUS, c_int64, OUT_HANDLE),
    "alae_directions_destroy": (None, HANDLE),
    "alae_directions_add": (STATUS, HANDLE, c_char_p, BUFFER, c_double),
    "alae_directions_count": (c_int64, HANDLE),
    "alae_directions_dim": (c_int64, HANDLE),
    "alae_directions_get": (STATUS, HANDLE, c_int64, OUT_HANDLE, BUFFER, P_F64),
    "alae_directions_find": (STATUS, HANDLE, c_char_p, P_I64),
    "alae_directions_save": (STATUS, HANDLE, c_char_p),
    "alae_directions_load": (STATUS, c_char_p, OUT_HANDLE),
    # alae_optim.h
    "alae_optimizer_create_adam": (STATUS, HANDLE, c_int32, OUT_HANDLE),
    "alae_optimizer_destroy": (None, HANDLE),
    "alae_optimizer_set": (STATUS, HANDLE, c_int32, c_double),
    "alae_optimizer_get": (STATUS, HANDLE, c_int32, P_F64),
    # alae_train.h
    "alae_trainer_create": (STATUS, HANDLE, HANDLE, HANDLE, OUT_HANDLE),
    "alae_trainer_destroy": (None, HANDLE),
    "alae_trainer_set": (STATUS, HANDLE, c_int32, c_double),
    "alae_trainer_get": (STATUS, HANDLE, c_int32, P_F64),
    "alae_trainer_set_level": (STATUS, HANDLE, c_int32, c_int32, c_double),
    "alae_trainer_get_level": (STATUS, HANDLE, c_int32, c_int32, P_F64),
    "alae_trainer_set_position": (STATUS, HANDLE, c_uint64, c_uint64),
    "alae_trainer_reserve": (STATUS, HANDLE, c_int64, P_SIZE),
    "alae_trainer_step": (STATUS, HANDLE, HANDLE, POINTER(StepStats_c)),
    "alae_trainer_step_count": (c_uint64, HANDLE),
    "alae_trainer_save_model": (STATUS, HANDLE, c_char_p),
    "alae_trainer_smoothed_model": (STATUS, HANDLE, OUT_HANDLE),
    "alae_trainer_save": (STATUS, HANDLE, c_char_p),
    "alae_trainer_load": (STATUS, HANDLE, c_char_p),
    "alae_trainer_set_comm": (STATUS, HANDLE, POINTER(Comm_c)),
    "alae_comm_open": (STATUS, c_char_p, HANDLE, OUT_HANDLE),
    "alae_comm_close": (None, POINTER(Comm_c)),
    # alae_io.h
    "alae_dataset_open_idx": (STATUS, c_char_p, c_char_p, OUT_HANDLE),
    "alae_dataset_open_folder": (STATUS, c_char_p, c_int32, c_int32, c_int32, OUT_HANDLE),
    "alae_dataset_destroy": (None, HANDLE),
    "alae_dataset_count": (c_int64, HANDLE),
    "alae_dataset_image_shape": (STATUS, HANDLE, P_I32, P_I32, P_I32),
    "alae_dataset_label": (STATUS, HANDLE, c_int64, P_I32),
    "alae_dataset_read": (STATUS, HANDLE, P_I64, c_int64, c_int32, HANDLE),
    "alae_dataset_read_flipped": (STATUS, HANDLE, P_I64, BUFFER, c_int64, c_int32, HANDLE),
    "alae_shuffle_order": (STATUS, c_uint64, c_uint64, c_int64, P_I64),
    "alae_image_grid_write_png": (STATUS, c_char_p, BUFFER, c_int64, c_int64, c_int64, c_int64, c_float, c_float,
                                  c_int32),
    "alae_npy_write_f32": (STATUS, c_char_p, c_int32, P_I64, BUFFER),
    "alae_npy_read_f32": (STATUS, c_char_p, P_I32, P_I64, POINTER(c_void_p)),
    "alae_free": (None, c_void_p),
}


# ---- finding the library ----

def _library_names():
    """File names of libalae for this platform, the ABI's own name first."""
    if sys.platform == "win32":
        return ["alae.dll", "libalae.dll"]
    if sys.platform == "darwin":
        return ["libalae.%s.dylib" % SOVERSION, "libalae.dylib"]
    return ["libalae.so.%s" % SOVERSION, "libalae.so"]


def _in_directory(directory):
    for name in _library_names():
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def candidate_paths():
    """Where the package looks for libalae, in order (never the current directory):

    1. ``$ALAE_LIBRARY``: the library file itself, or a directory holding it (an error if it
       cannot be loaded: an explicit choice is never silently replaced);
    2. the installation the package belongs to: with the package in
       ``<prefix>/lib/pythonX.Y/site-packages/alae`` (or ``.../dist-packages/alae``), the
       directories ``<prefix>/lib``, ``<prefix>/lib64`` and ``<prefix>/lib/<multiarch>``
       (Debian's ``pip install --prefix P`` puts the package in ``P/local/lib/...``: then
       ``P/lib`` and the others too);
    3. a build tree: with the package in ``<repo>/python/alae``, ``<repo>/build``;
    4. the system's library path, through ``ctypes.util.find_library("alae")``.

    Returns a list of (description, path-or-name)."""
    found = []
    here = os.path.dirname(os.path.abspath(__file__))
    parts = here.split(os.sep)
    # 2. installed: <prefix>/lib/python3.11/site-packages/alae
    if len(parts) >= 4 and parts[-2] in ("site-packages", "dist-packages"):
        prefixes = [os.sep.join(parts[:-4]) or os.sep]
        if len(parts) >= 5 and parts[-5] == "local":  # Debian's pip --prefix P: P/local/lib/python3.X/dist-packages
            prefixes.append(os.sep.join(parts[:-5]) or os.sep)
        dirs = [os.sep.join(parts[:-3])]
        multiarch = sysconfig.get_config_var("MULTIARCH")
        for prefix in prefixes:
            dirs += [os.path.join(prefix, "lib"), os.path.join(prefix, "lib64")]
            if multiarch:
                dirs.append(os.path.join(prefix, "lib", multiarch))
        for d in dict.fromkeys(dirs):
            path = _in_directory(d)
            if path:
                found.append(("the installation of the package", path))
    # 3. a build tree: <repo>/python/alae -> <repo>/build
    repo = os.path.dirname(os.path.dirname(here))
    if os.path.isfile(os.path.join(repo, "include", "alae", "alae.h")):
        path = _in_directory(os.path.join(repo, "build"))
        if path:
            found.append(("the build tree", path))
    # 4. the system
    name = ctypes.util.find_library("alae")
    if name:
        found.append(("the system's library path", name))
    return found


def _load_cdll(path):
    if sys.platform == "win32" and os.path.isabs(path):
        os.add_dll_directory(os.path.dirname(path))  # its dependencies, never PATH or the CWD
    return ctypes.CDLL(path)


def _open_library():
    env = os.environ.get("ALAE_LIBRARY")
    if env:
        path = os.path.abspath(os.path.expanduser(env))
        if os.path.isdir(path):
            inner = _in_directory(path)
            if not inner:
                raise AlaeError(_k.E_BACKEND_UNAVAILABLE,
                                "ALAE_LIBRARY=%s is a directory without %s" % (env, " or ".join(_library_names())))
            path = inner
        try:
            return _load_cdll(path), path
        except OSError as e:
            raise AlaeError(_k.E_BACKEND_UNAVAILABLE, "cannot load ALAE_LIBRARY=%s: %s" % (env, e)) from None
    tried = []
    for where, path in candidate_paths():
        try:
            return _load_cdll(path), path
        except OSError as e:
            tried.append("%s (%s): %s" % (path, where, e))
    raise AlaeError(_k.E_BACKEND_UNAVAILABLE,
                    "libalae was not found: set ALAE_LIBRARY to the path of %s (or its directory), install "
                    "libalae where the package is installed, or add it to the system's library path%s"
                    % (_library_names()[0], "; tried " + "; ".join(tried) if tried else ""))


# Integer argument types and their ranges: ctypes converts a Python int modulo 2^bits, so an
# out-of-range value would reach the library as another number.
_INT_RANGES = {}
for _t in (c_int32, c_int64):
    _INT_RANGES[_t] = (-(1 << (8 * ctypes.sizeof(_t) - 1)), (1 << (8 * ctypes.sizeof(_t) - 1)) - 1)
for _t in (c_uint32, c_uint64, c_size_t):
    _INT_RANGES[_t] = (0, (1 << (8 * ctypes.sizeof(_t))) - 1)


def _check_int(name, i, value, ctype):
    try:
        v = operator.index(value)
    except TypeError:
        return  # not an integer: ctypes decides
    lo, hi = _INT_RANGES[ctype]
    if not lo <= v <= hi:
        raise AlaeError(_k.E_INVALID_ARG, "%s: argument %d = %d is out of range for %s (%d..%d)"
                        % (name, i + 1, v, ctype.__name__, lo, hi))


def _checked(fn, name, argtypes):
    """fn, refusing what ctypes would silently change: an integer out of its C type's range
    (wrapped) and a text with a NUL byte (cut at the NUL, like a path that names another file)."""
    ints = [(i, t) for i, t in enumerate(argtypes) if t in _INT_RANGES]
    texts = [i for i, t in enumerate(argtypes) if t is c_char_p]
    if not ints and not texts:
        return fn

    def call(*args):
        for i, t in ints:
            if i < len(args):
                _check_int(name, i, args[i], t)
        for i in texts:
            if i < len(args) and isinstance(args[i], bytes) and b"\0" in args[i]:
                raise ValueError("%s: argument %d: embedded null byte" % (name, i + 1))
        return fn(*args)

    call.__name__ = name
    call.__wrapped__ = fn
    return call


class _Lib:
    """The loaded library: one attribute per entry of PROTOTYPES, with restype, argtypes and the
    error check set. ``path`` is the file that was loaded."""

    def __init__(self, cdll, path):
        self._cdll = cdll
        self.path = path
        self.missing = []
        last_error = cdll.alae_last_error
        last_error.restype = c_char_p
        last_error.argtypes = []
        status_string = cdll.alae_status_string
        status_string.restype = c_char_p
        status_string.argtypes = [c_int32]

        def check(result, func, args):
            if result != 0:
                message = (last_error() or b"").decode("utf-8", "replace")
                if not message:
                    message = "%s: %s" % (func.__name__, (status_string(result) or b"").decode())
                raise AlaeError(result, message)
            return result

        for name, (restype, *argtypes) in PROTOTYPES.items():
            try:
                fn = getattr(cdll, name)
            except AttributeError:  # an older 0.2.x library without a newer function
                self.missing.append(name)
                continue
            fn.argtypes = list(argtypes)
            if restype is STATUS:
                fn.restype = c_int32
                fn.errcheck = check
            else:
                fn.restype = restype
            setattr(self, name, _checked(fn, name, argtypes))

    def __getattr__(self, name):
        if name.startswith("alae_") and name in PROTOTYPES:
            raise AlaeError(_k.E_UNSUPPORTED, "%s is not in the loaded library %s" % (name, self.path))
        raise AttributeError(name)


_lock = threading.Lock()
_lib = None


def get():
    """The loaded library (loaded and version-checked on first use)."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            cdll, path = _open_library()
            lib = _Lib(cdll, path)
            lib.alae_check_version(HEADER_VERSION_NUMBER)  # raises AlaeError(E_VERSION, ...)
            _lib = lib
    return _lib


def check_status(code):
    """Raises AlaeError for a non-zero status returned by a raw call made without errcheck."""
    if code != 0:
        lib = get()
        raise AlaeError(code, (lib.alae_last_error() or b"").decode("utf-8", "replace"))


def encode_path(path):
    """A path (str, bytes or os.PathLike) as the UTF-8 bytes the C API takes; a NUL byte is
    refused as open() refuses it (the C string would end there and name another file)."""
    path = os.fspath(path)
    data = path if isinstance(path, bytes) else path.encode("utf-8")
    if b"\0" in data:
        raise ValueError("embedded null byte")
    return data
