"""The built book and slides in a real browser: headless Chromium, served from 127.0.0.1, no network.

Runs only with ``GENMODELS_BROWSER_TEST=1``, after the README's build command (CI does both); the plain
unit-test command skips this file. When switched on, a missing build, Playwright or Chromium is a failure.

For every page of ``_toc.yml``: it loads with HTTP 200 for everything it asks for, no request leaves
127.0.0.1 (each is recorded and aborted), no console error beyond the known noise in ``HARMLESS``, every
MathJax expression is rendered (no unprocessed ``.math`` node, no TeX error), every image has loaded, every
saved widget view has rendered; every explorer (precomputed pictures switched with ``jslink``) changes its
picture when one of its sliders or toggle buttons is moved from the keyboard. Every live explorer (a network
run in the page by onnxruntime-web) starts, computes the PyTorch pictures of the fixed points the build wrote
to ``_build/explorer-checks/`` within 1e-4 (decoder and encoder), follows the arrow keys and a mouse drag of a few
pixels, encodes a stroke drawn on its pad with the mouse and with the keyboard (the latent plane), or follows
the number keys, label buttons and 'new noise' with the same style under all ten labels (CVAE and conditional
GAN; chapter 8's AC-GAN: the same attribute request, the pad's axes read out by name); the latent plane's path mode decodes the build's line as PyTorch does and follows two clicks and the keys;
the diffusion explorer runs the build's DDIM process as PyTorch does and follows its slider and keys; the
style-mixing explorer mixes the build's sources at every crossover as PyTorch does and follows its slider, source
buttons and 'resample noise'; each
has a text alternative, and draws a decoded digit (ten for the conditional ones) in a median of at most
16 ms; a page without one loads none of its code. For every deck in
``_build/slides``: reveal.js starts (``.reveal.ready``) with its speaker-notes plugin, the same request,
console, math and image checks hold, and its explorers respond too.

    GENMODELS_BROWSER_TEST=1 .venv/bin/python -m pytest tests/browser -n 0

``GENMODELS_BOOK_ROOT`` points at another book root (with ``_toc.yml`` and ``_build/``);
``GENMODELS_CHROMIUM`` at another Chromium binary (default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

if os.environ.get("GENMODELS_BROWSER_TEST") != "1":
    pytest.skip("browser test of the built book: build it (README), then set GENMODELS_BROWSER_TEST=1 "
                "(CI does)", allow_module_level=True)

from genmodels.publish.slides import chapter_sources  # noqa: E402  (after the skip: needs only the toc)

ROOT = Path(os.environ.get("GENMODELS_BOOK_ROOT", Path(__file__).resolve().parents[2]))
BUILD = ROOT / "_build"

# Console messages that are not ours to fix, each with the reason it is harmless.
HARMLESS = {
    "Identifier 'THEBE_JS_URL' has already been declared": "sphinx-thebe's config script is included twice by "
    "Jupyter Book; thebe itself is off (launch_buttons.thebe: false) and never loads",
    "Got invalid theme mode": "pydata-sphinx-theme on a first visit (empty localStorage) falls back to 'auto'",
}


def _toc_pages() -> list[str]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())

    def files(node) -> list[str]:
        if isinstance(node, dict):
            return ([node["file"]] if "file" in node else []) + [
                f for key, value in node.items() if key != "file" for f in files(value)]
        return [f for item in node for f in files(item)] if isinstance(node, list) else []

    return [str(Path(f).with_suffix("")) for f in [toc["root"]] + files({k: v for k, v in toc.items() if k != "root"})]


PAGES = _toc_pages()
CHAPTERS = {Path(source).name: source for source in chapter_sources(ROOT)}  # deck name -> page
DECKS = list(CHAPTERS)
REPORT: dict = {"pages": {}, "decks": {}, "lectures": {}, "explorers": [], "live": [], "blocked_requests": []}


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module", autouse=True)
def _share_report(request):
    request.config.genmodels_browser_report = REPORT  # conftest.py prints it at the end
    REPORT["started"] = time.time()


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        if self.path == "/favicon.ico":  # the browser asks for it by itself; the book has none
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()


@pytest.fixture(scope="module")
def server():
    for needed in (BUILD / "html" / "index.html", BUILD / "slides" / "index.html"):
        if not needed.is_file():
            pytest.fail(f"{needed} is missing: build the book and the slides first (the README's build command)")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(BUILD)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is not installed (pip install -r requirements.txt)")
    executable = os.environ.get("GENMODELS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).is_file():
        pytest.fail(f"no Chromium at {executable}: apt-get install -y chromium (or set GENMODELS_CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


class Visit:
    """One page in a fresh browser context, with everything it asked for and everything it complained about."""

    def __init__(self, browser, base: str, path: str):
        self.base, self.external, self.failed, self.errors, self.requested = base, [], [], [], []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        self.page.on("requestfailed", self._request_failed)
        self.page.on("request", lambda r: self.requested.append(r.url))
        self.page.goto(base + path, wait_until="load")

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base):
            route.continue_()
        else:
            self.external.append(url)
            REPORT["blocked_requests"].append(url)
            route.abort()

    def _request_failed(self, request):
        if request.url.startswith(self.base):
            self.failed.append(f"failed {request.url} ({request.failure})")

    def close(self):
        self.context.close()

    def real_errors(self) -> list[str]:
        return [e for e in self.errors if not any(noise in e for noise in HARMLESS)
                and not e.startswith("Failed to load resource")]  # those are in self.failed, with their URL


def _settle(page) -> None:
    """Wait for MathJax's first typeset, the widget views and every image."""
    page.wait_for_function("() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)", timeout=30_000)
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => true) : true")
    page.wait_for_function("""() => {
        const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
        for (const v of views) if (!v.parentElement.querySelector('.jupyter-widgets, .genmodels-explorer')) return false;
        return Array.from(document.images).every(i => i.complete);
    }""", timeout=60_000)


