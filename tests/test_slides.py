"""The slide builder (genmodels.slides) and the offline assets (genmodels.vendor), without network or a book build."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from genmodels import slides, vendor

ROOT = Path(__file__).resolve().parents[1]


def png(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def figure_cell(source: str = "plot()", width: int = 800, height: int = 400, **metadata):
    cell = nbformat.v4.new_code_cell(source, metadata=metadata)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png(width, height), "text/plain": "<Figure>"})]
    return cell


LONG = "A long explanation of the idea, sentence after sentence. " * 8  # > SHORT_PROSE characters


def planned(cells):
    nb = nbformat.v4.new_notebook(cells=cells)
    return [(c.metadata["slideshow"]["slide_type"], c) for c in slides.plan_slides(nb).cells]


# ----------------------------------------------------------------------------- MyST -> Markdown
def test_clean_myst_roles_and_directives():
    text = "\n".join([
        "(sec-vae)=",
        "As {cite:p}`kingma2014, rezende2014` show, and {cite:t}`kingma2014` wrote, the {term}`ELBO <evidence lower bound>`",
        "bounds $\\log p(x)$; see {ref}`the KL section <sec-kl>` and {numref}`fig-x`.",
        "$$ a = b $$ (eq-ab)",
        "```{note} Careful",
        "The KL term is not a distance.",
        "```",
        "```{exercise} Where does the KL go?",
        ":label: ch03-ex",
        "Compute it per unit.",
        "```",
        "```{solution} ch03-ex",
        "The answer.",
        "```",
    ])
    cites = {"kingma2014": "Kingma and Welling, 2014", "rezende2014": "Rezende et al., 2014"}
    out = slides.clean_myst(text, cites)
    assert "[Kingma and Welling, 2014; Rezende et al., 2014] show" in out
    assert "Kingma and Welling [2014] wrote" in out
    assert "the ELBO\nbounds $\\log p(x)$" in out and "see the KL section and fig-x." in out
    assert "$$ a = b $$" in out and "eq-ab" not in out and "(sec-vae)=" not in out
    assert "\n\n> **Careful.** The KL term is not a distance.\n\n" in out
    assert "**Exercise: Where does the KL go?**" in out and "Compute it per unit." in out and ":label:" not in out
    assert "The answer." not in out and "{" not in out


def test_drop_solutions_spans_cells():
    first, inside = slides.drop_solutions("Try it.\n```{solution-start} ex1\n```", False)
    assert first.strip() == "Try it." and inside
    second, inside = slides.drop_solutions("```{solution-end}\n```\nNext topic.", inside)
    assert second.strip() == "Next topic." and not inside


# ----------------------------------------------------------------------------- slide structure
def test_headings_notes_and_skipped_cells():
    cells = [
        nbformat.v4.new_markdown_cell("# 3. Variational autoencoders\n\n" + LONG),
        nbformat.v4.new_code_cell("import torch"),                                   # the set-up cell
        nbformat.v4.new_markdown_cell("## The loss\n\n" + LONG + "\n\n$$\n\\mathcal{L} = -\\mathrm{ELBO}\n$$\n\nMore words."),
        figure_cell(),
        nbformat.v4.new_code_cell("secret()", metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_markdown_cell("Only in the book.", metadata={"tags": ["book-only"]}),
        nbformat.v4.new_markdown_cell("### A detail\n\nShort text."),
        nbformat.v4.new_markdown_cell("Hidden by the author.", metadata={"slideshow": {"slide_type": "skip"}}),
        nbformat.v4.new_markdown_cell("Shown as a fragment.", metadata={"slideshow": {"slide_type": "fragment"}}),
    ]
    plan = planned(cells)
    sources = [c.source for _, c in plan]
    assert plan[0][0] == "slide" and plan[0][1].source == "# 3. Variational autoencoders"
    assert ("notes", LONG.strip()) in [(t, c.source) for t, c in plan]                  # the intro is spoken
    assert not any("import torch" in s or "secret" in s or "Only in the book" in s or "Hidden" in s for s in sources)
    loss = next(i for i, (_, c) in enumerate(plan) if c.source == "## The loss")
    assert plan[loss][0] == "slide"
    assert plan[loss + 1] == ("-", plan[loss + 1][1]) and plan[loss + 1][1].source.startswith("$$")  # equation shown
    assert plan[loss + 2][0] == "notes" and "More words." in plan[loss + 2][1].source
    assert ("subslide", "### A detail") in [(t, c.source) for t, c in plan]
    assert ("fragment", "Shown as a fragment.") in [(t, c.source) for t, c in plan]


def test_second_figure_continues_on_a_subslide_with_its_lead():
    cells = [
        nbformat.v4.new_code_cell("import torch"),  # the set-up cell stays in the book
        nbformat.v4.new_markdown_cell("## Samples"),
        figure_cell("plot(a)"),
        nbformat.v4.new_markdown_cell("Now the same with noise:"),
        figure_cell("plot(b)"),
    ]
    plan = planned(cells)
    assert [t for t, _ in plan] == ["slide", "-", "subslide", "-", "-"]
    assert plan[2][1].source == "### Samples" and plan[3][1].source == "Now the same with noise:"


def test_long_code_is_left_in_the_book_and_big_figures_shrink():
    long_code = "\n".join(f"x{i} = {i}" for i in range(40))
    cells = [nbformat.v4.new_code_cell("import torch"), nbformat.v4.new_markdown_cell("## Big"),
             figure_cell(long_code, 1000, 2000),
             nbformat.v4.new_code_cell(long_code)]  # no output, long code: nothing to show
    plan = planned(cells)
    assert len(plan) == 2
    code = plan[1][1]
    assert code.metadata["transient"] == {"remove_source": True}
    width = code.outputs[0].metadata["image/png"]["width"]
    assert width * 2 <= slides.SLIDE_HEIGHT  # scaled so that its height fits a slide
    assert "image/png" not in cells[2].outputs[0].get("metadata", {})  # the book's notebook is untouched


def test_deck_html_is_offline_with_notes():
    cells = [nbformat.v4.new_markdown_cell("# A chapter\n\n" + LONG), nbformat.v4.new_code_cell("import torch"),
             nbformat.v4.new_markdown_cell("## Math: $x^2$"), figure_cell()]
    planned_nb = slides.plan_slides(nbformat.v4.new_notebook(cells=cells), book_page="../html/chapters/a.html")
    html, _ = slides._exporter().from_notebook_node(planned_nb, resources={"metadata": {"name": "a"}})
    remote = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']((?:https?:)?//[^"']+)""", html)
    assert remote == [], remote
    for local in ("vendor/requirejs/require.js", "vendor/mathjax/es5/tex-mml-chtml.js",
                  "vendor/reveal.js/dist/reveal.js", "vendor/reveal.js/plugin/notes/notes.js",
                  "vendor/reveal.js/dist/theme/white.css"):
        assert local in html
    assert '<aside class="notes">' in html and "mermaid" not in html and "../html/chapters/a.html" in html
    assert html.count("<section") >= 3


