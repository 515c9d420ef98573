"""sphinx-gallery helpers for ``examples/``: which examples enter the gallery, and how the quick ones run in it.

The examples are plain command-line scripts, run as ``python examples/X.py``. Inside the gallery they run in the
Sphinx process, so three things are bridged here, without changing the scripts:

* ``__file__``: sphinx-gallery never defines it, and the scripts find the repository from it
  (``Path(__file__).resolve().parents[1]``). ``example_file`` sets it, as a builtin, to the script's path while
  the script runs (a name a module does not define is looked up in the builtins), and removes it afterwards.
* their output folder: a script with an ``--out`` option gets ``--out <a temporary folder>/<name>``
  (``reset_argv``), so that nothing is written into the checkout (sphinx-gallery runs each script in
  ``examples/``). The folder is removed when the build ends (``cleanup``, connected in ``conf.py``).
* their figures: the scripts write PNG (and TIFF) files, not matplotlib figures. ``output_images``, an image
  scraper, shows every image that a script wrote into its output folder, in the order written.

Names are given to sphinx-gallery as strings (``"_gallery.reset_argv"``), so that Sphinx can pickle its
configuration (a function in the configuration is a warning, and the build runs with ``-W``).
"""
from __future__ import annotations

import ast
import builtins
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_OUT = Path(tempfile.mkdtemp(prefix="ppsolve-gallery-"))
_SHOWN: dict[str, set[Path]] = {}
_IMAGES = (".png", ".tif", ".tiff")


def has_title(path: Path) -> bool:
    """Whether the script's docstring starts with a title underlined with ``=`` (sphinx-gallery's page title).

    A docstring without one makes a page without a title, which fails the build (the gallery's index links to
    each page by its title).
    """
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=False) or ""
    except SyntaxError:
        return False
    lines = doc.lstrip("\n").splitlines()
    return (len(lines) >= 2 and bool(lines[0].strip()) and re.fullmatch(r"=+", lines[1].rstrip()) is not None
            and len(lines[1].rstrip()) >= len(lines[0].rstrip()))


def untitled_examples() -> list[str]:
    """The file names of the examples that cannot enter the gallery yet (no title, see ``has_title``)."""
    return sorted(p.name for p in EXAMPLES.glob("*.py") if not has_title(p))


def out_dir(src_file) -> Path:
    return _OUT / Path(src_file).stem


def reset_argv(gallery_conf, script_vars) -> list[str]:
    """The command-line arguments of an example run in the gallery: its defaults, its output in a temporary
    folder."""
    src = Path(script_vars["src_file"])
    if re.search(r"""add_argument\(\s*["']--out["']""", src.read_text(encoding="utf-8")):
        return ["--out", str(out_dir(src))]
    return []


def example_file(gallery_conf, fname, when) -> None:
    """A ``reset_modules`` hook: ``__file__`` for the example about to run; a fresh output folder."""
    if fname is None:  # called once on entering the folder of examples
        return
    if when == "before":
        src = EXAMPLES / Path(fname).name
        builtins.__file__ = str(src)
        shutil.rmtree(out_dir(src), ignore_errors=True)
        _SHOWN[src.stem] = set()
    elif hasattr(builtins, "__file__"):
        del builtins.__file__


def _as_png(path: Path, target: str) -> None:
    if path.suffix.lower() == ".png":
        shutil.copyfile(path, target)
        return
    import tifffile  # a ppsolve dependency; Pillow reads neither BigTIFF nor every tiling

    pixels = tifffile.imread(path)
    if pixels.dtype != np.uint8:
        pixels = np.rint(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(target)


def output_images(block, block_vars, gallery_conf) -> str:
    """An image scraper: the images that the example wrote into its output folder since the last code block."""
    from sphinx_gallery.scrapers import figure_rst

    src = Path(block_vars["src_file"])
    folder = out_dir(src)
    if not folder.is_dir():
        return ""
    shown = _SHOWN.setdefault(src.stem, set())
    new = sorted((p for p in folder.rglob("*") if p.suffix.lower() in _IMAGES and p not in shown),
                 key=lambda p: (p.stat().st_mtime_ns, p.name))
    rst = []
    for path in new:
        shown.add(path)
        target = block_vars["image_path_iterator"].next()
        _as_png(path, target)
        # One figure each, at its own size (a list of several would be shrunk into a row of thumbnails).
        rst.append(figure_rst([target], gallery_conf["src_dir"]))
    return "".join(rst)


def cleanup(app, exception) -> None:
    shutil.rmtree(_OUT, ignore_errors=True)