MATH_STATE = r"""() => ({
    rendered: document.querySelectorAll('mjx-container').length,
    tex_errors: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent).slice(0, 5),
    unrendered: Array.from(document.querySelectorAll('.math')).filter(m => !m.querySelector('mjx-container'))
                     .map(m => m.textContent.slice(0, 60)).slice(0, 5),
    stray_tex: (() => {  // "$", "\(" or "\[" left in the text outside code: math that the Markdown parser broke
        const found = [], skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .jupyter-widgets, .genmodels-explorer';
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (/\$|\\\(|\\\[/.test(node.textContent) && !node.parentElement.closest(skip)) {
                found.push(node.textContent.trim().slice(0, 80));
            }
        }
        return found.slice(0, 5);
    })(),
})"""

IMAGES = """() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))
                   .map(i => i.currentSrc.slice(0, 80) || '(no src)')"""


def _common_checks(visit: Visit) -> dict:
    _settle(visit.page)
    math = visit.page.evaluate(MATH_STATE)
    broken_images = visit.page.evaluate(IMAGES)
    problems = []
    if visit.external:
        problems.append(f"requests that left 127.0.0.1: {visit.external[:5]}")
    if visit.failed:
        problems.append(f"failed requests: {visit.failed[:5]}")
    if visit.real_errors():
        problems.append(f"console errors: {visit.real_errors()[:5]}")
    if math["tex_errors"] or math["unrendered"] or math["stray_tex"]:
        problems.append(f"math not rendered: {math}")
    if broken_images:
        problems.append(f"images not loaded: {broken_images[:5]}")
    assert not problems, "; ".join(problems)
    return {"math": math["rendered"], "images": visit.page.evaluate("document.images.length")}


# ----------------------------------------------------------------------------- explorers
def _explorer_roots(page):
    """Top-level widget views that hold pictures and at least one slider or toggle-button control."""
    return [root for root in page.locator(".widget-subarea > .jupyter-widgets").all()
            if root.locator("img").count() and root.locator(".noUi-handle, .widget-toggle-button").count()]


PICTURE = """async (root) => {
    const sums = [];
    for (const img of root.querySelectorAll('img')) {
        const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
        let h = bytes.length;
        for (let i = 0; i < bytes.length; i++) h = (h * 31 + bytes[i]) >>> 0;
        sums.push(h);
    }
    return sums.join(',');
}"""


def _move(page, root, control) -> str:
    """Move one control from the keyboard; returns what was done."""
    if "noUi-handle" in (control.get_attribute("class") or ""):
        control.focus()
        before = control.get_attribute("aria-valuenow")
        page.keyboard.press("ArrowRight" if before != control.get_attribute("aria-valuemax") else "ArrowLeft")
        return f"slider {before} -> {control.get_attribute('aria-valuenow')}"
    buttons = root.locator(".widget-toggle-button")
    target = next(b for b in buttons.all() if "mod-active" not in (b.get_attribute("class") or ""))
    target.focus()
    page.keyboard.press("Space")
    return f"toggle -> {target.inner_text()}"


def _check_explorers(page, where: str, show=None) -> int:
    """Every control of every explorer on the page, moved from the keyboard, must change the picture."""
    roots = _explorer_roots(page)
    for number, root in enumerate(roots):
        if show:
            show(root)
        controls = root.locator(".noUi-handle").all()
        toggles = root.locator(".widget-toggle-buttons")
        controls += [toggles.nth(i) for i in range(toggles.count())]
        moves = []
        for control in controls:
            before = root.evaluate(PICTURE)
            move = _move(page, root, control)
            deadline = time.monotonic() + 10
            while root.evaluate(PICTURE) == before:
                assert time.monotonic() < deadline, f"{where}, explorer {number}: {move} did not change the picture"
                page.wait_for_timeout(100)
            moves.append(move)
        REPORT["explorers"].append({"where": where, "explorer": number, "moves": moves})
    return len(roots)


# ----------------------------------------------------------------------------- live explorers (ONNX in the page)
LIVE_CODE = ("onnxruntime-web/", "anywidget/", "/explorers/")  # what only a page with a live explorer may load
MAX_PIXEL_ERROR = 1e-4       # the page's picture against PyTorch's, per pixel (pixel means in [0, 1])
MAX_MEDIAN_MS = 16.0         # one decode plus draw: 60 frames per second while dragging


def _slide(page) -> str:
    """Which slide the deck shows ('' outside the slides): a key meant for an explorer must not change it."""
    return page.evaluate("() => window.Reveal ? JSON.stringify(Reveal.getIndices()) : ''")


def _arrow_right_moves_z1(page, root, where: str, lim: float, slide: str) -> None:
    """ArrowRight on the focused plane moves the point by 4% of the range along z_1 only, redraws, keeps the slide."""
    before, start = root.evaluate("(el) => el.explorer.picture()"), root.evaluate("(el) => el.explorer.point()")
    page.keyboard.press("ArrowRight")
    _wait_for_change(root, before, f"{where}: ArrowRight")
    moved = root.evaluate("(el) => el.explorer.point()")
    assert abs(moved[0] - start[0] - 0.04 * lim) < 1e-6 and moved[1] == start[1], f"{where}: {start} -> {moved}"
    assert _slide(page) == slide, f"{where}: the arrow key also changed the slide"


