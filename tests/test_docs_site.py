"""The documentation site, opened page by page in a real headless browser (Chromium, driven by Selenium).

``test_docs_site`` builds the site with ``docs/site/build.sh`` (warnings are errors) into a temporary folder, or
checks the one that ``PPSOLVE_DOCS_HTML`` names (already built, e.g. by CI's docs step), serves it over HTTP on
localhost (``file://`` URLs hide some failures), and fails on:

* a JavaScript error: a browser console entry of level SEVERE (an exception, a script or stylesheet that fails
  to load, ...);
* a broken internal link: an ``<a href>`` into the site whose page does not exist, or whose ``#anchor`` is not
  an ``id`` (or ``name``) on that page;
* a missing image: an ``<img>`` with ``naturalWidth == 0`` once loaded;
* a script, stylesheet or image fetched from another host (the site must work offline).

The checker (``check_site``) is tested on a small hand-written site with one fault of each kind. Chromium and
its driver come from the Debian packages (``apt-get install chromium chromium-driver``), Selenium and Sphinx
from the ``docs`` extra; without them these tests are skipped.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
import time
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "docs" / "site" / "build.sh"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _missing_browser() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[docs]')"
    return None


@contextmanager
def serve(root: Path):
    """An HTTP server for the folder ``root`` on a free localhost port, in a thread: yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            # Browsers ask every host for /favicon.ico: a site without one is not at fault (a 404 would be a
            # console error).
            if urlsplit(self.path).path == "/favicon.ico" and not (root / "favicon.ico").is_file():
                self.send_response(204)
                self.end_headers()
                return
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def browser():
    """Headless Chromium from the Debian packages, with its console log readable (``get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class _Anchors(HTMLParser):
    """The ``id`` and ``name`` attributes of a page: the targets of ``#fragment`` links."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (key == "name" and tag == "a"):
                self.names.add(value or "")


@functools.cache
def _anchors(path: Path) -> frozenset[str]:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.names)


