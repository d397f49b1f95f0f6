"""The package against the C headers: every ALAE_API function has a binding whose prototype
agrees with its declaration, every integer constant has its twin, the two public structs have the
same fields, and the package's version is the project's. These tests read include/alae/*.h with
tools/gen_api_docs.py's parser; they need no library."""

import ctypes
import importlib.util
import os
import re
import warnings

import pytest

from conftest import REPO
from alae import _lib, constants


def _load_parser():
    spec = importlib.util.spec_from_file_location("gen_api_docs", os.path.join(REPO, "tools", "gen_api_docs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PARSER = _load_parser()
HEADERS = PARSER.parse_headers(os.path.join(REPO, "include", "alae"))
API = {f.name: f for h in HEADERS for f in h.functions}
HANDLES = {t for h in HEADERS for t in h.handles}
STRUCTS = {name: fields for h in HEADERS for name, fields in h.structs.items()}


def test_headers_parsed():
    assert len(API) >= 60, "the header parser found only %d functions" % len(API)
    assert "alae_trainer_step" in API and "alae_check_version" in API


def test_every_api_function_has_a_binding():
    missing = sorted(set(API) - set(_lib.PROTOTYPES))
    assert not missing, (
        "ALAE_API functions without a Python binding: %s. Add one line per function to PROTOTYPES in "
        "python/alae/_lib.py (and, for a user-facing call, a method in the matching module)." % ", ".join(
            "%s (%s)" % (n, API[n].header) for n in missing))


def test_no_binding_for_a_function_the_headers_lack():
    """A warning, not a failure: a binding ahead of the headers (a function being added in
    another branch) is harmless; calling it on a library without it raises E_UNSUPPORTED. A
    renamed function fails test_every_api_function_has_a_binding instead."""
    stale = sorted(set(_lib.PROTOTYPES) - set(API))
    if stale:
        warnings.warn("PROTOTYPES in python/alae/_lib.py binds functions no header declares: " + ", ".join(stale))


_SCALARS = {"int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32, "int64_t": ctypes.c_int64,
            "uint64_t": ctypes.c_uint64, "size_t": ctypes.c_size_t, "double": ctypes.c_double,
            "float": ctypes.c_float, "alae_dtype": ctypes.c_int32, "alae_status": ctypes.c_int32}


def _expected(ctype, role):
    """The ctypes types a binding may use for a C type; None when the test has no rule for it."""
    if role == "ret":
        if ctype == "void":
            return [None]
        if ctype == "alae_status":
            return [_lib.STATUS]
        if ctype == "char *":
            return [ctypes.c_char_p]
    if ctype in _SCALARS:
        return [_SCALARS[ctype]]
    if ctype == "char *":
        return [ctypes.c_char_p]
    if ctype in ("void *", "float *"):
        return [ctypes.c_void_p]
    m = re.match(r"^(\w+) \*$", ctype) or re.match(r"^(\w+) \[\d*\]$", ctype)
    if m:
        base = m.group(1)
        if base in HANDLES:
            return [ctypes.c_void_p]
        if base in _SCALARS:
            return [ctypes.POINTER(_SCALARS[base]), ctypes.c_void_p]
        if base in STRUCTS:
            return ["struct:" + base]
    m = re.match(r"^(\w+) \*\*$", ctype)
    if m:
        return [ctypes.POINTER(ctypes.c_void_p)]
    if ctype == "alae_log_fn":
        return ["funcptr"]
    return None


def _matches(actual, allowed):
    for a in allowed:
        if a == "funcptr":
            if isinstance(actual, type) and issubclass(actual, ctypes._CFuncPtr):
                return True
        elif isinstance(a, str) and a.startswith("struct:"):
            if hasattr(actual, "_type_") and isinstance(actual._type_, type) and \
                    issubclass(actual._type_, ctypes.Structure):
                return True
        elif actual is a:
            return True
    return False


@pytest.mark.parametrize("name", sorted(set(API) & set(_lib.PROTOTYPES)))
def test_prototype_matches_header(name):
    fn = API[name]
    restype, *argtypes = _lib.PROTOTYPES[name]
    assert len(argtypes) == len(fn.params), "%s: the header has %d parameters (%s), the binding %d" % (
        name, len(fn.params), fn.text, len(argtypes))
    ret_allowed = _expected(fn.ret, "ret")
    if name == "alae_check_version":  # declared int32_t, returns statuses
        ret_allowed = [_lib.STATUS, ctypes.c_int32]
    if ret_allowed is not None:
        assert _matches(restype, ret_allowed), "%s: returns %s in the header; the binding says %r" % (
            name, fn.ret, restype)
    for i, ((ctype, pname), actual) in enumerate(zip(fn.params, argtypes)):
        allowed = _expected(ctype, "arg")
        if allowed is not None:
            assert _matches(actual, allowed), "%s: parameter %d (%s %s) is bound as %r" % (
                name, i, ctype, pname, actual)


def test_constants_match_headers():
    missing, wrong = [], []
    for h in HEADERS:
        for _, consts in h.constants:
            for cname, value, _ in consts:
                if not re.fullmatch(r"-?\d+", value):
                    continue  # version macros, expressions
                short = cname[len("ALAE_"):]
                if not hasattr(constants, short):
                    missing.append("%s = %s" % (cname, value))
                elif getattr(constants, short) != int(value):
                    wrong.append("%s: header %s, python %s" % (cname, value, getattr(constants, short)))
    assert not missing, "constants missing from python/alae/constants.py: " + ", ".join(missing)
    assert not wrong, "constants with other values in python/alae/constants.py: " + ", ".join(wrong)


_FIELD_TYPES = {"uint32_t": ctypes.c_uint32, "int32_t": ctypes.c_int32, "uint64_t": ctypes.c_uint64,
                "int64_t": ctypes.c_int64, "float": ctypes.c_float, "double": ctypes.c_double}


@pytest.mark.parametrize("cname,pytype", [("alae_device_info", _lib.DeviceInfo_c),
                                          ("alae_step_stats", _lib.StepStats_c),
                                          ("alae_invert_report", _lib.InvertReport_c),
                                          ("alae_image_quality", _lib.ImageQuality_c),
                                          ("alae_swd_result", _lib.SwdResult_c)])
def test_structs_match_headers(cname, pytype):
    fields = STRUCTS[cname]
    assert [f[1] for f in fields] == [f[0] for f in pytype._fields_], "%s's fields changed" % cname
    for (ctype, fname, length), (_, ptype) in zip(fields, pytype._fields_):
        if length:
            element = _FIELD_TYPES.get(ctype) or getattr(ctypes, "c_" + ctype)
            assert ptype._length_ == length and ptype._type_ is element, fname
        else:
            assert ptype is _FIELD_TYPES[ctype], "%s.%s is %s" % (cname, fname, ctype)


def test_versions_agree_with_cmake():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        m = re.search(r"project\(libalae VERSION (\d+)\.(\d+)\.(\d+)", f.read())
    major, minor, patch = (int(g) for g in m.groups())
    import alae
    assert alae.__version__ == "%d.%d.%d" % (major, minor, patch)
    assert _lib.HEADER_VERSION_NUMBER == major * 10000 + minor * 100 + patch
    assert _lib.SOVERSION == ("%d.%d" % (major, minor) if major == 0 else "%d" % major)
    with open(os.path.join(REPO, "python", "pyproject.toml")) as f:
        assert 'version = "%d.%d.%d"' % (major, minor, patch) in f.read()


def test_every_binding_is_wrapped():
    """A reminder, not a failure: functions callable only through alae.lib()."""
    package = os.path.join(REPO, "python", "alae")
    sources = ""
    for name in os.listdir(package):
        if name.endswith(".py") and name != "_lib.py":
            with open(os.path.join(package, name)) as f:
                sources += f.read()
    raw_only = [n for n in _lib.PROTOTYPES if n not in sources and n not in ("alae_last_error", "alae_status_string")]
    if raw_only:
        warnings.warn("bound but not wrapped by a class or function (use alae.lib()): " + ", ".join(raw_only))