def _wait_for_change(root, before: str, what: str) -> None:
    deadline = time.monotonic() + 10
    while root.evaluate("async (el) => { await el.explorer.settled(); return el.explorer.picture(); }") == before:
        assert time.monotonic() < deadline, f"{what} did not change the decoded picture"
        time.sleep(0.05)


def _check_live_explorer(page, root, where: str) -> dict:
    """Agreement with PyTorch, keyboard, mouse, text alternative and timing of one live explorer."""
    root.evaluate("(el) => el.explorer.ready")
    if root.get_attribute("data-explorer") == "diffusion":
        return _check_diffusion(page, root, where)
    if root.get_attribute("data-explorer") == "style":
        return _check_style(page, root, where)
    name = root.evaluate("(el) => el.explorer.decoderFile")
    check_file = BUILD / "explorer-checks" / name.replace(".onnx", ".json")
    assert name and check_file.is_file(), f"{where}: no check points {check_file} for the explorer's model {name!r}"
    check = json.loads(check_file.read_text())
    got = root.evaluate("(el, c) => el.explorer.decode(c.points, c.labels)", check)   # labels: conditional only
    expected = [v for row in check["pixels"] for v in row]
    assert len(got) == len(expected), f"{where}: {len(got)} pixels from the page for {len(expected)} expected"
    error = max(abs(a - b) for a, b in zip(got, expected))
    assert error <= MAX_PIXEL_ERROR, f"{where}: the page's decoder differs from PyTorch's by {error:.2e}"
    if root.get_attribute("data-explorer") == "conditional":
        return _check_conditional(page, root, where, error)

    plane = root.locator("canvas[role=slider]")
    lim = root.evaluate("(el) => el.explorer.lim")
    caption, label = root.locator("p").first.inner_text(), plane.get_attribute("aria-label")
    assert "arrow keys" in caption and label, f"{where}: no text alternative ({caption!r}, {label!r})"
    slide = _slide(page)
    plane.focus()
    _arrow_right_moves_z1(page, root, where, lim, slide)
    assert "z = (" in root.inner_text(), f"{where}: the point is not read out as text"
    assert "Path mode" in caption, f"{where}: the text alternative does not explain path mode"

    box = plane.bounding_box()
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6
    page.mouse.move(x, y)
    page.mouse.down()
    page.wait_for_timeout(50)
    before = root.evaluate("async (el) => { await el.explorer.settled(); return el.explorer.picture(); }")
    page.mouse.move(x + 3, y, steps=3)  # a few pixels: far less than the old grid's step (1/10 of the plane)
    page.mouse.up()
    _wait_for_change(root, before, f"{where}: a 3-pixel drag")
    dragged = root.evaluate("(el) => el.explorer.point()")
    expected_z1 = ((x + 3 - box["x"]) / box["width"] * 2 - 1) * lim
    assert abs(dragged[0] - expected_z1) < 0.02 * lim, f"{where}: dragged to z_1 {dragged[0]}, expected {expected_z1}"

    drawing = _check_drawing(page, root, where, check)
    times = root.evaluate("(el) => el.explorer.timeDecodeDraw(100)")
    median = _median(times)
    assert median <= MAX_MEDIAN_MS, f"{where}: median decode + draw {median:.2f} ms > {MAX_MEDIAN_MS} ms"
    path = _check_path_mode(page, root, where, check, slide)
    return {"where": where, "explorer": root.get_attribute("data-explorer"), "max_pixel_error": error,
            "median_ms": round(median, 3), "p90_ms": round(sorted(times)[int(0.9 * len(times))], 3),
            "moves": ["ArrowRight", "drag 3 px", "stroke on the pad (mouse)", "stroke on the pad (keyboard)",
                      "path mode (Space on its button)", "path by two clicks", "path end B by B, ArrowLeft"],
            "drawing": drawing, "path": path}


def _frames(root) -> tuple[list, list]:
    """Path mode's pixel means (frames x 784, flat) and the frames as drawn (8-bit pictures)."""
    return root.evaluate("async (el) => { await el.explorer.settled(); "
                         "return [el.explorer.frames(), el.explorer.framePictures()]; }")


