"""The course website: ``python scripts/build_site.py`` builds it offline from the committed notebooks.

Always (no browser needed): the build succeeds with no Sphinx warning; every notebook, the instructor guide and
the landing page are pages; the landing page carries the syllabus map (the README's notebook table, linking
every notebook's page); each notebook page shows all of the notebook's outputs and pictures; and no page loads
a script, style sheet, font or picture from another server (MathJax is served from the site's _static/).

In Chromium (only with LLM_MECHANICS_BROWSER_TESTS=1, see tests/conftest.py; .ci/run sets it): every page is
served from 127.0.0.1 and opened with every request to another host blocked and recorded. A page passes when
nothing was requested from elsewhere, no request failed, the console shows no error and no script threw, every
picture loaded, every formula was typeset by MathJax without a TeX error, and no raw TeX (``\\(``, ``$$``,
``\\frac``...) is left in the text outside code. Screenshots (the top of each page, its first displayed
formula and its first figure) go to test-artifacts/site/.
"""

from __future__ import annotations

import functools
import html
import json
import re
import subprocess
import sys
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ARTIFACTS = REPO / "test-artifacts" / "site"  # gitignored (test-artifacts/)
# The pages besides the notebooks (see PAGES in scripts/build_site.py).
OTHER_PAGES = ["index", "notebooks/README", "binder/README", "benchmarks/README"]
PAGES = OTHER_PAGES + [f"notebooks/{nb.stem}" for nb in NOTEBOOKS]

@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built by the one command into a temporary folder (website/_build is left alone)."""
    out = tmp_path_factory.mktemp("website") / "html"
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "build_site.py"), "--out", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"the site build failed:\n{result.stdout}\n{result.stderr}"
    assert not result.stderr.strip(), f"the site build printed warnings:\n{result.stderr}"
    return out


def _page_file(site: Path, page: str) -> Path:
    return site / f"{page}.html"


# -------------------------------------------------------------------------------------------- the built files

class _Collector(HTMLParser):
    """Tags with their attributes, and the links inside <table> elements."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.table_links: list[str] = []
        self._tables = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self._tables += 1
        elif tag == "a" and self._tables and attrs.get("href"):
            self.table_links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "table":
            self._tables -= 1


def _parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def test_every_notebook_the_guide_and_a_landing_page_are_pages(site):
    missing = [page for page in PAGES if not _page_file(site, page).is_file()]
    assert not missing, f"no page for {missing}"
    assert NOTEBOOKS, "no notebooks found"


def test_landing_page_has_the_syllabus_map(site):
    """The README's notebook table, each row linking that notebook's page."""
    links = {href.split("#")[0] for href in _parse(site / "index.html").table_links}
    missing = [nb.stem for nb in NOTEBOOKS if f"notebooks/{nb.stem}.html" not in links]
    assert not missing, f"the landing page's notebook table has no link to {missing}"
    assert "notebooks/README.html" in {h.split("#")[0] for _, a in _parse(site / "index.html").tags
                                       if (h := a.get("href"))}, "the landing page links the instructor guide"


