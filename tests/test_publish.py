"""genmodels.publish: the slide planner and builder, the offline assets, and the wall between it and the course.

No network, no book build and no browser (tests/browser checks the built decks in Chromium)."""

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

from genmodels import npm
from genmodels.publish import myst, plan, slides, vendor

ROOT = Path(__file__).resolve().parents[1]


def png(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def figure_cell(source: str = "plot()", width: int = 800, height: int = 400, **metadata):
    cell = nbformat.v4.new_code_cell(source, metadata=metadata)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png(width, height), "text/plain": "<Figure>"})]
    return cell


LONG = "A long explanation of the idea, sentence after sentence. " * 8  # more than plan.SHORT_WORDS words


def planned(cells):
    nb = nbformat.v4.new_notebook(cells=cells)
    return [(c.metadata["slideshow"]["slide_type"], c) for c in plan.plan_slides(nb).cells]


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
    out = myst.clean_myst(text, cites)
    assert "[Kingma and Welling, 2014; Rezende et al., 2014] show" in out
    assert "Kingma and Welling [2014] wrote" in out
    assert "the ELBO\nbounds $\\log p(x)$" in out and "see the KL section and fig-x." in out
    assert "$$ a = b $$" in out and "eq-ab" not in out and "(sec-vae)=" not in out
    assert "\n\n> **Careful.** The KL term is not a distance.\n\n" in out
    assert "**Exercise: Where does the KL go?**" in out and "Compute it per unit." in out and ":label:" not in out
    assert "The answer." not in out and "{" not in out


def test_drop_solutions_spans_cells():
    first, inside = myst.drop_solutions("Try it.\n```{solution-start} ex1\n```", False)
    assert first.strip() == "Try it." and inside
    second, inside = myst.drop_solutions("```{solution-end}\n```\nNext topic.", inside)
    assert second.strip() == "Next topic." and not inside


# ----------------------------------------------------------------------------- slide structure
def md(source, **metadata):
    return nbformat.v4.new_markdown_cell(source, metadata=metadata)


def chapter(*cells):
    """A chapter as the book has them: title and intro, the set-up cell, then the given cells."""
    return [md("# 3. Variational autoencoders\n\n" + LONG), nbformat.v4.new_code_cell("import torch"), *cells]


def slides_of(plan_):
    """[(slide_type, [sources shown], notes)] per slide."""
    out = []
    for kind, cell in plan_:
        if kind in ("slide", "subslide"):
            out.append((kind, [cell.source], ""))
        elif kind == "notes":
            out[-1] = (out[-1][0], out[-1][1], out[-1][2] + cell.source)
        else:
            out[-1][1].append(cell.source)
    return out


def test_title_slide_has_number_title_and_outline_and_speaks_the_intro():
    plan_ = planned(chapter(md("## The loss\n\nShort."), md("## The latent space"), figure_cell(),
                            md("## Summary\n\n* One point: details.")))
    kind, shown, notes = slides_of(plan_)[0]
    assert kind == "slide" and "Chapter 3" in shown[0] and "# Variational autoencoders" in shown[0]
    assert "1. The loss\n2. The latent space" in shown[0] and "Summary" not in shown[0]
    assert notes == LONG.strip() and not any("import torch" in s for s in shown)


def test_prose_is_spoken_equations_and_short_lines_shown_derivations_unfold():
    eq = ["$$\na = b\n$$", "$$\nb = c\n$$", "$$\nc = d\n$$", "$$\nd = e\n$$"]
    plan_ = planned(chapter(md("## The loss\n\n" + LONG + "\n\n" + "\n\n".join(eq) + "\n\nA short line.")))
    loss = [s for s in slides_of(plan_) if s[1][0] == "## The loss"]
    assert [k for k, *_ in loss] == ["slide", "subslide"]               # a fourth equation opens a sub-slide
    assert loss[0][1][1:] == eq[:3] and LONG.strip() in loss[0][2]
    kinds = [k for k, c in plan_ if c.source in eq]
    assert kinds == ["-", "fragment", "fragment", "-"]                  # the derivation unfolds
    assert loss[1][1][1:] == [eq[3], "A short line."]


