"""Publishing the course: not course material, and never imported by the modules the chapters teach.

* :mod:`genmodels.publish.vendor`: the offline JavaScript (MathJax, require.js, the widget manager, reveal.js,
  anywidget and onnxruntime-web for the live explorers of :mod:`genmodels.explorers`)
  fetched from the npm registry at build time; also a Sphinx extension named in ``_config.yml``.
* :mod:`genmodels.publish.slides`: the lecture decks (``python -m genmodels.publish.slides [--pdf]``), planned by
  :mod:`genmodels.publish.plan` from the executed chapters, MyST cleaned by :mod:`genmodels.publish.myst`,
  printed to PDF handouts by :mod:`genmodels.publish.pdf`.
* :mod:`genmodels.publish.repository`: the one repository setting (``_config.yml``) and every chapter's hidden
  install cell (``python -m genmodels.publish.repository [--set URL] [--check]``).
* ``assets/``: the HTML template, CSS and JavaScript of the decks and the book (package data, not strings).

Its dependencies are the ``publish`` extra of ``pyproject.toml`` (``pip install 'genmodels[publish]'``).
"""
