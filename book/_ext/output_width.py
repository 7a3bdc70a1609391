"""Printed cell outputs wrap at the page's column instead of scrolling sideways (book/_ext/static/*.css).

_config.yml loads this Sphinx extension (sphinx.local_extensions); it adds its stylesheet to every page.
"""

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def _add_static_path(app):
    app.config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("builder-inited", _add_static_path)
    app.add_css_file("genmodels-outputs.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
