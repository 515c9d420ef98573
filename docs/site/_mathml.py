"""A Sphinx HTML math renderer that writes MathML, which browsers draw natively: no JavaScript, nothing fetched.

Sphinx's default renderer, MathJax, loads its script from a CDN when a page holds maths; these machines are
offline, so the script would fail to load (a console error in the browser test) and the maths would show as
raw LaTeX. ``latex2mathml`` turns each formula into MathML at build time instead. A formula it cannot convert is
a warning (the build runs with ``-W``): fix the LaTeX in the docstring.
"""
from __future__ import annotations

import html

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _mathml(latex: str, display: str, node) -> str:
    try:
        return convert(latex.strip(), display=display)
    except Exception as exc:  # latex2mathml raises its own error types for unknown commands, bad braces, ...
        logger.warning("cannot convert this LaTeX to MathML (%s): %s", exc, latex, location=node)
        return f"<code>{html.escape(latex)}</code>"


def visit_math(self, node) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate"))
    self.body.append(_mathml(node.astext(), "inline", node))
    self.body.append("</span>")
    raise nodes.SkipNode


def visit_displaymath(self, node) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math notranslate"))
    if node.get("number"):
        self.body.append(f'<span class="eqno">({node["number"]})</span>')
    # A ``.. math::`` block may hold several formulas, one per paragraph.
    for part in node.astext().split("\n\n"):
        if part.strip():
            self.body.append(_mathml(part, "block", node))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