def test_chapter_sources_follow_the_toc():
    sources = slides.chapter_sources(ROOT)
    assert sources and all((ROOT / f"{s}.ipynb").is_file() for s in sources)
    assert all(s.startswith("chapters/") for s in sources)  # the book's own pages (book/*.md) get no deck


def test_build_slides_asks_for_the_book_build(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: ch1\n")
    (tmp_path / "intro.md").write_text("# Intro\n")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "ch1.ipynb")
    with pytest.raises(FileNotFoundError, match="build the book first"):
        slides.build_slides(tmp_path)


# ----------------------------------------------------------------------------- vendored assets
def npm_tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_extract_keeps_wanted_files_only(tmp_path):
    package = vendor.NpmPackage("demo", "1.0.0", "", "demo", keep=("dist/*", "LICENSE"), drop=("*.map",))
    data = npm_tarball({"package/dist/a.js": b"a", "package/dist/a.js.map": b"m", "package/src/b.js": b"b",
                        "package/LICENSE": b"MIT", "package/../../evil.js": b"x"})
    assert vendor._extract(package, data, tmp_path) == 2
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == ["LICENSE", "dist/a.js"]


def test_tarball_must_match_the_pinned_hash(monkeypatch):
    good = npm_tarball({"package/x.js": b"x"})
    package = vendor.NpmPackage("demo", "1.0.0", sri(good), "demo", keep=("*",))
    answers = {"meta": json.dumps({"dist": {"integrity": sri(good), "tarball": "https://registry.example/demo.tgz"}})}
    monkeypatch.setattr(vendor, "_get", lambda url, **_: answers["meta"].encode() if url.endswith("/1.0.0") else answers["tgz"])
    answers["tgz"] = good
    assert vendor._fetch_tarball(package) == good
    answers["tgz"] = npm_tarball({"package/x.js": b"tampered"})
    with pytest.raises(RuntimeError, match="does not match"):
        vendor._fetch_tarball(package)
    answers["meta"] = json.dumps({"dist": {"integrity": "sha512-other", "tarball": "https://registry.example/demo.tgz"}})
    with pytest.raises(RuntimeError, match="pinned"):
        vendor._fetch_tarball(package)


def test_vendor_assets_downloads_once(monkeypatch, tmp_path):
    data = npm_tarball({"package/dist/a.js": b"a"})
    package = vendor.NpmPackage("demo", "1.0.0", sri(data), "demo", keep=("dist/*",))
    calls = []
    monkeypatch.setattr(vendor, "PACKAGES", (package,))
    monkeypatch.setattr(vendor, "_fetch_tarball", lambda p: calls.append(p.name) or data)
    assert vendor.vendor_assets(tmp_path, quiet=True) == {"demo": len(data)}
    assert vendor.vendor_assets(tmp_path, quiet=True) == {} and calls == ["demo"]
    assert (tmp_path / "demo" / "dist" / "a.js").read_bytes() == b"a"
    assert (tmp_path / vendor.WIDGETS_SHIM_NAME).read_text() == vendor.WIDGETS_SHIM
