"""Sphinx extension: execute the chapters in parallel processes during ``jupyter-book build``.

Each chapter runs PyTorch on one CPU thread (``genmodels.runtime.setup_chapter``): the course's networks are
small and a second thread does not speed them up. A serial build therefore leaves every core but one idle.
Sphinx can read (and so, with myst-nb, execute) documents in parallel worker processes, but ``jupyter-book
build`` has no ``-j`` option; this extension sets Sphinx's job count from ``genmodels_build_jobs`` in
``_config.yml`` (``sphinx: config:``), default ``auto``: one job per CPU core, at most 6 (each job holds a
kernel of a few hundred MB).

Two details make the jobs useful:

* Sphinx hands each worker a *chunk* of documents (half the book each with two jobs), so one worker can get
  the long chapters and finish last. The chunks here are single documents, so a free worker always takes the
  next chapter. (They are listed in reverse order, the later, longer chapters first; in a CI build the first
  two to start were chapters 12 and 11, then the rest went in ascending order.)
* ``sphinx_external_toc`` always loads ``sphinx_multitoc_numbering``, which does not declare whether it is
  safe for parallel reading, and Sphinx then falls back to a serial read (with a warning, an error under
  ``-W``). It only renumbers numbered toctrees, in the main process after the documents are read, so it is
  declared safe here.

With more than one job it also sets ``GENMODELS_TRAIN_PROCESSES=1`` (unless set), which the chapter kernels
inherit: :mod:`genmodels.prefetch` then trains in the kernel itself instead of forking one trainer per core.
"""

from __future__ import annotations

import os

__all__ = ["build_jobs", "one_document_per_chunk", "setup"]


MAX_AUTO_JOBS = 6


def build_jobs(requested: int | str | None, cpu_count: int | None = None) -> int:
    """The number of worker processes: ``requested``, or for "auto"/None the CPU cores (1 to 6)."""
    cores = cpu_count or os.cpu_count() or 1
    if requested in (None, "auto"):
        return max(1, min(cores, MAX_AUTO_JOBS))
    try:
        jobs = int(requested)
    except (TypeError, ValueError):
        raise ValueError(f"genmodels_build_jobs must be a positive integer or 'auto', got {requested!r}") from None
    if jobs < 1:
        raise ValueError(f"genmodels_build_jobs must be a positive integer or 'auto', got {requested!r}")
    return jobs


def one_document_per_chunk(docnames, nproc: int, maxbatch: int = 10) -> list[list[str]]:
    """Sphinx's ``make_chunks`` replaced: one document per chunk (listed in reverse order), so no worker waits
    on another's queue of long chapters."""
    return [[name] for name in sorted(docnames, reverse=True)]


def _set_jobs(app, config) -> None:
    if app.parallel <= 1:  # an explicit sphinx-build -j N wins
        app.parallel = build_jobs(config.genmodels_build_jobs)
    if app.parallel > 1:
        # the chapters already fill the cores: genmodels.prefetch must not fork more trainers in each of them
        os.environ.setdefault("GENMODELS_TRAIN_PROCESSES", "1")
        import sphinx.builders

        sphinx.builders.make_chunks = one_document_per_chunk
        numbering = app.extensions.get("sphinx_multitoc_numbering")
        if numbering is not None and numbering.parallel_read_safe is None:
            numbering.parallel_read_safe = True
            numbering.parallel_write_safe = True


def setup(app) -> dict:
    app.add_config_value("genmodels_build_jobs", "auto", "")
    app.connect("config-inited", _set_jobs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