def test_code_only_where_chosen_print_outs_to_notes_one_figure_per_slide():
    printed = nbformat.v4.new_code_cell("print(3)")
    printed.outputs = [nbformat.v4.new_output("stream", name="stdout", text="accuracy: 0.93\n")]
    plan_ = planned(chapter(md("## Samples"), figure_cell("plot(a)"), printed, figure_cell("plot(b)"),
                            figure_cell("step(x)", tags=["slide-code"])))
    code = [c for k, c in plan_ if c.cell_type == "code"][1:]   # the first: the title slide shows the last figure
    assert [c.metadata.get("transient", {}).get("remove_source", False) for c in code] == [True, True, False]
    samples = slides_of(plan_)[1:]
    assert [k for k, *_ in samples] == ["slide", "subslide", "subslide"]
    assert all(s[1][0] == "## Samples" for s in samples)               # the title carries over
    assert "accuracy: 0.93" in samples[0][2] and not any("accuracy" in c.source for c in code)
    assert "image/png" not in cells_metadata(code)                      # deck.js sizes the figures, not the plan


def test_a_figure_with_a_formula_speaks_its_sentences_but_keeps_curated_lines():
    plan_ = planned(chapter(md("## Training\n\nThe loss along training.\n\n$$\n\\mathcal{L} = 1\n$$"),
                            md("* curated", tags=["remove-cell", "slide-only"]), figure_cell()))
    kind, shown, notes = slides_of(plan_)[1]
    assert shown[1:3] == ["$$\n\\mathcal{L} = 1\n$$", "* curated"] and "The loss along training." in notes


def cells_metadata(cells):
    return {key for c in cells for o in c.outputs for key in o.get("metadata", {})}


def test_closing_slide_summary_and_homework():
    exercise = "```{exercise} Where does the KL go?\n:label: ex1\nCompute it per unit.\n```"
    plan_ = planned(chapter(md("## Summary\n\n* The VAE maximizes the ELBO: a bound on $\\log p(x)$.\n"
                               "* The KL term has a closed form; the reconstruction term does not."),
                            md("## Exercises\n\n" + exercise)))
    kind, shown, notes = slides_of(plan_)[-1]
    assert kind == "slide" and "Summary and homework" in shown[0]
    assert "* The VAE maximizes the ELBO\n* The KL term has a closed form" in shown[0]
    assert "1. Where does the KL go?" in shown[0] and "Compute it per unit." in notes


def test_slide_only_book_only_and_jupyter_slide_types():
    plan_ = planned(chapter(
        md("## Idea\n\n" + LONG),
        md("* curated bullet one\n* curated bullet two", tags=["remove-cell", "slide-only"]),
        md("Only in the book.", tags=["book-only"]),
        md("Hidden by the author.", slideshow={"slide_type": "skip"}),
        md("Shown as a fragment.", slideshow={"slide_type": "fragment"}),
        nbformat.v4.new_code_cell("secret()", metadata={"tags": ["remove-cell"]})))
    sources = [c.source for _, c in plan_]
    assert "* curated bullet one\n* curated bullet two" in sources
    assert not any("Only in the book" in s or "Hidden" in s or "secret" in s for s in sources)
    assert ("fragment", "Shown as a fragment.") in [(k, c.source) for k, c in plan_]


def test_words_and_first_clause():
    assert myst.words("The $\\mathcal{L}$ loss, **twice**.") == 4   # "The", the formula, "loss", "twice"
    assert myst.first_clause("A GAN trains two networks: a generator and a discriminator.") == "A GAN trains two networks"
    assert myst.first_clause("It uses $a: b$ maps; the rest") == "It uses $a: b$ maps"
    long = "A decoder $p(x \\mid y, z)$ that draws " + "many words " * 10 + ", and more, and more"
    assert myst.first_clause(long, 12) == "A decoder $p(x \\mid y, z)$ that draws " + ("many words " * 10).strip()
    assert myst.markdown_blocks("## T\n\ntext\n\n$$\nx\n$$\n* a\n* b") == [
        ("heading", "## T"), ("para", "text"), ("math", "$$\nx\n$$"), ("list", "* a\n* b")]


