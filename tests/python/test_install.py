"""`pip install` of the package, offline, with Debian's pip and setuptools (no build isolation)."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO


def require_build_tools():
    for module in ("pip", "setuptools", "wheel"):  # one by one: importing pip first upsets setuptools
        if subprocess.run([sys.executable, "-c", "import " + module], capture_output=True).returncode:
            pytest.skip("python3 has no %s module (Debian: python3-pip, which brings setuptools and wheel)" % module)


def test_pip_install_offline(tmp_path):
    require_build_tools()
    src = tmp_path / "src"
    shutil.copytree(os.path.join(REPO, "python"), src,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-deps",
                        "--disable-pip-version-check", "--no-cache-dir", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "alae" / "__init__.py").exists()
    assert not list(target.glob("alae/*.so*")), "the package must not bundle libalae"
    env = dict(os.environ, PYTHONPATH=str(target))
    r = subprocess.run([sys.executable, "-c", "import alae; print(alae.__file__); print(alae.version())"],
                       cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith(str(target))


def test_installed_beside_the_library(tmp_path):
    """pip install --prefix P next to libalae in P/lib (as `cmake --install` puts it): the
    package finds the library without ALAE_LIBRARY."""
    import alae
    require_build_tools()
    src = tmp_path / "src"
    shutil.copytree(os.path.join(REPO, "python"), src,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    prefix = tmp_path / "prefix"
    (prefix / "lib").mkdir(parents=True)
    shutil.copy(os.path.realpath(alae.library_path()), prefix / "lib" / ("libalae.so." + alae._lib.SOVERSION))
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-deps",
                        "--disable-pip-version-check", "--no-cache-dir", "--prefix", str(prefix), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    inits = list(prefix.glob("**/alae/__init__.py"))
    assert len(inits) == 1
    env = {k: v for k, v in os.environ.items() if k not in ("ALAE_LIBRARY", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(inits[0].parent.parent)
    r = subprocess.run([sys.executable, "-c", "import alae; print(alae.library_path())"], cwd=str(tmp_path), env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(prefix / "lib" / ("libalae.so." + alae._lib.SOVERSION))
