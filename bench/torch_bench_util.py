"""Helpers shared by the PyTorch benchmark scripts (bench/pytorch_mlp_alae.py,
bench/pytorch_style_alae.py): reading safetensors without the package, peak RSS, and the
OpenBLAS library torch uses. No torch import here."""

import json
import struct


def openblas():
    """The OpenBLAS library torch is linked with (via libblas.so.3), or None."""
    import ctypes
    for name in ("libopenblas.so.0", "libblas.so.3"):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_num_threads  # noqa: B018 (raises AttributeError if not OpenBLAS)
            return lib
        except (OSError, AttributeError):
            continue
    return None


def peak_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def read_safetensors(path):
    """-> (dict name -> numpy array, metadata dict)."""
    import numpy as np
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "U64": np.uint64, "I32": np.int32,
              "U8": np.uint8, "F16": np.float16}
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = np.dtype(dtypes[info["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(data, dtype=dt, count=(e - b) // dt.itemsize, offset=base + b) \
            .reshape(info["shape"]).astype(dt.newbyteorder("="))
    return out, meta
