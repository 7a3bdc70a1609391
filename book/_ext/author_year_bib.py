"""Bibliography labels that read like the citations in the text: [Kingma and Welling, 2014], [Burda et al., 2016].

sphinxcontrib-bibtex's `author_year` reference style writes citations that way, but the bibliography page
would still label its entries with pybtex's `alpha` labels ([KW14]). This Sphinx extension registers a pybtex
style, `author_year`, whose labels match; _config.yml loads it (sphinx.local_extensions) and selects it
(bibtex_default_style).
"""

import codecs
from collections import Counter

import latexcodec  # noqa: F401  (registers the "ulatex" codec; a dependency of pybtex)
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


def _family_name(person) -> str:
    """'van den Oord', 'Sønderby': the family name as plain text, LaTeX accents decoded, braces dropped."""
    name = " ".join(person.prelast_names + person.last_names)
    return codecs.decode(name, "ulatex").replace("{", "").replace("}", "")


class AuthorYearLabelStyle(BaseLabelStyle):
    """'Tipping and Bishop, 1999', 'Burda et al., 2016'; 'a', 'b', ... appended where two entries would collide."""

    def format_labels(self, sorted_entries):
        labels = [self.format_label(entry) for entry in sorted_entries]
        count, seen = Counter(labels), Counter()
        for label in labels:
            if count[label] == 1:
                yield label
            else:
                seen[label] += 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]

    def format_label(self, entry):
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_family_name(person) for person in people]
        if len(names) == 0:
            who = entry.fields.get("title", entry.key)
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearStyle(UnsrtStyle):
    """pybtex's unsrt formatting, sorted by author, year and title, with author-year labels."""

    default_label_style = "author_year"
    default_sorting_style = "author_year_title"


def setup(app):
    register_plugin("pybtex.style.labels", "author_year", AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
