"""MyST -> plain Markdown for the decks: citations as "[Kingma and Welling, 2014]", roles keep their text,
directives become Markdown (exercises bold, admonitions quotes), solutions are dropped."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["load_citations", "clean_myst", "drop_solutions"]


def load_citations(root: Path) -> dict[str, str]:
    """``{bibtex key: "Kingma and Welling, 2014"}`` from the bibliography files named in ``_config.yml``."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    try:  # pybtex comes with sphinxcontrib-bibtex
        from pybtex.database import parse_file
        from pybtex.richtext import Text
    except ImportError:
        return {}
    labels = {}
    for bibfile in config.get("bibtex_bibfiles", []):
        for key, entry in parse_file(str(root / bibfile)).entries.items():
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [Text.from_latex(" ".join(p.last_names)).render_as("text") for p in people]
            who = names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2 else f"{names[0]} et al."
            labels[key] = f"{who}, {entry.fields.get('year', 'n.d.')}" if names else key
    return labels


_ROLE = re.compile(r"\{([a-zA-Z][\w:+-]*)\}`([^`]*)`")
_FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")


def _role(match: re.Match, citations: dict[str, str]) -> str:
    name, content = match.group(1), match.group(2)
    if name.startswith("cite"):
        refs = [citations.get(k.strip(), k.strip()) for k in content.split(",")]
        if name == "cite:t":  # as sphinxcontrib-bibtex's author_year style writes them
            return "; ".join(re.sub(r", (\S+)$", r" [\1]", r) for r in refs)
        return "[" + "; ".join(refs) + "]"
    if name == "math":
        return f"${content}$"
    text = re.sub(r"\s*<[^>]*>$", "", content).strip()  # "text <target>" -> "text"
    return text or content


def _directive(name: str, arg: str, body: list[str]) -> list[str]:
    """One MyST directive as Markdown lines (solutions and labels dropped)."""
    body = [line for line in body if not re.match(r"^:[\w-]+:", line)]  # options such as :label:
    if name in ("solution", "solution-start", "solution-end", "toctree", "bibliography", "tableofcontents"):
        return []
    if name == "exercise":
        return [f"**Exercise: {arg.strip()}**" if arg.strip() else "**Exercise**", ""] + body
    if name == "math":
        return ["$$", *body, "$$"]
    if name in ("figure", "image"):
        return body  # the caption; the picture itself lives in the book
    if name in ("note", "tip", "hint", "important", "warning", "caution", "attention", "seealso", "admonition"):
        title = arg.strip() or name.capitalize()
        return [f"> **{title}.** " + (body[0] if body else "")] + [f"> {line}" for line in body[1:]]
    return body


def clean_myst(text: str, citations: dict[str, str] | None = None) -> str:
    """Turn the MyST of a book cell into Markdown that nbconvert and MathJax render."""
    citations = citations or {}
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match:
            fence, end = match.group("fence"), i + 1
            while end < len(lines) and lines[end].strip() != fence:
                end += 1
            block = _directive(match.group("name"), match.group("arg"), [clean_myst(l, citations) for l in lines[i + 1:end]])
            out += ["", *block, ""] if block else []  # blank lines: a quote must not swallow what follows
            i = end + 1
            continue
        line = lines[i]
        if re.match(r"^\s*\(([\w:-]+)\)=\s*$", line) or line.startswith("%") or line.strip() == "+++":
            i += 1
            continue  # targets, comments, block breaks
        line = re.sub(r"(\$\$)\s*\([\w:-]+\)\s*$", r"\1", line)  # "$$ (eq-label)"
        out.append(_ROLE.sub(lambda m: _role(m, citations), line))
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def drop_solutions(text: str, inside: bool) -> tuple[str, bool]:
    """Remove what lies between ``{solution-start}`` and ``{solution-end}``; ``inside`` carries across cells."""
    kept, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if "{solution-start}" in line:
            inside = True
        elif "{solution-end}" in line:
            inside = False
            if i + 1 < len(lines) and re.fullmatch(r"`{3,}|:{3,}", lines[i + 1].strip()):
                lines[i + 1] = ""  # the closing fence of the directive
        elif not inside:
            kept.append(line)
    return "\n".join(kept), inside
