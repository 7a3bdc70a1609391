"""The one repository setting (_config.yml) and the install cell it stamps into every chapter."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from IPython.core.inputtransformer2 import TransformerManager

from genmodels.publish import repository
from genmodels.publish.repository import CELL_ID, check, install_cell_source, main, read_setting, stamp

ROOT = Path(__file__).resolve().parents[1]


def test_every_chapter_installs_from_the_configured_repository(capsys):
    assert check(ROOT) == []
    assert main(["--check", "--root", str(ROOT)]) == 0
    url, branch = read_setting(ROOT / "_config.yml")
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        first = next(c for c in cells if c["cell_type"] == "code")
        assert first["id"] == CELL_ID and "remove-cell" in first["metadata"]["tags"], path.name
        assert f"git+{url}@{branch}" in "".join(first["source"]) and not first["outputs"]


def _copy_course(tmp_path: Path, chapters: int = 2) -> Path:
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "chapters").mkdir()
    for path in sorted((ROOT / "chapters").glob("*.ipynb"))[:chapters]:
        shutil.copy(path, tmp_path / "chapters" / path.name)
    return tmp_path


def test_set_rewrites_the_setting_and_every_install_cell_and_check_catches_drift(tmp_path, capsys):
    root = _copy_course(tmp_path)
    assert main(["--set", "https://github.com/someone/fork", "--branch", "dev", "--root", str(root)]) == 0
    config = (root / "_config.yml").read_text(encoding="utf-8")
    assert "  url: https://github.com/someone/fork\n  branch: dev\n" in config
    assert "launch_buttons:" in config and "# Launch buttons" in config  # the rest of the file is untouched
    assert read_setting(root / "_config.yml") == ("https://github.com/someone/fork", "dev")
    assert check(root) == []
    assert stamp(root) == []  # idempotent

    chapter = sorted((root / "chapters").glob("*.ipynb"))[0]
    notebook = json.loads(chapter.read_text(encoding="utf-8"))
    cell = next(c for c in notebook["cells"] if c.get("id") == CELL_ID)
    cell["source"] = [line.replace("someone/fork", "someone/else") for line in cell["source"]]
    chapter.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["--check", "--root", str(root)]) == 1
    assert chapter.name in capsys.readouterr().err

    notebook["cells"].remove(cell)  # a chapter edited without the cell (or with it moved): re-stamped first
    notebook["cells"].append(cell)
    chapter.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert stamp(root) == [chapter] and check(root) == []


def test_set_refuses_a_url_that_is_not_https(tmp_path, capsys):
    root = _copy_course(tmp_path, chapters=0)
    try:
        main(["--set", "github.com/x", "--root", str(root)])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "https URL" in capsys.readouterr().err
    assert read_setting(root / "_config.yml") == read_setting(ROOT / "_config.yml")


def _run_install_cell(importable: bool) -> list[tuple[str, str]]:
    """Run the cell as IPython runs it (magics transformed), recording %pip; genmodels present or not."""
    code = TransformerManager().transform_cell(install_cell_source("https://github.com/x/course", "main"))
    calls: list[tuple[str, str]] = []
    saved = sys.modules.get("genmodels")

    class FakeIPython:
        def run_line_magic(self, name: str, line: str) -> None:
            calls.append((name, line))
            sys.modules["genmodels"] = saved  # "installed"

    if not importable:
        sys.modules["genmodels"] = None  # `import genmodels` raises ImportError
    try:
        exec(code, {"get_ipython": FakeIPython})
    finally:
        sys.modules["genmodels"] = saved
    return calls


def test_the_install_cell_installs_only_when_genmodels_is_missing():
    assert _run_install_cell(importable=True) == []
    assert _run_install_cell(importable=False) == [
        ("pip", 'install --quiet "genmodels @ git+https://github.com/x/course@main"')
    ]
    assert repository.TAGS[0] == "remove-cell"  # the book (and the slides) leave it out
