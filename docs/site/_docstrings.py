"""Renders ppsolve's docstring sections for autodoc.

ppsolve's docstrings are prose with, in places, sections in the numpy layout, a title underlined with dashes
(``Parameters``, ``Attributes``, ``Conventions``, ...), whose entries are ``name : description`` (a
description, continued on lines indented further), not numpy's ``name : type``::

    Parameters
    ----------
    y : the measurement (NumPy, torch or CuPy).
    tol : stop after iteration ``k`` once ... are
        both <= tol.

napoleon would read each description as a type (rendering it as cross-references, and splitting its
``literals``), and a title underlined inside a docstring is a section title, which reStructuredText does not
allow there. So, before autodoc renders a docstring, each such title becomes a ``rubric`` and the run of
``name : description`` lines under it a definition list (``name`` the term). Anything else in a section (a list,
a paragraph) is left as written.

It also lets the build pass over the docstring warnings listed in ``conf.py``'s ``known_docstring_warnings``,
each one a fault to fix in the docstring itself (this extension must not rewrite a docstring's text): a listed
warning is shown as a message, not counted as a warning, and an entry that matched nothing on a page that was
read again is a warning itself (the docstring was fixed: remove the entry).
"""
from __future__ import annotations

import logging as _logging
import re

from docutils import nodes
from sphinx.util import logging
from sphinx.util.logging import WarningStreamHandler, get_node_location

logger = logging.getLogger(__name__)

_UNDERLINE = re.compile(r"^(\s*)-{3,}\s*$")
# ``name : text``, ``name: text``, ``a, b : text``, ``*args : text``
_FIELD = re.compile(r"^(?P<names>\*{0,2}[A-Za-z_]\w*(?:\s*,\s*\*{0,2}[A-Za-z_]\w*)*)\s?:\s+(?P<text>\S.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _term(names: str) -> str:
    return ", ".join(f"``{n.strip()}``" for n in names.split(","))


def _continues(lines: list[str], i: int, base: int) -> bool:
    """Whether line ``i`` belongs to the description above it: indented deeper, or blank lines that lead to
    such a line (a description of several paragraphs, or with a list)."""
    j = i
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j < len(lines) and _indent(lines[j]) > base


def convert(lines: list[str]) -> list[str]:
    """The docstring ``lines`` with dash-underlined sections as rubrics and their fields as definition lists."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        under = _UNDERLINE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if (under and line.strip() and _indent(line) == len(under.group(1))
                and len(lines[i + 1].strip()) >= len(line.strip()) and (i == 0 or not lines[i - 1].strip())):
            base = _indent(line)
            pad = " " * base
            out += [f"{pad}.. rubric:: {line.strip()}", ""]
            i += 2
            while i < len(lines) and not lines[i].strip():
                i += 1
            # The run of fields: lines at the section's indent that read ``name : text``, each with its
            # continuation lines (indented further); it ends at a blank line or at any other line.
            fields = False
            while i < len(lines) and _indent(lines[i]) == base and (m := _FIELD.match(lines[i].strip())):
                fields = True
                out += [pad + _term(m["names"]), f"{pad}    {m['text']}"]
                i += 1
                first = None  # the continuation's own indent: deeper lines (a nested list) keep their offset
                while i < len(lines) and (_continues(lines, i, base)):
                    if lines[i].strip():
                        first = _indent(lines[i]) if first is None else first
                        out.append(pad + " " * (4 + max(0, _indent(lines[i]) - first)) + lines[i].strip())
                    else:
                        out.append("")
                    i += 1
            if fields and i < len(lines) and lines[i].strip():
                out.append("")  # a line after the list that is not a field: a paragraph of its own
            continue
        out.append(line)
        i += 1
    return out


def process_docstring(app, what, name, obj, options, lines) -> None:
    lines[:] = convert(lines)


class _KnownWarnings(_logging.Filter):
    """Drops (shows as information) the warnings listed in ``known_docstring_warnings``; counts the hits."""

    def __init__(self, app) -> None:
        super().__init__()
        self.app = app
        self.hits: dict[int, int] = {}

    def filter(self, record) -> bool:
        location = getattr(record, "location", None)
        if not isinstance(location, str):
            location = get_node_location(location) if hasattr(location, "source") else str(location or "")
        text = f"{location}: {record.getMessage()}"
        for k, (docname, where, what) in enumerate(self.app.config.known_docstring_warnings):
            if where in location and what in text:
                self.hits[k] = self.hits.get(k, 0) + 1
                logger.info(f"[known docstring warning, to fix at the source] {text}")
                return False
        return True


def _unmark(app, doctree, docname) -> None:
    """Docutils marks the text of a fault with a link to its message, which the HTML output leaves out (a broken
    link). Any fault not listed has failed the build already; a listed one shows as its plain text."""
    for node in list(doctree.findall(nodes.problematic)):
        node.replace_self(nodes.inline("", node.astext(), ids=list(node["ids"])))


def _stale_entries(app, exception) -> None:
    if exception is not None:
        return
    known = app.config.known_docstring_warnings
    for k, (docname, where, what) in enumerate(known):
        if docname in app.env.found_docs and docname in app._ppsolve_read and not app._ppsolve_filter.hits.get(k):
            logger.warning(f"known_docstring_warnings: nothing matched {(docname, where, what)!r} (fixed? "
                           "then remove the entry from conf.py)")


def setup(app):
    app.connect("autodoc-process-docstring", process_docstring)
    app.add_config_value("known_docstring_warnings", [], "env", types=[list])
    app._ppsolve_filter = _KnownWarnings(app)
    app._ppsolve_read = set()
    for handler in _logging.getLogger("sphinx").handlers:
        if isinstance(handler, WarningStreamHandler):
            handler.filters.insert(0, app._ppsolve_filter)  # before Sphinx's own filters count the warning
    app.connect("env-before-read-docs", lambda app, env, docnames: app._ppsolve_read.update(docnames))
    app.connect("doctree-resolved", _unmark)
    app.connect("build-finished", _stale_entries)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