def _expected_outputs(notebook: Path) -> tuple[int, int]:
    """(code cells with outputs, pictures among the outputs) of a committed notebook."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = pictures = 0
    for cell in nb["cells"]:
        outputs = cell.get("outputs") or []
        if cell["cell_type"] != "code" or not outputs:
            continue
        cells += 1
        for output in outputs:
            data = output.get("data", {})
            # A widget shows its static picture: the page's pictures are the outputs whose best format is one.
            if "text/html" not in data and any(k in data for k in ("image/png", "image/svg+xml", "image/jpeg")):
                pictures += 1
    return cells, pictures


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_page_shows_every_output(site, notebook):
    text = _page_file(site, f"notebooks/{notebook.stem}").read_text(encoding="utf-8")
    cells, pictures = _expected_outputs(notebook)
    shown = len(re.findall(r'class="cell_output[ "]', text))
    assert shown == cells, f"{notebook.name}: {cells} code cells have outputs, the page shows {shown}"
    images = re.findall(r'<img [^>]*src="\.\./_images/([^"]+)"', text)
    assert len(images) == pictures, f"{notebook.name}: {pictures} pictures in the notebook, {len(images)} on the page"
    absent = [name for name in images if not (site / "_images" / name).is_file()]
    assert not absent, f"pictures missing from _images/: {absent}"
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    if any("$" in "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"):
        assert 'class="math notranslate nohighlight"' in text, f"{notebook.name}: its math did not become math"
        assert "_static/mathjax/tex-mml-chtml.js" in text, f"{notebook.name}: the page does not load MathJax"


def test_no_page_loads_anything_from_another_server(site):
    """Links may point anywhere; what a page loads (scripts, styles, fonts, pictures, frames) is the site's."""
    loads = {"script": "src", "img": "src", "iframe": "src", "source": "src", "video": "src", "audio": "src",
             "link": "href"}
    remote = []
    for page in sorted(site.rglob("*.html")):
        for tag, attrs in _parse(page).tags:
            attr = loads.get(tag)
            if tag == "link" and attrs.get("rel") in ("canonical", "search", "index", "next", "prev"):
                continue
            value = attrs.get(attr or "", "") or ""
            if attr and re.match(r"^([a-z][a-z0-9+.-]*:|//)", value, re.I) and not value.startswith("data:"):
                remote.append(f"{page.relative_to(site)}: <{tag} {attr}={value!r}>")
    assert not remote, "pages load files from elsewhere:\n" + "\n".join(remote)
    assert (site / "_static" / "mathjax" / "tex-mml-chtml.js").is_file(), "MathJax is not in _static/"
    assert list((site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff")), \
        "MathJax's fonts are not in _static/"


# ---------------------------------------------------------------------------------------------------- Chromium

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def server(site):
    """The built site over HTTP on 127.0.0.1, as GitHub Pages serves it (MathJax loads its parts on demand,
    which file:// URLs would not allow)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# In the page: what is shown, once MathJax (where the page loads it) has finished.
_INSPECT = r"""
async () => {
  // Sphinx sets window.MathJax to its configuration first; MathJax itself defines MathJax.startup.promise.
  const deadline = Date.now() + 30000;
  const wantsMathJax = !!document.querySelector('script[src*="mathjax"]');
  while (wantsMathJax && !(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 50));
  }
  const mathjax = !!(window.MathJax && MathJax.startup && MathJax.startup.promise);
  if (mathjax) await MathJax.startup.promise;
  await document.fonts.ready;
  const maths = Array.from(document.querySelectorAll('.math'));
  const untypeset = maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80));
  const texErrors = Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]'))
                         .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80));
  const brokenImages = Array.from(document.images)
                            .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
  // Raw TeX in the prose: text outside code, outputs' <pre>, scripts and MathJax's own output.
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .cell_output';
  const tex = /\\\(|\\\[|\$\$|\\(frac|sum|mathrm|text|sqrt|begin|left|right|cdot|log)\b|\$[^\s$][^$\n]{0,80}[^\s$\\]\$/;
  const rawTex = [];
  const article = document.querySelector('article') || document.body;
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest(skip)) continue;
    if (tex.test(node.textContent)) rawTex.push(node.textContent.trim().slice(0, 100));
  }
  return {maths: maths.length, typeset: document.querySelectorAll('mjx-container').length,
          untypeset, texErrors, images: document.images.length, brokenImages, rawTex,
          title: document.title, mathjax};
}
"""


@pytest.mark.browser
@pytest.mark.parametrize("page_name", PAGES)
def test_page_renders_in_chromium(browser, server, site, page_name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / page_name.replace("/", "__")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    elsewhere, failed, console_errors = [], [], []

    def route(route):
        if route.request.url.startswith(server + "/"):
            route.continue_()
        else:  # the site must work offline: nothing from another host
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: failed.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None)
    try:
        response = page.goto(f"{server}/{page_name}.html", wait_until="load")
        assert response is not None and response.ok, f"{page_name}: HTTP {response and response.status}"
        state = page.evaluate(_INSPECT)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shot) + ".png")
        display_math = page.locator("div.math mjx-container")
        if display_math.count():
            display_math.first.scroll_into_view_if_needed()
            page.screenshot(path=str(shot) + "-math.png")
        figure = page.locator(".cell_output img")
        if figure.count():
            figure.first.scroll_into_view_if_needed()
            figure.first.screenshot(path=str(shot) + "-figure.png")
    finally:
        context.close()

    assert not elsewhere, f"{page_name} requested files from elsewhere: {elsewhere}"
    assert not failed, f"{page_name}: requests failed: {failed}"
    assert not console_errors, f"{page_name}: console errors: {console_errors}"
    assert state["images"] == len(re.findall(r"<img ", _page_file(site, page_name).read_text(encoding="utf-8")))
    assert not state["brokenImages"], f"{page_name}: pictures that did not load: {state['brokenImages']}"
    source = _page_file(site, page_name).read_text(encoding="utf-8")
    if 'class="math notranslate nohighlight"' in source:
        assert state["mathjax"], f"{page_name}: has math but MathJax did not load"
        assert state["maths"] and not state["untypeset"], \
            f"{page_name}: formulas left as TeX: {state['untypeset'][:5]}"
        assert state["typeset"] >= state["maths"]
        assert not state["texErrors"], f"{page_name}: MathJax reports TeX errors: {state['texErrors'][:5]}"
    assert not state["rawTex"], f"{page_name}: raw TeX in the text: {[html.unescape(t) for t in state['rawTex'][:5]]}"