def test_deck_html_is_offline_with_notes_and_packaged_assets():
    cells = chapter(md("## Math: $x^2$"), figure_cell())
    planned_nb = plan.plan_slides(nbformat.v4.new_notebook(cells=cells), book_page="../html/chapters/a.html")
    html, _ = slides.exporter().from_notebook_node(planned_nb, resources={"metadata": {"name": "a"}})
    remote = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']((?:https?:)?//[^"']+)""", html)
    assert remote == [], remote
    for local in ("vendor/requirejs/require.js", "vendor/mathjax/es5/tex-mml-chtml.js", 'data-reveal="vendor/reveal.js"',
                  "deck.js", "deck.css", "vendor/reveal.js/dist/theme/white.css"):
        assert local in html
    assert '<aside class="notes">' in html and "mermaid" not in html and "../html/chapters/a.html" in html
    assert html.count("<section") >= 3
    deck_js = (slides.ASSETS / "deck.js").read_text()
    assert "pdfSeparateFragments: false" in deck_js and 'slideNumber: "c/t"' in deck_js  # one PDF page per slide


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


def test_count_pages_without_pypdf():
    from genmodels.publish import pdf

    fake = b"%PDF-1.4 1 0 obj << /Type /Pages /Count 2 >> 2 0 obj << /Type /Page >> 3 0 obj <</Type/Page>>"
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", fake)) == 2
    assert pdf.WIDTH / pdf.HEIGHT == pytest.approx(1100 / 760)


# ----------------------------------------------------------------------------- the wall between course and publishing
COURSE = ROOT / "src" / "genmodels"


def test_course_modules_never_import_publish():
    """No module the chapters teach imports genmodels.publish, statically or when imported."""
    import ast
    import subprocess
    import sys

    offenders = []
    for path in COURSE.rglob("*.py"):
        if "publish" in path.relative_to(COURSE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, (ast.Import, ast.ImportFrom)) else []
            module = getattr(node, "module", None) or ""
            if isinstance(node, ast.ImportFrom) and ("publish" in module.split(".") or "publish" in names):
                offenders.append(f"{path.name}: from {'.' * node.level}{module} import {names}")
            elif isinstance(node, ast.Import) and any("publish" in n.split(".") for n in names):
                offenders.append(f"{path.name}: import {names}")
    for notebook in (ROOT / "chapters").glob("*.ipynb"):
        code = "\n".join(line for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"
                         for line in c.source.splitlines() if not line.lstrip().startswith("#"))  # not comments
        if re.search(r"genmodels\.publish|from genmodels import[^\n]*\bpublish\b", code):
            offenders.append(notebook.name)
    assert not offenders, offenders
    modules = sorted(".".join(p.relative_to(COURSE.parent).with_suffix("").parts) for p in COURSE.rglob("*.py")
                     if "publish" not in p.parts and p.name not in ("__main__.py",))
    probe = ("import importlib, sys\n"
             f"for m in {[m.removesuffix('.__init__') for m in modules]!r}: importlib.import_module(m)\n"
             "print([m for m in sys.modules if m.startswith('genmodels.publish')])")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_publish_assets_are_package_data_not_strings():
    assets = {p.name for p in (COURSE / "publish" / "assets").iterdir()}
    assert {"deck.js", "deck.css", "deck.html.j2", "index.html", "widgets-offline.js"} <= assets
    for path in (COURSE / "publish").glob("*.py"):
        source = path.read_text()
        assert not re.search(r"<script|<style|function \(|\{%-? ?block", source), f"{path.name} holds HTML or JS"
        assert len(source.splitlines()) <= 300, f"{path.name} is over 300 lines"
    pyproject = (ROOT / "pyproject.toml").read_text()
    package_data = pyproject.split("[tool.setuptools.package-data]")[1].split("\n[")[0]
    assert all(f'"**/*.{ext}"' in package_data for ext in ("js", "css", "html", "j2")) and "publish = [" in pyproject


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
    assert npm.extract(package, data, tmp_path) == 2
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == ["LICENSE", "dist/a.js"]


def test_tarball_must_match_the_pinned_hash(monkeypatch):
    good = npm_tarball({"package/x.js": b"x"})
    package = vendor.NpmPackage("demo", "1.0.0", sri(good), "demo", keep=("*",))
    answers = {"meta": json.dumps({"dist": {"integrity": sri(good), "tarball": "https://registry.example/demo.tgz"}})}
    monkeypatch.setattr(npm, "_get", lambda url, **_: answers["meta"].encode() if url.endswith("/1.0.0") else answers["tgz"])
    answers["tgz"] = good
    assert npm.fetch_tarball(package) == good
    answers["tgz"] = npm_tarball({"package/x.js": b"tampered"})
    with pytest.raises(RuntimeError, match="does not match"):
        npm.fetch_tarball(package)
    answers["meta"] = json.dumps({"dist": {"integrity": "sha512-other", "tarball": "https://registry.example/demo.tgz"}})
    with pytest.raises(RuntimeError, match="pinned"):
        npm.fetch_tarball(package)


def test_vendor_assets_downloads_once(monkeypatch, tmp_path):
    data = npm_tarball({"package/dist/a.js": b"a"})
    package = vendor.NpmPackage("demo", "1.0.0", sri(data), "demo", keep=("dist/*",))
    calls = []
    monkeypatch.setattr(vendor, "PACKAGES", (package,))
    monkeypatch.setattr(npm, "fetch_tarball", lambda p: calls.append(p.name) or data)
    assert vendor.vendor_assets(tmp_path, quiet=True) == {"demo": len(data)}
    assert vendor.vendor_assets(tmp_path, quiet=True) == {} and calls == ["demo"]
    assert (tmp_path / "demo" / "dist" / "a.js").read_bytes() == b"a"
    assert (tmp_path / vendor.WIDGETS_SHIM_NAME).read_text() == vendor.WIDGETS_SHIM


def test_parallel_build_jobs_and_chunks():
    from genmodels.publish.parallel import build_jobs, one_document_per_chunk

    assert build_jobs("auto", cpu_count=2) == 2
    assert build_jobs(None, cpu_count=64) == 6      # capped: each job holds a kernel
    assert build_jobs(3, cpu_count=2) == 3          # an explicit number is taken as given
    with pytest.raises(ValueError, match="positive integer or 'auto'"):
        build_jobs(0)
    with pytest.raises(ValueError, match="positive integer or 'auto'"):
        build_jobs("many")
    docs = ["book/intro", "chapters/01_a", "chapters/12_b", "chapters/05_c"]
    chunks = one_document_per_chunk(docs, nproc=2)
    assert chunks[0] == ["chapters/12_b"] and sorted(sum(chunks, [])) == sorted(docs)
    assert all(len(chunk) == 1 for chunk in chunks)


def test_the_book_config_loads_the_parallel_build_and_no_serial_only_extension():
    import yaml

    config = yaml.safe_load(open(ROOT / "_config.yml"))
    assert "genmodels.publish.parallel" in config["sphinx"]["extra_extensions"]
    assert config["latex"]["use_jupyterbook_latex"] is False


def test_a_parallel_build_keeps_each_chapter_to_one_training_process(monkeypatch):
    from types import SimpleNamespace

    from genmodels.publish.parallel import _set_jobs

    import sphinx.builders

    monkeypatch.setattr(sphinx.builders, "make_chunks", sphinx.builders.make_chunks)   # restored afterwards
    monkeypatch.delenv("GENMODELS_TRAIN_PROCESSES", raising=False)
    app = SimpleNamespace(parallel=3, extensions={})
    _set_jobs(app, SimpleNamespace(genmodels_build_jobs="auto"))
    import os

    assert os.environ["GENMODELS_TRAIN_PROCESSES"] == "1"
    monkeypatch.delenv("GENMODELS_TRAIN_PROCESSES")
    _set_jobs(SimpleNamespace(parallel=1, extensions={}), SimpleNamespace(genmodels_build_jobs=1))
    assert "GENMODELS_TRAIN_PROCESSES" not in os.environ   # a serial build leaves the chapters free to prefetch
