"""Sphinx configuration of ppsolve's documentation site. Build it with ``bash docs/site/build.sh [OUT]``.

The site is put together from files that live elsewhere in the repository, without moving them:

* the landing page (``index.md``) includes the README;
* every ``docs/*.md`` becomes a page ``docs/<name>.html``: ``sync_markdown_pages`` writes, for each, a one-line
  stub ``docs/site/docs/<name>.md`` that includes it (MyST ``{include}``). The stubs mirror the repository's
  layout, so the README's ``docs/x.md`` links and the pages' links to each other resolve as they do on GitHub;
* the API reference: ``write_api_pages`` writes one page per public module into ``api/generated/`` (autodoc,
  members as listed by the module's ``__all__``). Optional modules that do not import here (their library is
  not installed) are left out;
* the gallery: sphinx-gallery renders ``examples/*.py``; the quick ones run during the build (``EXECUTED``).

All generated sources are ignored by git (``docs/site/.gitignore``).
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path

from sphinx.util import logging

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))  # _docstrings, _gallery, _mathml
sys.path.insert(0, str(ROOT))  # ppsolve from the checkout, installed or not

import _gallery  # noqa: E402

import ppsolve  # noqa: E402

logger = logging.getLogger("ppsolve-docs")

project = "ppsolve"
author = "the ppsolve authors"
copyright = "the ppsolve authors"
release = version = ppsolve.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "_docstrings",
    "_mathml",
]

root_doc = "index"
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# sphinx-gallery's tables of run times load jQuery and DataTables from CDNs (no option turns that off): the site
# must work offline, and each example's page gives its own run time.
exclude_patterns = ["sg_execution_times.rst", "auto_examples/sg_execution_times.rst"]

# -- HTML: a theme with every asset in the package (no CDN, no web fonts) --------------------------------------
html_theme = "furo"
html_title = f"ppsolve {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_copy_source = False
# Maths as MathML (``_mathml``), drawn by the browser: Sphinx's default, MathJax, is a script from a CDN.
html_math_renderer = "mathml"

# -- MyST (the README and docs/*.md) --------------------------------------------------------------------------
myst_enable_extensions = ["deflist"]
myst_heading_anchors = 3  # "#section" links in the Markdown pages resolve, as on GitHub

# -- API reference -------------------------------------------------------------------------------------------
# The core's public modules: each must import (a failure is a warning, and the build runs with -W).
API_MODULES = [
    "ppsolve", "ppsolve.operators", "ppsolve.inverses", "ppsolve.prox", "ppsolve.admm", "ppsolve.staged",
    "ppsolve.restore", "ppsolve.photo", "ppsolve.blockwise", "ppsolve.batch", "ppsolve.largefile",
    "ppsolve.cluster", "ppsolve.zoo", "ppsolve.train", "ppsolve.nn", "ppsolve.nn.onnx", "ppsolve.metrics",
    "ppsolve.imagefile", "ppsolve.noise", "ppsolve.baselines",
]
# Bridges to other libraries: documented where they import (their libraries are optional).
OPTIONAL_API_MODULES = [
    "ppsolve.interop", "ppsolve.interop.pyproximal", "ppsolve.interop.deepinv",
    "ppsolve.interop.deepinv_physics", "ppsolve.interop.scico",
]

# Docstring faults that warn (and so fail the build), to be fixed in the docstrings (not here): each is
# (the page, a part of the warning's location, a part of its message). _docstrings shows a listed warning as a
# message; an entry that no longer matches anything on a page that was built again is a warning: remove it.
known_docstring_warnings: list = []

autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True  # ``inverse="auto"`` rather than a repr of a default computed at import
autosummary_generate = False  # the module pages are written by write_api_pages, below
# The docstrings' "Parameters" / "Attributes" sections are rendered by _docstrings (not napoleon: their entries
# are "name : description", which napoleon reads as "name : type").

# -- Gallery ---------------------------------------------------------------------------------------------------
# The examples that run during the build, and so show their output and figures: those that take under a minute
# here (2 cores, one thread, measured as `python examples/X.py`): operator_demo ~10 s, restore_photo ~48 s,
# large_image ~8 s. The others are shown with their code only:
#   deblur_motion.py    ~85 s (staged ADMM with the learned prior on a whole 481 x 321 image, plus TV-ADMM);
#   deepinv_admm.py     ~37 s, scico_admm.py ~53 s: their libraries (deepinv; SCICO and JAX) are not in every
#                       environment, and together they would double the build's time;
#   pyproximal_admm.py  ~24 s (17 s in the build), PyProximal is in the test extra: to run here once its
#                       ``__doc__.splitlines()[0]`` reads ``__doc__.split("\n")[0]`` (sphinx-gallery runs each
#                       script with ``__doc__ = ""``): then add it to EXECUTED_WITH.
EXECUTED = ["operator_demo.py", "restore_photo.py", "large_image.py"]
EXECUTED_WITH: dict[str, str] = {"pyproximal_admm.py": "pyproximal"}  # script: the library it needs
EXECUTED += [name for name, library in EXECUTED_WITH.items() if importlib.util.find_spec(library) is not None]
UNTITLED = _gallery.untitled_examples()

sphinx_gallery_conf = {
    "examples_dirs": str(_gallery.EXAMPLES),
    "gallery_dirs": "auto_examples",
    # Every script of examples/ enters the gallery (a new one by itself), except those whose docstring has no
    # title yet: sphinx-gallery needs one (see _gallery.has_title), and a page without one fails the build.
    "ignore_pattern": "|".join(rf"(^|[\\/]){re.escape(n)}$" for n in UNTITLED) or r"(?!)",
    "filename_pattern": "|".join(rf"(^|[\\/]){re.escape(n)}$" for n in EXECUTED),
    "reset_argv": "_gallery.reset_argv",
    "reset_modules": ("matplotlib", "_gallery.example_file"),
    "reset_modules_order": "both",
    "image_scrapers": ("matplotlib", "_gallery.output_images"),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "show_signature": False,
    "show_memory": False,
    "remove_config_comments": True,
}
for _name in UNTITLED:
    logger.info(f"[ppsolve-docs] examples/{_name} is left out of the gallery: its docstring has no title "
                "underlined with '=' (sphinx-gallery needs one)")


def _mirror(src: Path, text: str) -> None:
    """Write ``text`` to ``src`` unless it already holds it (an unchanged stub keeps its time: no rebuild)."""
    if not src.exists() or src.read_text(encoding="utf-8") != text:
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(text, encoding="utf-8")


def prune_gallery(app) -> None:
    """Remove what sphinx-gallery wrote for examples no longer in the gallery (it leaves them: a stale page
    would be a document in no toctree, a warning)."""
    gallery = HERE / sphinx_gallery_conf["gallery_dirs"]
    keep = {p.stem for p in _gallery.EXAMPLES.glob("*.py")} - {Path(n).stem for n in UNTITLED}
    for path in list(gallery.glob("*")) + list(gallery.glob("images/*")) + list(gallery.glob("images/thumb/*")):
        stem = path.name.split(".")[0]
        stem = re.sub(r"^sphx_glr_(.*?)(_\d{3}|_thumb)$", r"\1", stem)
        if path.is_file() and stem not in keep | {"index", "sg_execution_times"}:
            path.unlink()


def sync_markdown_pages(app) -> None:
    """A stub ``docs/site/docs/<name>.md`` including each ``docs/<name>.md``; stale stubs removed."""
    out = HERE / "docs"
    pages = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    for stale in {p.stem for p in out.glob("*.md")} - set(pages):
        (out / f"{stale}.md").unlink()
    for name in pages:
        # relative-images: image paths as written in the page, relative to docs/. Links to other pages resolve
        # relative to the stub, whose folder mirrors docs/.
        _mirror(out / f"{name}.md", f"```{{include}} ../../{name}.md\n:relative-images:\n```\n")


def _imports(name: str) -> bool:
    try:
        importlib.import_module(name)
    except Exception as exc:  # ImportError, or a library that fails in its own way on import
        logger.info(f"[ppsolve-docs] {name} is left out of the API reference: {type(exc).__name__}: {exc}")
        return False
    return True


def write_api_pages(app) -> None:
    """``api/generated/<module>.rst`` for each public module; stale pages removed."""
    out = HERE / "api" / "generated"
    modules = list(API_MODULES)
    for name in API_MODULES:
        importlib.import_module(name)  # the core's modules must import: let the build fail loudly
    modules += [name for name in OPTIONAL_API_MODULES if _imports(name)]
    for stale in {p.stem for p in out.glob("*.rst")} - set(modules):
        (out / f"{stale}.rst").unlink()
    for name in modules:
        # The top level re-exports names documented in their own modules: no second index entry for them
        # (it would make every cross-reference to them ambiguous).
        if name == "ppsolve":
            body = "   :no-index:\n"
        else:  # a table of the module's exports, linking to their entries below
            module = importlib.import_module(name)
            # Classes and functions: a constant's docstring is its type's (a dict's, say), not its own.
            exports = sorted((e for e in getattr(module, "__all__", []) if callable(getattr(module, e, None))),
                             key=str.lower)
            body = "".join(["\n   .. rubric:: Summary\n\n   .. autosummary::\n\n"]
                           + [f"      {export}\n" for export in exports]) if exports else ""
        _mirror(out / f"{name}.rst", f"{name}\n{'=' * len(name)}\n\n.. automodule:: {name}\n{body}")


def setup(app):
    app.connect("config-inited", lambda app, config: prune_gallery(app))  # before sphinx-gallery runs
    app.connect("builder-inited", sync_markdown_pages)
    app.connect("builder-inited", write_api_pages)
    app.connect("build-finished", _gallery.cleanup)
