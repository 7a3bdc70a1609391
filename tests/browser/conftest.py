"""Prints what the browser test covered (pages, decks, explorers) at the end of the pytest run."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, config):
    report = getattr(config, "genmodels_browser_report", None)
    if not report or not (report["pages"] or report["decks"]):
        return
    write = terminalreporter.write_line
    terminalreporter.section("browser test: what was checked")
    for page, c in report["pages"].items():
        write(f"page  {page}: {c['math']} formulas, {c['images']} images, {c['widgets']} widget views, "
              f"{c['explorers']} explorers, {c.get('live', 0)} live")
    for deck, c in report["decks"].items():
        write(f"deck  {deck}: {c['slides']} slides, {c['notes']} speaker notes, {c['math']} formulas, "
              f"{c['images']} images, {c['explorers']} explorers, {c.get('live', 0)} live")
    for deck, c in report.get("lectures", {}).items():
        slides = c["slides"]
        words = sorted(s["words"] for s in slides)
        write(f"lecture {deck}: {len(slides)} slides, {sum(s['code'] for s in slides)} with code, "
              f"median {words[(len(words) - 1) // 2]} words, {sum(s['picture'] for s in slides)} with a picture, "
              f"{sum(s['overflow'] for s in slides)} overflowing, PDF {c['pdf_pages']} pages")
    if "lecture_totals" in report:
        write(f"lecture totals: {report['lecture_totals']}")
    for e in report["explorers"]:
        write(f"explorer {e['explorer']} in {e['where']}: " + "; ".join(e["moves"]) + " -> picture changed")
    for e in report.get("live", []):
        write(f"live explorer {e['explorer']} in {e['where']}: max |page - PyTorch| {e['max_pixel_error']:.1e}, "
              f"decode + draw median {e['median_ms']} ms (90th percentile {e['p90_ms']} ms); "
              + (f"drawn '1' encoded at mu {e['drawing']['mu']}, sigma {e['drawing']['sigma']} (encoder "
                 f"max |page - PyTorch| {e['drawing']['encoder_error']:.1e}); " if "drawing" in e else "")
              + (f"whole process of {e['process_ms']} ms; " if "process_ms" in e else "")
              + (f"path mode: {e['path']['frames']} frames max |page - PyTorch| {e['path']['max_pixel_error']:.1e}, "
                 f"decode + draw median {e['path']['median_ms']} ms; " if "path" in e else "")
              + "; ".join(e["moves"]) + " -> picture changed")
    moves = sum(len(e["moves"]) for e in report["explorers"])
    write(f"{len(report['pages'])} pages, {len(report['decks'])} decks, {len(report['explorers'])} explorers "
          f"({moves} keyboard moves), {len(report['blocked_requests'])} requests that tried to leave 127.0.0.1"
          + (f", {report['seconds']} s" if "seconds" in report else ""))
