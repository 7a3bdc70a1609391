"""Text for the decks: MyST -> plain Markdown (citations as "[Kingma and Welling, 2014]", roles keep their text,
directives become Markdown, solutions are dropped), Markdown split into blocks, words counted, points cut short."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["load_citations", "clean_myst", "drop_solutions", "markdown_blocks", "words", "first_clause", "gist"]


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


# ----------------------------------------------------------------------------- Markdown blocks, words, gists
def words(text: str) -> int:
    """Words a reader sees: a formula counts one word per 12 characters of TeX, markup none."""
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", lambda m: " M" * max(1, len(m.group(0)) // 12) + " ", text, flags=re.S)
    return len(re.findall(r"[\w\d][\w\d'.,-]*", re.sub(r"<[^>]+>", " ", text)))


def _outside_math(text: str, chars: str) -> list[int]:
    """Positions of ``chars`` in ``text`` that are not inside ``$...$``."""
    inside, found = False, []
    for i, char in enumerate(text):
        if char == "$":
            inside = not inside
        elif char in chars and not inside:
            found.append(i)
    return found


def first_clause(text: str, limit: int = 18) -> str:
    """A summary point cut to its first clause (before a colon or semicolon outside math), at most ``limit`` words
    (cut at a comma outside math)."""
    colons = _outside_math(text, ":;")
    clause = text[:colons[0]] if colons else text
    clause = clause.strip().rstrip(",")
    commas = _outside_math(clause, ",")
    while commas and words(clause) > limit:
        clause = clause[:commas.pop()]
    return clause.strip()


def markdown_blocks(text: str) -> list[tuple[str, str]]:
    """Split Markdown into ``(kind, text)`` blocks: heading, math, list, table, quote, code, html, para."""
    blocks, lines, i, current = [], text.splitlines(), 0, []

    def flush():
        if current:
            first = current[0].lstrip()
            kind = ("list" if re.match(r"([*+-]|\d+\.)\s", first) else "table" if first.startswith("|")
                    else "quote" if first.startswith(">") else "html" if first.startswith("<") else "para")
            blocks.append((kind, "\n".join(current).strip()))
            current.clear()

    while i < len(lines):
        line, stripped = lines[i], lines[i].strip()
        fence = re.match(r"^(`{3,}|~{3,})", stripped)
        begin = re.match(r"^\\begin\{([\w*]+)\}", stripped)
        if not stripped:
            flush()
        elif re.match(r"^#{1,6}\s", line):
            flush()
            blocks.append(("heading", stripped))
        elif fence or begin or stripped.startswith("$$"):
            flush()
            j = i
            if fence:
                j = next((k for k in range(i + 1, len(lines)) if lines[k].strip().startswith(fence.group(1))), len(lines) - 1)
            elif begin:
                j = next((k for k in range(i, len(lines)) if f"\\end{{{begin.group(1)}}}" in lines[k]), len(lines) - 1)
            elif not (stripped.count("$$") >= 2):
                j = next((k for k in range(i + 1, len(lines)) if "$$" in lines[k]), len(lines) - 1)
            blocks.append(("code" if fence else "math", "\n".join(lines[i:j + 1]).strip()))
            i = j + 1
            continue
        else:
            current.append(line)
        i += 1
    flush()
    return blocks


def gist(kind: str, text: str, num_items: int = 4) -> str:
    """A spoken list or paragraph cut down for a slide that would show only its title: first clauses, as bullets."""
    if kind == "list":
        items = re.split(r"\n(?=\s*(?:[*+-]|\d+\.)\s)", text)[:num_items]
        return "\n".join("* " + first_clause(re.sub(r"^\s*(?:[*+-]|\d+\.)\s+", "", i).replace("\n", " "), 12)
                         for i in items)
    sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.replace("\n", " "))[0]
    return first_clause(sentence.rstrip("."), 16)
