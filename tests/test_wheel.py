"""genmodels as a normal package: its wheel, installed outside the repository, runs a chapter under nbval.

Installing torch into a new virtual environment would take minutes and gigabytes, so the fresh environment
borrows this one's packages through a .pth file listing this environment's site-packages. A directory added
that way is only put on ``sys.path``: the ``.pth`` files inside it (genmodels' editable install among them) are
not run, so the only genmodels the fresh environment can import is the wheel installed into it (asserted).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "02_latent_distributions.ipynb"  # the cheapest chapter in the quick budget (toy data, small networks)


def _build_wheel(tmp: Path) -> Path:
    """The wheel of a copy of the package's sources (nothing is built inside the repository)."""
    source = tmp / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp / "dist"), str(source)], check=True, timeout=300)
    (wheel,) = (tmp / "dist").glob("genmodels-*.whl")
    return wheel


def _fresh_venv(tmp: Path) -> Path:
    """A virtual environment outside the repository that sees this environment's packages, not its genmodels."""
    home = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(home)
    python = home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "borrowed.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(tmp)
    python = _fresh_venv(tmp)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, timeout=300)
    return wheel, python


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    return {**env, **extra}


def test_the_wheel_holds_the_package_and_declares_ranges(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("genmodels/__init__.py", "genmodels/cli.py", "genmodels/distributed.py",
                   "genmodels/models/gan.py", "genmodels/publish/repository.py"):
        assert module in names
    assert not any(n.startswith(("tests/", "chapters/", "book/")) for n in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any(r.startswith("torch>=") for r in requires)
    versions = [r.split(";")[0] for r in requires]  # not the markers (extra == "publish")
    assert not any("==" in v for v in versions)  # ranges that Colab's preinstalled torch satisfies, not pins


def test_genmodels_imports_from_the_fresh_environment_with_its_dependencies_satisfied(installed, tmp_path):
    _, python = installed
    script = """
import importlib.metadata as md, json, genmodels
from packaging.requirements import Requirement
unmet = []
for line in md.requires("genmodels") or []:
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    try:
        version = md.version(req.name)
    except md.PackageNotFoundError:
        unmet.append(f"{req} (missing)"); continue
    if not req.specifier.contains(version, prereleases=True):
        unmet.append(f"{req} (found {version})")
print(json.dumps({"file": genmodels.__file__, "unmet": unmet, "version": md.version("genmodels")}))
"""
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, cwd=tmp_path,
                            env=_clean_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    home = python.parent.parent.resolve()
    assert Path(found["file"]).resolve().is_relative_to(home), f"{found['file']} is not the wheel in {home}"
    assert found["unmet"] == []
    cli = subprocess.run([str(python), "-m", "genmodels", "--help"], capture_output=True, text=True, cwd=tmp_path,
                         env=_clean_env(), timeout=300)
    assert cli.returncode == 0 and "train" in cli.stdout


def test_a_chapter_runs_under_nbval_from_the_wheel_outside_the_repository(installed, tmp_path):
    _, python = installed
    notebook = json.loads((ROOT / "chapters" / CHAPTER).read_text(encoding="utf-8"))
    notebook["cells"].append({"cell_type": "code", "execution_count": None, "id": "wheel-check", "metadata": {},
                              "outputs": [], "source": "import sys\nimport genmodels\n"
                              "assert genmodels.__file__.startswith(sys.prefix), genmodels.__file__"})
    (tmp_path / CHAPTER).write_text(json.dumps(notebook), encoding="utf-8")  # + a last cell: whose genmodels?
    env = _clean_env(GENMODELS_QUICK="1", OMP_NUM_THREADS="1", GENMODELS_CACHE_DIR=str(tmp_path / "cache"),
                     MPLBACKEND="Agg")
    result = subprocess.run(
        [str(python), "-m", "pytest", "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=600", "-q",
         "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(tmp_path), CHAPTER],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def _pins(path: Path) -> set[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if "==" in line}


def test_binder_pins_follow_requirements():
    binder = ROOT / ".binder" / "requirements.txt"
    assert _pins(binder) == _pins(ROOT / "requirements.txt") and _pins(binder)
    assert "-e ." in binder.read_text(encoding="utf-8").splitlines()