def _check_path_mode(page, root, where: str, check: dict, slide: str) -> dict:
    """Path mode of the latent plane: switched on from the keyboard, its starting line decoded as PyTorch does
    (every frame within 1e-4), the frames change along the line, a path drawn with two clicks ends on frames
    that are the decoder at its ends, the keyboard moves an end, one decode of the line plus draw is timed."""
    toggle = root.locator("button", has_text="path mode")
    toggle.focus()
    page.keyboard.press("Space")
    assert root.evaluate("(el) => el.explorer.pathMode()") and toggle.get_attribute("aria-pressed") == "true", \
        f"{where}: Space on the path-mode button did not switch path mode on"
    frames, pictures = _frames(root)
    count = len(check["path"]["pixels"])
    assert root.evaluate("(el) => el.explorer.path()") == check["path"]["ends"], f"{where}: not the build's path"
    expected = [v for row in check["path"]["pixels"] for v in row]
    assert frames and len(frames) == len(expected), f"{where}: {len(frames or [])} path pixels for {len(expected)}"
    error = max(abs(a - b) for a, b in zip(frames, expected))
    assert error <= MAX_PIXEL_ERROR, f"{where}: the path's frames differ from PyTorch's by {error:.2e}"
    assert len(set(pictures)) == count, f"{where}: {len(set(pictures))} different frames along a {count}-frame path"
    text = root.inner_text()
    assert "Path mode:" in text and "from A = (" in text, f"{where}: the path is not read out as text"

    plane = root.locator("canvas[role=slider]")
    box = plane.bounding_box()
    before = pictures
    for fx, fy in ((0.25, 0.3), (0.75, 0.7)):            # two clicks: end A, then end B
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        root.evaluate("(el) => el.explorer.settled()")
        page.wait_for_timeout(100)
    frames, pictures = _frames(root)
    ends = root.evaluate("(el) => el.explorer.path()")
    assert ends != check["path"]["ends"] and pictures != before, f"{where}: two clicks did not draw a new path"
    at_ends = root.evaluate("(el, ends) => el.explorer.decode(ends)", ends)
    pixels = 784 * (count - 1)
    end_error = max(max(abs(a - b) for a, b in zip(frames[:784], at_ends[:784])),
                    max(abs(a - b) for a, b in zip(frames[pixels:], at_ends[784:])))
    assert end_error <= 1e-6, f"{where}: the path's end frames are not the decoder at its ends ({end_error:.1e})"
    assert len(set(pictures)) > 1, f"{where}: the frames do not change along the drawn path"

    plane.focus()
    page.keyboard.press("b")
    page.keyboard.press("ArrowLeft")
    frames_after, pictures_after = _frames(root)
    moved = root.evaluate("(el) => el.explorer.path()")
    lim = root.evaluate("(el) => el.explorer.lim")
    assert moved[0] == ends[0] and abs(moved[1][0] - ends[1][0] + 0.04 * lim) < 1e-6, f"{where}: {ends} -> {moved}"
    assert pictures_after[-1] != pictures[-1] and pictures_after[0] == pictures[0], \
        f"{where}: moving end B did not change the last frame alone at the end"
    assert _slide(page) == slide, \
        f"{where}: a path-mode key also changed the slide"
    times = root.evaluate("(el) => el.explorer.timeDecodeDraw(50)")
    median = _median(times)
    assert median <= MAX_MEDIAN_MS, f"{where}: median path decode ({count} digits) + draw {median:.2f} ms"
    page.keyboard.press("p")
    assert not root.evaluate("(el) => el.explorer.pathMode()"), f"{where}: P did not leave path mode"
    return {"frames": count, "max_pixel_error": error, "median_ms": round(median, 3)}


def _drag(page, root, pad, where: str) -> list:
    """A 3-pixel mouse drag on the pad changes the picture; returns the point it ends on."""
    box = pad.bounding_box()
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6
    page.mouse.move(x, y)
    page.mouse.down()
    page.wait_for_timeout(50)
    before = root.evaluate("async (el) => { await el.explorer.settled(); return el.explorer.picture(); }")
    page.mouse.move(x + 3, y, steps=3)  # a few pixels: far less than the old grid's step
    page.mouse.up()
    _wait_for_change(root, before, f"{where}: a 3-pixel drag")
    lim, dragged = root.evaluate("(el) => el.explorer.lim"), root.evaluate("(el) => el.explorer.point()")
    expected = ((x + 3 - box["x"]) / box["width"] * 2 - 1) * lim
    assert abs(dragged[0] - expected) < 0.02 * lim, f"{where}: dragged to {dragged[0]}, expected {expected}"
    return dragged


def _check_conditional(page, root, where: str, error: float) -> dict:
    """The CVAE / conditional-GAN explorer: number keys and buttons choose the label, arrow keys and the mouse
    move the style, the row shows the same style under ten labels, 'new noise' resamples; timing."""
    pad, lim = root.locator("canvas[role=slider]"), root.evaluate("(el) => el.explorer.lim")
    caption, label = root.locator("p").first.inner_text(), pad.get_attribute("aria-label")
    assert "arrow keys" in caption and "number keys" in caption and label, f"{where}: no text alternative"
    slide = _slide(page)
    row = root.evaluate("async (el) => { await el.explorer.settled(); return el.explorer.row(); }")
    assert len(set(row)) == 10, f"{where}: the ten labels do not give ten different pictures"
    before, start = root.evaluate("(el) => el.explorer.picture()"), root.evaluate("(el) => el.explorer.point()")
    pad.focus()
    page.keyboard.press("7")
    assert root.evaluate("(el) => el.explorer.label()") == 7, f"{where}: the 7 key did not choose label 7"
    _wait_for_change(root, before, f"{where}: the 7 key")
    assert root.evaluate("(el) => el.explorer.row()") == row, f"{where}: a label changed the row's style"
    assert root.evaluate("(el) => el.explorer.point()") == start, f"{where}: the 7 key moved the point"
    _arrow_right_moves_z1(page, root, where, lim, slide)
    axes = root.evaluate("(el) => el.explorer.axes()")   # z_i, z_j, or the named attributes (chapter 8)
    assert "label y = 7" in root.inner_text() and all(f"{a} = " in root.inner_text() for a in axes), \
        f"{where}: no text read-out of the label and {axes}"
    root.locator("button", has_text="3").first.click()
    assert root.evaluate("(el) => el.explorer.label()") == 3, f"{where}: the button 3 did not choose label 3"
    _drag(page, root, pad, where)
    moves = ["key 7", "ArrowRight", "button 3", "drag 3 px"]
    resample = root.locator("button", has_text="new noise")
    if resample.count():
        before = root.evaluate("async (el) => { await el.explorer.settled(); return el.explorer.picture(); }")
        resample.click()
        _wait_for_change(root, before, f"{where}: new noise")
        assert root.evaluate("(el) => el.explorer.noise()") == 1, f"{where}: new noise did not resample"
        moves.append("new noise")
    times = root.evaluate("(el) => el.explorer.timeDecodeDraw(100)")
    median = _median(times)
    assert median <= MAX_MEDIAN_MS, f"{where}: median decode (ten digits) + draw {median:.2f} ms > {MAX_MEDIAN_MS} ms"
    return {"where": where, "explorer": "conditional " + root.evaluate("(el) => el.explorer.decoderFile"),
            "max_pixel_error": error, "median_ms": round(median, 3),
            "p90_ms": round(sorted(times)[int(0.9 * len(times))], 3), "moves": moves}


