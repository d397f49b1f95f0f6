"""libalae for Python: Adversarial Latent Autoencoders over the library's C API (ctypes).

    import alae
    model = alae.Model.from_preset("mnist-fc", seed=0)
    trainer = alae.Trainer(model, lr=0.002, seed=0)
    stats = trainer.step(batch)                 # float32 [N, 1, 32, 32] in [-1, 1]
    w = model.encode(images); x = model.decode(w)

The package finds libalae.so at run time ($ALAE_LIBRARY, the installation the package belongs
to, a build tree, then the system's library path; never the current directory) and checks its
version on first use. Every failure raises AlaeError(code, message). See docs/python.md.
"""

from . import constants
from .constants import *  # noqa: F401,F403  (OK, E_*, LOG_*, CFG_*, PART_*, ...)
from ._lib import AlaeError, HEADER_VERSION_NUMBER, candidate_paths
from .core import (Context, DeviceInfo, Tensor, check_version, default_context, device_count, device_info, devices,
                   find_device, get_log_level, last_error, lib, library_path, load_backend, load_cuda_backend,
                   log_to_python, set_log_callback, set_log_level, status_string, version, version_number)
from .model import Model, ModelConfig, part_mask, presets, setting_names
from .train import Comm, Optimizer, StepStats, Trainer
from .eval import FeatureNet, InvertReport
from .data import Dataset, load_npy, save_npy, shuffle_order, write_png_grid

__version__ = "0.2.0"

__all__ = ["AlaeError", "Comm", "Context", "FeatureNet", "InvertReport", "Dataset", "DeviceInfo", "Model", "ModelConfig", "Optimizer", "StepStats",
           "Tensor", "Trainer", "candidate_paths", "check_version", "constants", "default_context", "device_count",
           "device_info", "devices", "find_device", "get_log_level", "last_error", "lib", "library_path", "load_backend",
           "load_cuda_backend",
           "load_npy", "log_to_python", "part_mask", "presets", "save_npy", "set_log_callback", "set_log_level",
           "setting_names", "shuffle_order", "status_string", "version", "version_number", "write_png_grid"]
