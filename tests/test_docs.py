"The documentation site as a reader sees it: built by `make docs`'s builder, opened page by page in headless Chromium."
import importlib, pkgutil, re, shutil, subprocess, sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse, unquote
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-dev-shm-usage"]


def chromium(*args, timeout=120) -> str:
    assert CHROMIUM, "chromium is not installed: `make test` installs it (Debian packages chromium, chromium-driver)"
    r = subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


class Page(HTMLParser):
    "What the browser rendered: element ids, links, classes, visible text."
    def __init__(self, dom):
        super().__init__(); self.ids, self.links, self.classes, self.text, self.main = set(), [], set(), [], 0
        self.feed(dom)
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a: self.ids.add(a["id"])
        if tag == "a" and a.get("href"): self.links.append(a["href"])
        self.classes.update((a.get("class") or "").split())
        if tag == "main": self.main += 1
    def handle_data(self, d): self.text.append(d)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "_docs"
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "build_docs.py"), "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


@pytest.fixture(scope="module")
def rendered(site):
    "Every page's DOM after Chromium loaded it."
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 14
    return {p: Page(chromium("--dump-dom", p.as_uri())) for p in pages}


def test_every_page_opens_with_content_and_the_sidebar(rendered, site):
    n = len(rendered)
    for p, pg in rendered.items():
        text = "".join(pg.text)
        assert pg.main == 1 and len(text) > 500, p
        nav = [l for l in pg.links if l.endswith(".html")]
        assert len(set(nav)) >= n, (p, len(set(nav)))  # the sidebar names every page


def test_sidebar_in_notebook_order(rendered, site):
    pg = rendered[site / "index.html"]
    order = [l for l in pg.links if l.endswith(".html") and l != "index.html"]
    lib = [l for l in order if re.match(r"\d", l)]
    assert lib == sorted(lib) and lib[0].startswith("00_") and any(l.startswith("tutorials/") for l in order)
    assert order.index(lib[-1]) < min(i for i, l in enumerate(order) if l.startswith("tutorials/"))


def test_every_exported_name_has_an_api_entry(rendered):
    import cube_nb
    ids = set().union(*(pg.ids for pg in rendered.values()))
    missing = [f"{m.name}.{n}" for m in pkgutil.iter_modules(cube_nb.__path__) if not m.name.startswith("_")
               for n in getattr(importlib.import_module(f"cube_nb.{m.name}"), "__all__", []) if n not in ids]
    assert not missing, missing


def test_internal_links_resolve(rendered):
    bad = []
    for p, pg in rendered.items():
        for h in pg.links:
            u = urlparse(h)
            if u.scheme in ("http", "https", "mailto", "data"): continue
            target = (p.parent / unquote(u.path)).resolve() if u.path else p
            if not target.exists(): bad.append(f"{p.name}: {h} (no such file)"); continue
            if u.fragment and target.suffix == ".html" and u.fragment not in rendered[target].ids: bad.append(f"{p.name}: {h} (no such anchor)")
    assert not bad, bad[:20]


def test_no_page_shows_an_error_cell(rendered):
    for p, pg in rendered.items():
        assert "cell-error" not in pg.classes, p
        assert "Traceback (most recent call last)" not in "".join(pg.text), p


def test_screenshots_of_index_and_a_tutorial(site, tmp_path):
    "Rendered pictures with text and figures, not a blank page (looked at by hand in the closing note)."
    from PIL import Image
    for page in (site / "index.html", sorted((site / "tutorials").glob("*.html"))[0]):
        png = tmp_path / (page.stem + ".png")
        chromium(f"--screenshot={png}", "--window-size=1280,900", page.as_uri())
        im = Image.open(png).convert("L")
        assert im.size == (1280, 900)
        hist = im.histogram()
        assert max(hist) < 0.95 * sum(hist), page  # more than one flat colour