def _check_diffusion(page, root, where: str) -> dict:
    """The diffusion explorer: the whole DDIM process from the build's x_T agrees with PyTorch's (every x_t and
    every guess, as pixels, within 1e-4), the step slider (keyboard), number keys and 'new noise' change the
    picture, the text says which step; one guided step (two denoiser calls) takes at most 16 ms (median)."""
    name = root.evaluate("(el) => el.explorer.decoderFile")
    check_file = BUILD / "explorer-checks" / name.replace(".onnx", ".json")
    assert name and check_file.is_file(), f"{where}: no check {check_file} for the diffusion explorer's {name!r}"
    check = json.loads(check_file.read_text())
    got = root.evaluate("(el, c) => el.explorer.run(c.x_T, c.label)", check)
    pixel = lambda v: min(1.0, max(0.0, (v + 1) / 2))               # noqa: E731  [-1, 1] -> the drawn ink
    error = max(abs(pixel(a) - pixel(b)) for key in ("path", "guesses") for mine, theirs in zip(got[key], check[key])
                for a, b in zip(mine, theirs))
    assert len(got["path"]) == len(check["path"]) and error <= MAX_PIXEL_ERROR, \
        f"{where}: the page's DDIM process differs from PyTorch's by {error:.2e} (pixels)"
    caption = root.locator("p").first.inner_text()
    assert "arrow keys" in caption and "number keys" in caption, f"{where}: no text alternative"
    slide = _slide(page)
    slider, steps = root.locator("input[type=range]"), len(check["times"]) - 1
    root.evaluate("(el) => el.explorer.settled()")
    before = root.evaluate("(el) => el.explorer.picture()")
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert root.evaluate("(el) => el.explorer.step()") == 1, f"{where}: ArrowRight did not move the step slider"
    assert root.evaluate("(el) => el.explorer.picture()") != before, f"{where}: step 1 shows the same picture"
    page.keyboard.press("End")
    assert root.evaluate("(el) => el.explorer.step()") == steps and "t = 0" in root.inner_text(), \
        f"{where}: End did not show the finished digit"
    before = root.evaluate("(el) => el.explorer.picture()")
    page.keyboard.press("3")
    _wait_for_change(root, before, f"{where}: the 3 key")
    assert root.evaluate("(el) => el.explorer.label()") == 3 and "label y = 3" in root.inner_text(), where
    before = root.evaluate("(el) => el.explorer.picture()")
    root.locator("button", has_text="new noise").click()
    _wait_for_change(root, before, f"{where}: new noise")
    assert root.evaluate("(el) => el.explorer.noise()") == 1, f"{where}: new noise did not resample"
    assert _slide(page) == slide, \
        f"{where}: a key also changed the slide"
    times = root.evaluate("(el) => el.explorer.timeProcess(6)")
    per_step = _median(times) / steps
    assert per_step <= MAX_MEDIAN_MS, f"{where}: a guided DDIM step takes {per_step:.2f} ms (median)"
    return {"where": where, "explorer": "diffusion " + name, "max_pixel_error": error,
            "median_ms": round(per_step, 3), "p90_ms": round(sorted(times)[int(0.9 * len(times))] / steps, 3),
            "process_ms": round(_median(times), 1), "moves": ["ArrowRight", "End", "key 3", "new noise"]}


