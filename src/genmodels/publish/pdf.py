"""PDF handouts: every deck printed by headless Chromium, one slide per page, explorers in their initial state.

reveal.js lays a deck out for print when it is opened with ``?print-pdf``, one page per slide at the deck's own
size (plus its margin, declared as the CSS page size); ``deck.js`` then fits every slide and marks the page ready
(``html.deck-fitted``), and Playwright's ``page.pdf`` writes it. The
Chromium is Debian's (``apt-get install chromium``), the one the browser test drives; ``GENMODELS_CHROMIUM``
names another binary. Everything is served from 127.0.0.1 and nothing else is reachable.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

__all__ = ["print_decks", "chromium_path", "count_pages", "WIDTH", "HEIGHT"]

WIDTH, HEIGHT = 1100, 760     # the decks' size (deck.js): one PDF page each
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    path = os.environ.get("GENMODELS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        raise RuntimeError(f"no Chromium at {path}: apt-get install -y chromium (or set GENMODELS_CHROMIUM)")
    return path


def count_pages(pdf: bytes) -> int:
    """Pages of a PDF (pypdf when installed, else the page objects Chromium writes)."""
    try:
        import io

        from pypdf import PdfReader
    except ImportError:
        import re

        return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    return len(PdfReader(io.BytesIO(pdf)).pages)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """``folder`` over http on 127.0.0.1 (require.js and the widget manager want http, not file://)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()


def print_decks(folder: str | os.PathLike, decks: list[str]) -> dict[Path, int]:
    """Print each deck (a file name in ``folder``) to ``folder/pdf/<deck>.pdf``; returns the page count of each."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise RuntimeError("the PDF step needs Playwright (pip install 'genmodels[publish]')") from error
    folder = Path(folder)
    (folder / "pdf").mkdir(exist_ok=True)
    written = {}
    with serve(folder) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            for deck in decks:
                context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
                context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base)
                              else route.abort())
                page = context.new_page()
                page.goto(f"{base}{deck}?print-pdf", wait_until="load")
                page.wait_for_selector("html.deck-fitted", state="attached", timeout=120_000)
                target = folder / "pdf" / f"{Path(deck).stem}.pdf"
                # the page size reveal.js asks for (@page: the slide plus its margin), one slide per page
                data = page.pdf(prefer_css_page_size=True, print_background=True,
                                margin={"top": "0", "right": "0", "bottom": "0", "left": "0"})
                target.write_bytes(data)
                written[target] = count_pages(data)
                context.close()
        finally:
            browser.close()
    return written
