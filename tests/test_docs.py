"The documentation site as a reader sees it: built by `make docs`'s builder, opened page by page in headless Chromium."
import functools, http.server, importlib, pkgutil, re, shutil, subprocess, sys, threading, time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse, unquote
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-dev-shm-usage"]


def chromium(*args, timeout=120) -> str:
    assert CHROMIUM, "chromium is not installed: `make test` installs it (Debian packages chromium, chromium-driver)"
    r = subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


class Page(HTMLParser):
    "What the browser rendered: element ids, links, classes, visible text, the text of printed outputs."
    def __init__(self, dom):
        super().__init__()
        self.ids, self.links, self.classes, self.text, self.main = set(), [], set(), [], 0
        self.outs, self.in_out, self.api, self.src, self.prose, self.in_code = [], 0, 0, 0, [], 0
        self.feed(dom)
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if "id" in a: self.ids.add(a["id"])
        if tag == "a" and a.get("href"): self.links.append(a["href"])
        self.classes.update(cls)
        if tag == "main": self.main += 1
        if tag == "pre" and "out" in cls: self.in_out += 1
        if tag in ("h3", "h4") and "api" in cls: self.api += 1
        if tag == "a" and "src" in cls: self.src += 1
        if tag == "code": self.in_code += 1
    def handle_endtag(self, tag):
        if tag == "pre" and self.in_out: self.in_out -= 1
        if tag == "code" and self.in_code: self.in_code -= 1
    def handle_data(self, d):
        self.text.append(d)
        if self.in_out: self.outs.append(d)
        if not self.in_code: self.prose.append(d)  # what is not code: prose, tables, outputs


def git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    "The site `make docs` builds (into a temporary folder), and the working tree's state before and after it."
    out = tmp_path_factory.mktemp("site") / "_docs"
    before = git_status()
    r = subprocess.run(["make", "--no-print-directory", "docs", f"DOCS_OUT={out}"], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return out, before, git_status()


@pytest.fixture(scope="module")
def site(built): return built[0]


@pytest.fixture(scope="module")
def served(site):
    "The site over HTTP on localhost (the search index is fetched by a web worker, which file:// URLs do not allow)."
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture(scope="module")
def browser():
    "Chromium driven through WebDriver: what a reader's browser runs, scripts included."
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    o = Options()
    o.binary_location = CHROMIUM
    for f in [*FLAGS, "--window-size=1280,900"]: o.add_argument(f)
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=o)
    yield d
    d.quit()


WIDTHS = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


def html_pages(site) -> list:
    return sorted(p for p in site.rglob("*.html") if p.name != "404.html")  # the server's error page links from /


@pytest.fixture(scope="module")
def rendered(site, served, browser):
    "Every page's DOM after Chromium loaded it (scripts run), and its scroll and client widths at 1280 px."
    pages = html_pages(site)
    assert len(pages) >= 14
    out = {}
    for p in pages:
        browser.get(f"{served}/{p.relative_to(site).as_posix()}")
        out[p] = Page(browser.page_source)
        out[p].widths = tuple(browser.execute_script(WIDTHS))
    return out


def test_every_page_opens_with_content_and_the_sidebar(rendered, site):
    n = len(rendered)
    for p, pg in rendered.items():
        text = "".join(pg.text)
        assert pg.main == 1 and len(text) > 500, p
        nav = [l for l in pg.links if l.endswith(".html")]
        assert len(set(nav)) >= n, (p, len(set(nav)))  # the sidebar names every page


def test_sidebar_in_notebook_order(rendered, site):
    pg = rendered[site / "index.html"]
    order = list(dict.fromkeys(l for l in pg.links if l.endswith(".html") and l != "index.html"))  # first mention
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
            if not target.exists():
                bad.append(f"{p.name}: {h} (no such file)")
                continue
            if u.fragment and target.suffix == ".html" and u.fragment not in rendered[target].ids:
                bad.append(f"{p.name}: {h} (no such anchor)")
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


def test_search_finds_a_name_from_the_built_files(served, browser):
    browser.get(f"{served}/index.html?q=Lattice3D")  # the search box, filled from the address
    for _ in range(100):
        hits = [a.get_attribute("href") for a in browser.find_elements("css selector", ".md-search-result__link")]
        if hits: break
        time.sleep(0.1)
    assert any("/01_lattice.html" in h and h.endswith("#Lattice3D") for h in hits), hits[:5]