def _check_style(page, root, where: str) -> dict:
    """The style-mixing explorer: the build's mixes (every crossover, the fixed noise and another) agree with
    PyTorch's within 1e-4; the crossover slider (keyboard), a column-source button (keyboard) and 'resample noise'
    (R key, button) change the picture and the text read-out; one run (A, the mix, B) plus draw in a median of
    at most 16 ms."""
    name = root.evaluate("(el) => el.explorer.decoderFile")
    check_file = BUILD / "explorer-checks" / name.replace(".onnx", ".json")
    assert name and check_file.is_file(), f"{where}: no check {check_file} for the style-mixing explorer's {name!r}"
    check = json.loads(check_file.read_text())
    rows = [[check[k][case[i]] for case in check["cases"]] for i, k in enumerate(("z_a", "z_b"))]
    got = root.evaluate("(el, [za, zb, c]) => el.explorer.mix(za, zb, c.from_b, c.noise)", [*rows, check])
    expected = [v for row in check["pixels"] for v in row]
    error = max(abs(a - b) for a, b in zip(got, expected))
    assert len(got) == len(expected) and error <= MAX_PIXEL_ERROR, \
        f"{where}: the page's style mixing differs from PyTorch's by {error:.2e}"
    caption = root.locator("p").first.inner_text()
    assert "arrow keys" in caption and "R key" in caption, f"{where}: no text alternative"
    slide = _slide(page)
    state = lambda: root.evaluate("(el) => el.explorer.state()")  # noqa: E731
    root.evaluate("(el) => el.explorer.settled()")
    start, before = state(), root.evaluate("(el) => el.explorer.picture()")
    root.locator("input[type=range]").focus()
    page.keyboard.press("ArrowRight")
    _wait_for_change(root, before, f"{where}: ArrowRight on the crossover slider")
    assert state()["crossover"] == start["crossover"] + 1 and "from B: " in root.inner_text(), where
    before = root.evaluate("(el) => el.explorer.picture()")
    root.locator("button", has_text="B3").focus()
    page.keyboard.press("Space")
    _wait_for_change(root, before, f"{where}: Space on B3")
    assert state()["b"] == 2 and "column source B3" in root.inner_text(), f"{where}: B3 not chosen: {state()}"
    before = root.evaluate("(el) => el.explorer.picture()")
    page.keyboard.press("r")
    _wait_for_change(root, before, f"{where}: the R key")
    before = root.evaluate("(el) => el.explorer.picture()")
    root.locator("button", has_text="resample noise").click()
    _wait_for_change(root, before, f"{where}: resample noise")
    assert state()["noise"] == 2 and "noise #2" in root.inner_text(), f"{where}: noise not resampled: {state()}"
    assert _slide(page) == slide, \
        f"{where}: a key also changed the slide"
    times = root.evaluate("(el) => el.explorer.timeDecodeDraw(100)")
    median = _median(times)
    assert median <= MAX_MEDIAN_MS, f"{where}: median run (three images) + draw {median:.2f} ms > {MAX_MEDIAN_MS} ms"
    return {"where": where, "explorer": "style " + name, "max_pixel_error": error, "median_ms": round(median, 3),
            "p90_ms": round(sorted(times)[int(0.9 * len(times))], 3),
            "moves": ["ArrowRight (crossover)", "Space on B3", "key R", "resample noise"]}


def _encoding(root):
    return root.evaluate("async (el) => { await el.explorer.settled(); return el.explorer.encoding(); }")


def _check_drawing(page, root, where: str, check: dict) -> dict:
    """The encoder agrees with PyTorch; a stroke drawn with the mouse, or with the keyboard, is encoded."""
    got = root.evaluate("(el, digits) => el.explorer.encode(digits)", check["digits"])
    error = max(abs(a - b) for key in ("mu", "logvar") for mine, theirs in zip(got[key], check[key])
                for a, b in zip(mine, theirs))
    assert error <= MAX_PIXEL_ERROR, f"{where}: the page's encoder differs from PyTorch's by {error:.2e}"
    pad = root.locator("canvas[role=application]")
    box = pad.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.8, steps=8)  # a "1"
    page.mouse.up()
    drawn = _encoding(root)
    ink = root.evaluate("(el) => el.explorer.ink()")
    assert drawn and sum(ink) > 10, f"{where}: a stroke on the pad was not encoded ({drawn}, ink {sum(ink):.1f})"
    again = root.evaluate("(el, ink) => el.explorer.encode([ink])", ink)
    assert max(abs(a - b) for a, b in zip(again["mu"][0], drawn["mu"])) < 1e-6, f"{where}: {again} vs {drawn}"
    lim = root.evaluate("(el) => el.explorer.lim")
    on_plane = [max(-lim, min(lim, v)) for v in drawn["mu"]]                # the point stays on the plane
    assert root.evaluate("(el) => el.explorer.point()") == on_plane, f"{where}: the plane's point is not mu"
    assert all(s > 0 for s in drawn["sigma"]) and "encoded at mu" in root.inner_text(), f"{where}: {drawn}"
    pad.focus()
    page.keyboard.press("Delete")
    assert _encoding(root) is None and not any(root.evaluate("(el) => el.explorer.ink()")), f"{where}: not cleared"
    page.keyboard.press("Space")                      # the keyboard pen: down, then four pixels down the pad
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    assert _encoding(root), f"{where}: a stroke drawn from the keyboard was not encoded"
    return {"encoder_error": error, "mu": [round(v, 2) for v in drawn["mu"]],
            "sigma": [round(v, 2) for v in drawn["sigma"]]}


def _check_live_explorers(visit, where: str, show=None) -> int:
    """Every live explorer on the page; a page without one must not have loaded their code."""
    roots = visit.page.locator(".genmodels-explorer").all()
    for root in roots:
        if show:
            show(root)
        REPORT["live"].append(_check_live_explorer(visit.page, root, where))
    if not roots:
        loaded = [u for u in visit.requested if any(code in u for code in LIVE_CODE)]
        assert not loaded, f"{where} has no live explorer but loaded their code: {loaded[:3]}"
    return len(roots)


# ----------------------------------------------------------------------------- tests
def test_no_cdn_in_built_html():
    """No <script src> or stylesheet <link> in the built HTML points outside the build."""
    remote = re.compile(r"""<(?:script[^>]*\bsrc|link[^>]*\bhref)=["'](?:https?:)?//[^"']+""", re.I)
    pages = list((BUILD / "html").rglob("*.html")) + list((BUILD / "slides").glob("*.html"))
    if not pages:
        pytest.fail(f"no HTML under {BUILD}: build the book and the slides first")
    offenders = {}
    for page in pages:
        for tag in remote.findall(page.read_text(encoding="utf-8", errors="replace")):
            if "stylesheet" in tag or tag.lower().startswith("<script") or "preload" in tag:
                offenders.setdefault(str(page.relative_to(BUILD)), []).append(tag[:120])
    assert not offenders, f"CDN assets in the build: {offenders}"