# Run in the page once it has loaded: load lazy images now, then report what the checks need.
_PAGE_SCRIPT = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
images.forEach(img => { img.loading = "eager"; });
const settled = () => images.every(img => img.complete);
const start = Date.now();
(function wait() {
  if (settled() || Date.now() - start > 10000) {
    done({
      images: images.map(img => [img.currentSrc || img.src, img.naturalWidth]),
      links: Array.from(document.querySelectorAll("a[href]")).map(a => [a.getAttribute("href"), a.href]),
      resources: Array.from(document.querySelectorAll("script[src], link[href][rel~=stylesheet], img[src]"))
        .map(e => e.src || e.href),
    });
  } else {
    setTimeout(wait, 50);
  }
})();
"""


def _target(root: Path, base: str, url: str) -> Path | None:
    """The file under ``root`` that the site URL ``url`` serves (``None``: not a URL of the site)."""
    if not url.startswith(base):
        return None
    path = root / unquote(urlsplit(url).path[len(urlsplit(base).path):])
    return path / "index.html" if path.is_dir() else path


def check_page(driver, root: Path, base: str, page: Path) -> list[str]:
    """The faults of one page (see the module docstring), each as a line naming the page."""
    name = page.relative_to(root).as_posix()
    driver.get(base + name)
    found = driver.execute_async_script(_PAGE_SCRIPT)
    faults = []
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            faults.append(f"{name}: JavaScript error: {entry.get('message')}")
    for src, width in found["images"]:
        if not width:
            faults.append(f"{name}: missing image: {src}")
    for url in found["resources"]:
        if url and urlsplit(url).scheme in ("http", "https") and not url.startswith(base):
            faults.append(f"{name}: fetches from another host: {url}")
    for written, url in found["links"]:
        if urlsplit(url).scheme not in ("http", "https"):
            continue  # mailto:, javascript:, ...
        address, fragment = urldefrag(url)
        target = _target(root, base, address)
        if target is None:
            continue  # another site: not checked (the machines are offline)
        if not target.is_file():
            faults.append(f"{name}: broken link {written!r}: no page {target.relative_to(root).as_posix()}")
        elif fragment and target.suffix == ".html" and unquote(fragment) not in _anchors(target):
            faults.append(f"{name}: broken link {written!r}: no #{unquote(fragment)} on "
                          f"{target.relative_to(root).as_posix()}")
    return faults


def check_site(root: Path, driver=None) -> list[str]:
    """Open every HTML page under ``root`` in the browser; the faults of all of them (empty: all is well)."""
    root = Path(root).resolve()
    pages = sorted(root.rglob("*.html"))
    if not pages:
        return [f"{root}: no HTML pages"]
    with serve(root) as base, (browser() if driver is None else _given(driver)) as drv:
        drv.get_log("browser")  # start with an empty log
        return [fault for page in pages for fault in check_page(drv, root, base, page)]


@contextmanager
def _given(driver):
    yield driver


# -- the checker, on a hand-written site with one fault of each kind ---------------------------------------------

# A 1 x 1 PNG.
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5a3d3"
                      "2b0000000049454e44ae426082")


def _page(body: str) -> str:
    return f"<!doctype html><html><head><meta charset='utf-8'><title>t</title></head><body>{body}</body></html>"


@pytest.fixture(scope="module")
def driver():
    reason = _missing_browser()
    if reason:
        pytest.skip(reason)
    with browser() as drv:
        yield drv


@pytest.fixture
def site(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "pixel.png").write_bytes(PIXEL)
    (tmp_path / "index.html").write_text(_page(
        "<h1 id='top'>Index</h1><a href='sub/'>sub</a> <a href='#top'>top</a> <a href='https://example.org/'>out</a>"
        "<a href='mailto:a@b.c'>mail</a> <img src='pixel.png' alt=''>"))
    (tmp_path / "sub" / "index.html").write_text(_page(
        "<p id='x'>sub</p><a href='../index.html#top'>up</a> <img src='../pixel.png' loading='lazy' alt=''>"))
    return tmp_path


def test_checker_passes_a_sound_site(driver, site):
    assert check_site(site, driver) == []


def test_checker_reports_a_broken_link(driver, site):
    (site / "links.html").write_text(_page(
        "<a href='nowhere.html'>gone</a> <a href='index.html#no-such-anchor'>anchor</a> <a href='sub/#x'>ok</a>"))
    faults = check_site(site, driver)
    assert len(faults) == 2, faults
    assert "links.html: broken link 'nowhere.html': no page nowhere.html" in faults[0]
    assert "links.html: broken link 'index.html#no-such-anchor': no #no-such-anchor on index.html" in faults[1]


def test_checker_reports_a_missing_image(driver, site):
    (site / "image.html").write_text(_page("<img src='pixel.png' alt=''> <img src='no-such.png' alt=''>"))
    faults = check_site(site, driver)
    # The image's failed request is also in the console log: two faults, both naming the file.
    assert any(f.startswith("image.html: missing image: ") and f.endswith("/no-such.png") for f in faults), faults
    assert all(f.startswith("image.html: ") and "no-such.png" in f for f in faults), faults


def test_checker_reports_a_javascript_error(driver, site):
    (site / "script.html").write_text(_page("<script>undefinedFunction();</script><p>text</p>"))
    faults = check_site(site, driver)
    assert len(faults) == 1, faults
    assert faults[0].startswith("script.html: JavaScript error: ") and "undefinedFunction" in faults[0]


def test_checker_reports_an_external_resource(driver, site):
    (site / "cdn.html").write_text(_page("<script src='https://cdn.invalid/lib.js'></script>"))
    faults = check_site(site, driver)
    assert "cdn.html: fetches from another host: https://cdn.invalid/lib.js" in faults, faults


# -- which examples enter the gallery ----------------------------------------------------------------------------

def test_gallery_takes_every_example_with_a_title(tmp_path, monkeypatch):
    """A script of examples/ enters the gallery once its docstring starts with a title underlined with '='."""
    pytest.importorskip("PIL")
    monkeypatch.syspath_prepend(str(ROOT / "docs" / "site"))
    import _gallery

    (tmp_path / "titled.py").write_text('r"""A title\n===========\n\nText.\n"""\nprint(1)\n')
    (tmp_path / "short.py").write_text('"""A title\n====\n"""\n')  # underline shorter than the title
    (tmp_path / "plain.py").write_text('"""Just a sentence.\n\nMore.\n"""\n')
    (tmp_path / "none.py").write_text("print(1)\n")
    monkeypatch.setattr(_gallery, "EXAMPLES", tmp_path)
    assert _gallery.untitled_examples() == ["none.py", "plain.py", "short.py"]
    assert all(_gallery.has_title(p) for p in (ROOT / "examples").glob("*.py")
               if p.name in ("restore_photo.py", "operator_demo.py", "deblur_motion.py", "large_image.py"))


# -- the site itself -----------------------------------------------------------------------------------------------

@pytest.mark.slow  # builds the site (running the quick examples) unless PPSOLVE_DOCS_HTML names a built one
def test_docs_site(driver, tmp_path):
    built = os.environ.get("PPSOLVE_DOCS_HTML")
    if built:
        html = Path(built)
        assert (html / "index.html").is_file(), f"PPSOLVE_DOCS_HTML={built}: no index.html there"
    else:
        for module in ("sphinx", "sphinx_gallery", "myst_parser", "furo", "latex2mathml"):
            pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[docs]')")
        if shutil.which("bash") is None:
            pytest.skip("bash is missing")
        html = tmp_path / "html"
        start = time.monotonic()
        run = subprocess.run(["bash", str(BUILD), str(html)], capture_output=True, text=True, timeout=600,
                             check=False)
        assert run.returncode == 0, f"docs build failed:\n{run.stdout[-4000:]}\n{run.stderr[-8000:]}"
        print(f"docs built in {time.monotonic() - start:.0f} s")
    pages = {p.relative_to(html).as_posix() for p in html.rglob("*.html")}
    # The parts of the site: the README as the landing page, the guides, the gallery, the API reference.
    for page in ("index.html", "docs/design.html", "auto_examples/index.html", "auto_examples/restore_photo.html",
                 "api/index.html", "api/generated/ppsolve.operators.html"):
        assert page in pages, f"{page} is not in the site"
    start = time.monotonic()
    faults = check_site(html, driver)
    print(f"{len(pages)} pages checked in {time.monotonic() - start:.0f} s")
    assert not faults, f"{len(faults)} faults:\n" + "\n".join(faults)