def test_maths_is_rendered_not_shown_as_latex(served, browser):
    browser.get(f"{served}/01_lattice.html")
    text = browser.find_element("css selector", "article").text
    assert "$$" not in text and "\\leftarrow" not in text, text[:500]
    maths = browser.find_elements("css selector", "article math")
    assert maths and maths[0].size["width"] > 100  # laid out as a formula, not an empty box


def test_no_element_wider_than_the_page(rendered, site, served, browser):
    "Long signatures, code lines and tables scroll inside their box; the page never scrolls sideways at 1280 or 800 px."
    wide = {(p.name, 1280): pg.widths for p, pg in rendered.items() if pg.widths[0] > pg.widths[1]}
    browser.set_window_size(800, 900)
    try:
        for p in rendered:
            browser.get(f"{served}/{p.relative_to(site).as_posix()}")
            sw, cw = browser.execute_script(WIDTHS)
            if sw > cw: wide[(p.name, 800)] = (sw, cw)
    finally: browser.set_window_size(1280, 900)
    assert not wide, wide


def test_make_docs_leaves_the_working_tree_as_it_was(built):
    "nbs/sidebar.yml (Quarto's) is written in the site's order, so a clean checkout stays clean."
    assert built[1] == built[2], f"make docs changed the tree: {built[1]!r} -> {built[2]!r} (a notebook added or " \
        "removed? commit nbs/sidebar.yml as make docs writes it)"


def test_printed_tables_are_tables_and_outputs_hold_no_warnings_or_machine_paths(rendered):
    for p, pg in rendered.items():
        assert "|---" not in "".join(pg.prose), f"{p.name}: a Markdown table shown as text"
        out = "".join(pg.outs)
        for bad in ("Warning:", str(ROOT), "site-packages", "ipykernel_", "/.venv/"):
            assert bad not in out, f"{p.name}: {bad!r} in an output"
        assert "NoneType" not in "".join(pg.text), f"{p.name}: an unannotated parameter shown as NoneType"
    assert any("table" in pg.classes for p, pg in rendered.items() if "experiments" in p.parts)


def test_methods_have_entries_and_every_entry_links_its_source(rendered, site):
    lat = rendered[site / "01_lattice.html"]
    assert {"Lattice3D", "Lattice3D.step", "Lattice3D.run", "Lattice3D.start"} <= lat.ids
    assert "Learner.fit" in rendered[site / "07_training.html"].ids
    for p, pg in rendered.items(): assert pg.api == pg.src, (p.name, pg.api, pg.src)  # one source link per entry


def test_animation_buttons_work_offline(served, browser):
    "The animation's buttons show their icons without the web font and step the frames when clicked."
    browser.get(f"{served}/tutorials/02_inside_the_lattice.html")
    slider = browser.find_element("css selector", "input.anim-slider")
    icon = browser.find_element("css selector", ".anim-buttons i.fa-step-forward")
    glyph = browser.execute_script("return getComputedStyle(arguments[0], '::before').content", icon)
    assert glyph not in ("none", "normal", '""'), glyph
    before = int(slider.get_attribute("value"))
    browser.execute_script("arguments[0].scrollIntoView()", icon)
    icon.find_element("xpath", "..").click()
    assert int(slider.get_attribute("value")) == before + 1


def test_display_maths_has_no_scroll_arrows(served, browser):
    browser.get(f"{served}/01_lattice.html")
    for m in browser.find_elements("css selector", "article math[display=block]"):
        over = browser.execute_script("const s = getComputedStyle(arguments[0]); return [s.overflowY, "
                                      "arguments[0].scrollHeight, arguments[0].clientHeight]", m)
        assert over[0] == "hidden" or over[1] <= over[2], over


def test_code_lines_fit_at_1280_and_pages_link_on(served, browser):
    "A 120-character line of code fits the column at 1280 px; previous/next links and a dark-mode toggle exist."
    for page in ("01_lattice.html", "07_training.html"):
        browser.get(f"{served}/{page}")
        wide = browser.execute_script(
            "return [...document.querySelectorAll('article pre > code')].filter(c => "
            "Math.max(...c.innerText.split('\\n').map(l => l.length)) <= 120 && c.scrollWidth > c.clientWidth + 1)"
            ".map(c => c.innerText.slice(0, 60))")
        assert not wide, (page, wide[:3])
        assert browser.find_elements("css selector", "a.md-footer__link--next")
        assert browser.find_elements("css selector", "a.md-footer__link--prev")
    toggle = browser.find_element("css selector", "label.md-header__button[for^=__palette]")
    scheme = lambda: browser.execute_script("return document.body.getAttribute('data-md-color-scheme')")
    first = scheme()
    toggle.click()
    assert scheme() != first and {first, scheme()} == {"default", "slate"}