@pytest.mark.parametrize("page", PAGES)
def test_book_page(server, browser, page):
    visit = Visit(browser, server, f"html/{page}.html")
    try:
        counts = _common_checks(visit)
        if page.startswith("chapters/"):
            assert counts["math"] > 0, f"{page}: a chapter without a single rendered formula?"
        views = visit.page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
        counts["widgets"] = views
        counts["explorers"] = _check_explorers(visit.page, f"html/{page}.html")
        counts["live"] = _check_live_explorers(visit, f"html/{page}.html")
        counts["outputs"] = _check_printed_outputs(visit.page, page)
        REPORT["pages"][page] = counts
    finally:
        visit.close()


# The printed outputs in a 1280-px-wide window (the test's; the column holds 83 characters of output): none scrolls
# sideways (a long line wraps: book/_static/genmodels-outputs.css), and no row of a printed table (two or more gaps
# of 3+ spaces) is wider than the column, so none wraps out of its columns.
PRINTED_OUTPUTS = r"""() => {
    const ctx = document.createElement('canvas').getContext('2d'), found = {outputs: 0, scrolling: [], rows: []};
    for (const pre of document.querySelectorAll('div.cell_output pre')) {
        found.outputs += 1;
        if (pre.scrollWidth > pre.clientWidth + 1) found.scrolling.push(pre.textContent.slice(0, 80));
        const style = getComputedStyle(pre);
        ctx.font = `${style.fontSize} ${style.fontFamily}`;
        const room = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        for (const line of pre.textContent.split('\n')) {
            if (/\S {3,}\S.*\S {3,}\S/.test(line) && ctx.measureText(line).width > room) found.rows.push(line);
        }
    }
    return found;
}"""


def _check_printed_outputs(page, where: str) -> int:
    assert page.viewport_size["width"] == 1280, page.viewport_size
    found = page.evaluate(PRINTED_OUTPUTS)
    assert not found["scrolling"], f"{where}: printed outputs scroll sideways: {found['scrolling']}"
    assert not found["rows"], f"{where}: printed table rows wider than the column: {found['rows']}"
    return found["outputs"]


@pytest.mark.parametrize("deck", DECKS)
def test_deck(server, browser, deck):
    visit = Visit(browser, server, f"slides/{deck}.html")
    try:
        visit.page.wait_for_selector(".reveal.ready", timeout=60_000)
        counts = _common_checks(visit)
        state = visit.page.evaluate("""() => ({slides: Reveal.getTotalSlides(), notes_plugin: Reveal.hasPlugin('notes'),
                                           notes: document.querySelectorAll('aside.notes').length})""")
        assert state["slides"] > 3 and state["notes_plugin"], f"{deck}: {state}"
        book = REPORT["pages"].get(CHAPTERS[deck], {})
        assert counts["images"] or not book.get("images"), f"{deck}: the chapter has figures, the deck none"

        def show(root):  # reveal only lays out the current slide: go to the explorer's
            visit.page.evaluate("""(el) => { const i = Reveal.getIndices(el.closest('section')); Reveal.slide(i.h, i.v); }""",
                                root.element_handle())
            # reveal.js slides the new slide in (about 0.8 s): a box measured on the way puts a click elsewhere.
            # A trial click waits, as Playwright's actions do, until the explorer is visible and stable (the same
            # box in two consecutive animation frames) and receives events, and clicks nothing.
            root.click(trial=True, timeout=10_000)

        counts.update(state, explorers=_check_explorers(visit.page, f"slides/{deck}.html", show),
                      live=_check_live_explorers(visit, f"slides/{deck}.html", show))
        REPORT["decks"][deck] = counts
    finally:
        visit.close()


# Every slide of a deck, shown in turn (deck.js fits it on "slidechanged"), measured at the deck's own size.
MEASURE_SLIDES = r"""() => {
    const W = Reveal.getConfig().width, H = Reveal.getConfig().height, found = [];
    const skip = 'aside, mjx-container, mjx-assistive-mml, script, style';
    for (const slide of Reveal.getSlides()) {
        const where = Reveal.getIndices(slide);
        Reveal.slide(where.h, where.v || 0);
        const box = slide.getBoundingClientRect(), scale = box.width / slide.offsetWidth;
        let right = 0, bottom = 0;
        for (const el of slide.querySelectorAll('*')) {
            if (el.closest(skip)) continue;
            const r = el.getBoundingClientRect();
            if (!r.width || !r.height) continue;
            right = Math.max(right, (r.right - box.left) / scale);
            bottom = Math.max(bottom, (r.bottom - box.top) / scale);
        }
        const visible = slide.cloneNode(true);
        // words of text: not the notes, formulas, explorers' labels or code (code is counted on its own)
        visible.querySelectorAll('aside, mjx-container, script, style, .jupyter-widgets, .genmodels-explorer, pre')
            .forEach(e => e.remove());
        const pictures = Array.from(slide.querySelectorAll('img, canvas, svg, .jupyter-widgets, .genmodels-explorer'))
            .filter(e => !e.closest('aside, mjx-container') && e.getBoundingClientRect().width > 40);
        const figures = Array.from(slide.querySelectorAll('img'))
            .filter(e => !e.closest('aside, mjx-container, .jupyter-widgets'));
        const code = Array.from(slide.querySelectorAll('pre, .jp-CodeCell .jp-InputArea'))
            .filter(e => !e.closest('aside') && e.getBoundingClientRect().height > 0);
        const fig = figures.length === 1 ? figures[0].getBoundingClientRect() : null;
        found.push({
            slide: `${where.h}/${where.v || 0}`,
            title: (slide.querySelector('h1, h2, h3') || {textContent: ''}).textContent.trim().slice(0, 60),
            overflow: right > W + 2 || bottom > H + 2, right: Math.round(right), bottom: Math.round(bottom),
            words: (visible.textContent.match(/[A-Za-z0-9][\w'’.,-]*/g) || []).length,
            code: code.length > 0,
            picture: pictures.length > 0,
            lone_figure: fig && !slide.querySelector('.jupyter-widgets, .genmodels-explorer, .deck-title-mark') && !code.length
                ? Math.round(100 * Math.max(fig.width / scale / W, fig.height / scale / H)) : null,
        });
    }
    Reveal.slide(0, 0);
    return found;
}"""


