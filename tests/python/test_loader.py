"""How the package finds libalae: $ALAE_LIBRARY (file or directory), never the current directory."""

import os
import shutil
import subprocess
import sys

import pytest

import alae
from conftest import REPO

PROBE = "import alae, sys; sys.stdout.write(alae.library_path())"


def run(code, cwd, env):
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def package_copy(tmp_path):
    """The package alone in a directory (so no build tree lies beside it)."""
    dest = tmp_path / "pkg"
    shutil.copytree(os.path.join(REPO, "python", "alae"), dest / "alae",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return str(dest)


def test_env_file_and_directory(tmp_path):
    lib = alae.library_path()
    env = dict(os.environ, PYTHONPATH=package_copy(tmp_path), ALAE_LIBRARY=os.path.realpath(lib))
    r = run(PROBE, str(tmp_path), env)
    assert r.returncode == 0, r.stderr
    assert os.path.realpath(r.stdout) == os.path.realpath(lib)
    env["ALAE_LIBRARY"] = os.path.dirname(os.path.realpath(lib))
    r = run(PROBE, str(tmp_path), env)
    assert r.returncode == 0, r.stderr
    assert os.path.dirname(r.stdout) == env["ALAE_LIBRARY"]


def test_bad_env_is_an_error(tmp_path):
    env = dict(os.environ, PYTHONPATH=package_copy(tmp_path), ALAE_LIBRARY=str(tmp_path / "nope.so"))
    r = run(PROBE, str(tmp_path), env)
    assert r.returncode != 0 and "ALAE_LIBRARY" in r.stderr and "AlaeError" in r.stderr


def test_never_the_current_directory(tmp_path):
    """A libalae in the CWD is not loaded: without ALAE_LIBRARY the package finds nothing (or the
    system's copy, never the CWD's)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    real = os.path.realpath(alae.library_path())
    shutil.copy(real, cwd / ("libalae.so." + alae._lib.SOVERSION))
    shutil.copy(real, cwd / "libalae.so")
    env = {k: v for k, v in os.environ.items() if k not in ("ALAE_LIBRARY", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = package_copy(tmp_path)
    r = run(PROBE, str(cwd), env)
    if r.returncode == 0:
        assert not os.path.realpath(r.stdout).startswith(str(cwd)), r.stdout
    else:
        assert "libalae was not found" in r.stderr


def test_version_mismatch_is_reported(tmp_path, monkeypatch):
    """The package checks the library's version before anything else."""
    env = dict(os.environ, PYTHONPATH=package_copy(tmp_path), ALAE_LIBRARY=os.path.realpath(alae.library_path()))
    code = "import alae._lib as l; l.HEADER_VERSION_NUMBER = 990000; import alae; alae.version()"
    r = run(code, str(tmp_path), env)
    assert r.returncode != 0 and "ALAE_E_VERSION" in r.stderr


def test_candidate_paths_are_absolute():
    for where, path in alae.candidate_paths():
        assert os.path.isabs(path) or "/" not in path  # a file path, or a soname for the loader