def _median(values: list[int]) -> float:
    values = sorted(values)
    return (values[(len(values) - 1) // 2] + values[len(values) // 2]) / 2


@pytest.mark.parametrize("deck", DECKS)
def test_deck_is_a_lecture(server, browser, deck):
    """Every slide fits; one lone figure fills >= 70% of the width or height; the PDF has a page per slide."""
    visit = Visit(browser, server, f"slides/{deck}.html")
    try:
        visit.page.set_viewport_size({"width": 1100, "height": 760})
        visit.page.wait_for_selector("html.deck-fitted", state="attached", timeout=90_000)
        slides = visit.page.evaluate(MEASURE_SLIDES)
    finally:
        visit.close()
    pdf = BUILD / "slides" / "pdf" / f"{deck}.pdf"
    assert pdf.is_file(), f"{pdf} is missing: build the slides with --pdf (python -m genmodels.publish.slides --pdf)"
    from genmodels.publish.pdf import count_pages

    pages = count_pages(pdf.read_bytes())
    REPORT["lectures"][deck] = {"slides": slides, "pdf_pages": pages}
    overflowing = [(s["slide"], s["title"], s["right"], s["bottom"]) for s in slides if s["overflow"]]
    small = [(s["slide"], s["title"], s["lone_figure"]) for s in slides if s["lone_figure"] is not None
             and s["lone_figure"] < 70]
    assert not overflowing, f"{deck}: slides overflow (slide, title, right, bottom px): {overflowing}"
    assert not small, f"{deck}: a lone figure under 70% of the slide: {small}"
    assert pages == len(slides), f"{deck}: {pages} PDF pages for {len(slides)} slides"


def test_decks_read_as_lectures():
    """Across all decks: <= 10% of the slides show code, median <= 40 words, >= 60% carry a picture."""
    slides = [s for deck in REPORT["lectures"].values() for s in deck["slides"]]
    assert len(REPORT["lectures"]) == len(DECKS), "not every deck was measured"
    code = sum(s["code"] for s in slides) / len(slides)
    pictures = sum(s["picture"] for s in slides) / len(slides)
    median = _median([s["words"] for s in slides])
    REPORT["lecture_totals"] = {"slides": len(slides), "code_share": round(code, 3), "median_words": median,
                                "picture_share": round(pictures, 3),
                                "overflowing": sum(s["overflow"] for s in slides)}
    assert code <= 0.10 and median <= 40 and pictures >= 0.60, REPORT["lecture_totals"]


def test_slides_index(server, browser):
    visit = Visit(browser, server, "slides/index.html")
    try:
        links = visit.page.eval_on_selector_all("ol a", "as => as.map(a => a.getAttribute('href'))")
        assert links == [link for deck in DECKS for link in (f"{deck}.html", f"pdf/{deck}.pdf")], links
        assert not visit.external and not visit.failed and not visit.real_errors()
    finally:
        visit.close()


def test_explorers_found():
    """The book's explorers were all found and exercised: the picture picker of precomputed pictures that is left
    (chapter 1's samples per label, toggle buttons) and every live explorer, in the book and in the decks."""
    moves = [m for e in REPORT["explorers"] for m in e["moves"]]
    assert any(m.startswith("toggle") for m in moves), f"no toggle-button picker was moved: {REPORT['explorers']}"
    live = {e["where"].split("/")[0] for e in REPORT["live"]}
    assert live == {"html", "slides"}, f"live explorers checked in the book and the decks, found in {live or 'none'}"
    conditional = {(e["where"].split("/")[0], e["explorer"].split()[1].rsplit("-", 1)[0])
                   for e in REPORT["live"] if e["explorer"].startswith("conditional")}
    wanted = {(where, model) for where in ("html", "slides") for model in ("cvae-decoder", "cgan-generator",
                                                                                "acgan-generator")}
    diffusion = {e["where"].split("/")[0] for e in REPORT["live"] if e["explorer"].startswith("diffusion")}
    assert diffusion == {"html", "slides"}, f"the diffusion explorer checked in the book and its deck: {diffusion}"
    style = {e["where"].split("/")[0] for e in REPORT["live"] if e["explorer"].startswith("style")}
    assert style == {"html", "slides"}, f"the style-mixing explorer checked in the book and its deck: {style}"
    assert conditional >= wanted, f"CVAE, cGAN and AC-GAN explorers checked in the book and decks: {sorted(conditional)}"


def test_report():
    """Write what was covered to _build/browser-report.json (conftest prints a summary)."""
    assert REPORT["pages"] and REPORT["decks"], "no page or deck was checked"
    REPORT["seconds"] = round(time.time() - REPORT["started"], 1)
    (BUILD / "browser-report.json").write_text(json.dumps(REPORT, indent=1))
