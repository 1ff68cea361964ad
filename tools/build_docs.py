"""Build the documentation site into _docs/ offline, from the committed (executed, clean) notebooks.

nbdev's conventions decide what a page holds: prose, the code of ordinary cells with their saved outputs
and figures, an API entry (nbdev's own `show_doc`, with the parameter table its docments give) for every
public name an `#| export` cell defines, nothing of `#| hide` cells. This script turns each notebook into
a Markdown page (backticked names of the package linked to their API entry, LaTeX turned into MathML at
build time) and MkDocs with the Material theme builds the site: full-text search that runs in the browser
from the built files, an on-page table of contents, code blocks that scroll, the sidebar in notebook
order (index, the numbered chapters, tutorials, experiments). Nothing is fetched from the network.
Quarto is not needed; `nbdev_docs` still builds the Quarto site (`_quarto.yml`) where Quarto exists.

    python tools/build_docs.py [--out _docs]
"""
import argparse, ast, html, importlib, inspect, json, re, shutil, subprocess, sys, tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
SECTIONS = {"tutorials": "Tutorials", "experiments": "Experiments"}


def pages() -> list[Path]:
    "index, how the library is organised, numbered chapters, tutorials, experiments (dated studies): the sidebar order."
    return [NBS / "index.ipynb", NBS / "organisation.ipynb", *sorted(NBS.glob("[0-9]*.ipynb")),
            *sorted((NBS / "tutorials").glob("*.ipynb")), *sorted((NBS / "experiments").glob("*.ipynb"))]


def md_path(nb: Path) -> str: return nb.relative_to(NBS).with_suffix(".md").as_posix()


def title(nb: dict, default: str) -> str:
    for c in nb["cells"]:
        if c["cell_type"] == "markdown":
            m = re.search(r"^# (.+)$", "".join(c["source"]), re.M)
            if m: return m.group(1).strip()
    return default


def directives(src: str) -> tuple[dict, str]:
    "The `#| key: value` lines at the top of a cell, and the rest of its source."
    opts, lines = {}, src.splitlines()
    while lines and lines[0].startswith("#|"):
        k, _, v = lines.pop(0)[2:].strip().partition(":")
        k, *rest = k.split()
        opts[k] = v.strip() or " ".join(rest) or True
    return opts, "\n".join(lines)


def patched_class(node) -> str | None:
    "The class a fastcore `@patch` function is added to (its `self` annotation), or None."
    patch = any((d.func if isinstance(d, ast.Call) else d).id == "patch" for d in node.decorator_list
                if isinstance(d.func if isinstance(d, ast.Call) else d, ast.Name))
    ann = node.args.args[0].annotation if patch and node.args.args else None
    return ann.id if isinstance(ann, ast.Name) else None


def public_methods(node: ast.ClassDef) -> list[str]:
    "The public methods and properties a class body defines with a docstring (a reader's entry each)."
    return [f.name for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            and not f.name.startswith("_") and ast.get_docstring(f)]


def exported_names(cell, mod) -> list[str]:
    "Public names defined by an exported cell (functions, classes and their methods, patched methods, constants)."
    names, public = [], getattr(mod, "__all__", ())
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and patched_class(node) in public:
            if not node.name.startswith("_"): names.append(f"{patched_class(node)}.{node.name}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in public:
            names.append(node.name)
            if isinstance(node, ast.ClassDef): names += [f"{node.name}.{m}" for m in public_methods(node)]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name) and t.id in public]
    return names


def lookup(name: str, mod):
    "The object a (possibly dotted, Class.method) name of `mod` stands for: a descriptor's function (getter, method)."
    head, *rest = name.split(".")
    obj = getattr(mod, head)
    for part in rest: obj = inspect.getattr_static(obj, part)
    if inspect.isfunction(obj) or inspect.isclass(obj) or not callable(getattr(obj, "__get__", None)): return obj
    for attr in ("fget", "__func__", "func", "f"):  # property, static/classmethod, cached_property, fastcore's
        if callable(getattr(obj, attr, None)): return getattr(obj, attr)
    return obj


def api_index() -> dict[str, str]:
    "Every public name of the package -> the page.md#name of its API entry."
    idx = {}
    for nb in pages():
        for c in json.loads(nb.read_text())["cells"]:
            opts, _ = directives("".join(c["source"])) if c["cell_type"] == "code" else ({}, "")
            if "default_exp" in opts: mod = importlib.import_module(f"cube_nb.{opts['default_exp']}")
            if "export" in opts: idx.update({n: f"{md_path(nb)}#{n}" for n in exported_names(c, mod)})
    return idx


def constant_node(name: str, mod):
    "The module-level assignment that defines `name`."
    return next(n for n in ast.parse(inspect.getsource(mod)).body if isinstance(n, (ast.Assign, ast.AnnAssign)) and name
                in [t.id for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)])


def constant_entry(name: str, mod) -> str:
    "A module-level value: its defining line(s) from the module source."
    node = constant_node(name, mod)
    return "```python\n" + "\n".join(inspect.getsource(mod).splitlines()[node.lineno - 1:node.end_lineno]) + "\n```"


def repository() -> str:
    "The repository's address and branch from settings.ini (nbdev's git_url): https://github.com/u/r/blob/main, say."
    import configparser
    c = configparser.ConfigParser()
    c.read(ROOT / "settings.ini")
    return f"{c['DEFAULT']['git_url'].rstrip('/')}/blob/{c['DEFAULT'].get('branch', 'main')}"


def source_link(name: str, mod) -> str:
    "Where an entry is defined: the exported module's file and line, linked into the repository."
    path = Path(mod.__file__).resolve().relative_to(ROOT).as_posix()
    try: line = inspect.getsourcelines(lookup(name, mod))[1]
    except (TypeError, OSError): line = constant_node(name, mod).lineno
    return f'<a class="src" href="{repository()}/{path}#L{line}">source: {path}, line {line}</a>'


def relative(target: str, here: str) -> str:
    "The link from page `here` to `target` (both paths under the docs folder, `target` possibly with #anchor)."
    page, _, anchor = target.partition("#")
    if page == here: return "#" + anchor
    return "../" * here.count("/") + page + ("#" + anchor if anchor else "")


def link_names(text: str, idx: dict, here: str) -> str:
    "`name` (not already a link) -> [`name`](page.md#name), outside fenced code."
    def sub(m):
        name = m.group(1).split("(")[0]
        target = idx.get(name) or idx.get(name.split(".")[-1])
        return f"[`{m.group(1)}`]({relative(target, here)})" if target else m.group(0)
    parts = re.split(r"(```.*?```)", text, flags=re.S)
    return "".join(p if p.startswith("```") else re.sub(r"(?<![\[\w])`([A-Za-z_][\w.]*(?:\(\))?)`(?!\])", sub, p)
                   for p in parts)


def mathml(text: str) -> str:
    "`$$…$$` (display) and `$…$` (inline) LaTeX as MathML, outside code; the browser renders it, no script needed."
    from latex2mathml.converter import convert
    def block(m): return "\n\n" + convert(m.group(1).strip(), display="block") + "\n\n"
    parts = re.split(r"(```.*?```|`[^`\n]*`)", text, flags=re.S)
    out = []
    for p in parts:
        if not p.startswith("`"):
            p = re.sub(r"\$\$(.+?)\$\$", block, p, flags=re.S)
            p = re.sub(r"(?<![\w$\\])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\w$])", lambda m: convert(m.group(1)), p)
        out.append(p)
    return "".join(out)


def param_table(obj) -> str:
    "A Markdown table of the parameters a docmented callable describes (name, type, default, what it is)."
    from fastcore.docments import docments
    try: d = docments(obj, full=True)
    except Exception: return ""  # builtins and C extensions have no source to read
    rows = [(k, v) for k, v in d.items() if k not in ("self", "return") and v.get("docment")]
    if not rows: return ""
    esc = lambda t: t.replace("|", "\\|")  # a | (in a union type, say) must not end the table cell
    def cell(x, code=False):
        if x is inspect._empty or x is None or x is type(None) or x == "None": return ""  # no annotation
        return esc(f"`{x!r}`" if code else html.escape(x if isinstance(x, str) else getattr(x, "__name__", repr(x))))
    lines = ["| parameter | type | default | description |", "|---|---|---|---|"]
    lines += [f"| `{k}` | {cell(v['anno'])} | {cell(v['default'], code=True)} | {esc(v['docment'])} |" for k, v in rows]
    return "\n".join(lines)


def api_entry(name: str, mod) -> str:
    "A heading with the name as its anchor, nbdev's show_doc (signature, docstring), the parameter table, the source."
    from nbdev.showdoc import show_doc
    obj = lookup(name, mod)
    plain = not callable(obj) or getattr(obj, "__module__", None) in ("typing", "typing_extensions")
    doc = lambda: show_doc(obj, name=name)._repr_markdown_() + "\n\n" + param_table(obj)
    text = constant_entry(name, mod) if plain else doc()
    text = re.sub(r"^\[source\]\(.*?\)\{.*?\}\s*$", "", text, flags=re.M)  # a GitHub link with Quarto attributes
    text = re.sub(r"^#+ .+$", "", text, count=1, flags=re.M)
    text = re.sub(r":\s*NoneType\s*=\s*None", "=None", text)  # show_doc's guess for an unannotated None default
    level = "####" if "." in name else "###"  # a method under its class
    return f"{level} `{name}` {{ #{name} .api }}\n\n{source_link(name, mod)}\n\n{text.strip()}\n"


WARNING = re.compile(r"^\S.*:\d+: \w*Warning: ")  # the first line Python's warnings module prints


def without_warnings(text: str) -> str:
    "Text with each printed warning left out: its `file:line: XWarning: message` lines and the source line after."
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if WARNING.match(line): skipping = True
        elif skipping and line.startswith("  "): skipping = False  # the warned line of source ends the warning
        elif not skipping: out.append(line)
    return "".join(out)


def local_paths(text: str) -> str:
    "The build machine's paths out of an output: the repository's own made relative, site-packages and kernel cells."
    text = text.replace(str(ROOT) + "/", "")
    text = re.sub(r"/\S*/site-packages/", "site-packages/", text)
    return re.sub(r"/tmp/ipykernel_\d+/\d+\.py", "<cell>", text)


TABLE_SEP = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+\s*$")


def text_md(text: str, cls: str = "out") -> str:
    "Printed text as a page shows it: Markdown tables (| a | b |, |---|---|) as tables, everything else as it was."
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        j = i
        if lines[i].startswith("|") and i + 1 < len(lines) and TABLE_SEP.match(lines[i + 1]):
            while j < len(lines) and lines[j].startswith("|"): j += 1
            out.append(("table", lines[i:j]))
        else:
            while j < len(lines) and not (lines[j].startswith("|") and j + 1 < len(lines)
                                          and TABLE_SEP.match(lines[j + 1])): j += 1
            out.append(("pre", lines[i:j]))
        i = j
    parts = [f'<pre class="{cls}">{html.escape(chr(10).join(b))}</pre>' if k == "pre" else
             '<div class="out table" markdown="1">\n\n' + "\n".join(b) + "\n\n</div>"
             for k, b in out if any(x.strip() for x in b)]
    return "\n\n".join(parts)


def output_md(o: dict) -> str:
    t = o["output_type"]
    if t == "stream":
        text = local_paths("".join(o["text"]))
        if o["name"] == "stderr": text = without_warnings(text)  # noise to a reader; real ones are fixed at the source
        return text_md(text, f'out {o["name"]}') if text.strip() else ""
    if t == "error":
        tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(o["traceback"]))
        return f'<pre class="out cell-error">{html.escape(local_paths(tb))}</pre>'
    d = o.get("data", {})
    if "image/png" in d:
        return f'<img class="out" alt="figure" src="data:image/png;base64,{"".join(d["image/png"]).strip()}">'
    if "image/svg+xml" in d: return '<div class="out" markdown="0">' + "".join(d["image/svg+xml"]) + "</div>"
    if "text/html" in d: return '<div class="out html" markdown="0">' + "".join(d["text/html"]) + "</div>"
    if "text/markdown" in d: return "".join(d["text/markdown"])
    if "text/plain" in d: return text_md(local_paths("".join(d["text/plain"])))
    return ""


LOCAL_NB = re.compile(r"\]\(((?![a-z]+:)[^)\s]+)\.ipynb(#[^)]*)?\)")  # a link to another notebook -> its page


def render(nb_path: Path, idx: dict) -> tuple[str, str, int]:
    "(title, Markdown page, number of error outputs) of one notebook."
    nb, here, mod, body, errors = json.loads(nb_path.read_text()), md_path(nb_path), None, [], 0
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "markdown":
            body.append(mathml(link_names(LOCAL_NB.sub(r"](\1.md\2)", src), idx, here)))
            continue
        if c["cell_type"] != "code": continue
        opts, code = directives(src)
        if "default_exp" in opts: mod = importlib.import_module(f"cube_nb.{opts['default_exp']}")
        if "export" in opts:
            body += [api_entry(n, mod) for n in exported_names(c, mod)]
            continue
        if {"hide", "exporti"} & opts.keys() or opts.get("include") == "false": continue
        if code.strip() and opts.get("echo") != "false": body.append(f"```python\n{code}\n```")
        outs = [] if opts.get("output") == "false" else c.get("outputs", [])
        errors += sum(o["output_type"] == "error" for o in outs)
        body += [m for m in map(output_md, outs) if m]
    return title(nb, nb_path.stem), "\n\n".join(body) + "\n", errors


CSS = """
.md-grid{max-width:none}
.md-typeset pre>code{font-size:.8em}
.md-typeset pre.out{background:var(--md-code-bg-color);color:var(--md-code-fg-color);border-left:3px solid #999;
  padding:.5em .8em;overflow-x:auto;font-size:.8em}
.md-typeset pre.cell-error{border-left-color:#c00}
.md-typeset img.out{max-width:100%}
.md-typeset div.out{overflow-x:auto}
.md-typeset div.out.table table:not([class]){font-size:.75rem}
.md-typeset h3.api,.md-typeset h4.api{border-top:1px solid var(--md-default-fg-color--lightest);padding-top:.8em}
.md-typeset a.src{font-size:.7rem;display:block;text-align:right;margin-top:-.6em}
.md-typeset math[display=block]{overflow-x:auto;overflow-y:hidden;max-width:100%;padding:.2em 0}
.anim-buttons button i.fa{font-style:normal;display:inline-block;min-width:1em}
.anim-buttons i.fa-fast-backward::before{content:"\\21E4"}
.anim-buttons i.fa-step-backward::before{content:"\\25C1"}
.anim-buttons i.fa-play::before{content:"\\25B6"}
.anim-buttons i.fa-pause::before{content:"\\2016"}
.anim-buttons i.fa-step-forward::before{content:"\\25B7"}
.anim-buttons i.fa-fast-forward::before{content:"\\21E5"}
.anim-buttons i.fa-minus::before{content:"\\2212"}
.anim-buttons i.fa-plus::before{content:"+"}
.anim-buttons i.fa-flip-horizontal{transform:scaleX(-1)}
"""
PALETTE = [{"media": "(prefers-color-scheme: light)", "scheme": "default",
            "toggle": {"icon": "material/weather-night", "name": "Dark mode"}},
           {"media": "(prefers-color-scheme: dark)", "scheme": "slate",
            "toggle": {"icon": "material/weather-sunny", "name": "Light mode"}}]


def config(docs: Path, out: Path, nav: list) -> dict:
    "The MkDocs configuration: Material theme with no web fonts, the browser-side search, no directory URLs."
    return {"site_name": "cube_nb", "docs_dir": str(docs), "site_dir": str(out), "use_directory_urls": False,
            "site_description": "A notebook-first PyTorch library for training a 3D Cubic Core",
            "theme": {"name": "material", "font": False, "palette": PALETTE,
                      "features": ["navigation.sections", "navigation.top", "navigation.footer", "toc.integrate",
                                   "search.highlight", "content.code.copy"]},
            "plugins": ["search"], "extra_css": ["extra.css"], "nav": nav,
            "markdown_extensions": ["tables", "attr_list", "md_in_html", "admonition", {"toc": {"permalink": True}},
                                    {"pymdownx.highlight": {}}, "pymdownx.superfences"]}


def sidebar_yml() -> str:
    "Quarto's sidebar (nbs/sidebar.yml, for `nbdev_docs`) in the site's order: the same pages, the same sections."
    top, sections = [], {}
    for nb in pages():
        path = nb.relative_to(NBS).as_posix()
        if "/" in path: sections.setdefault(path.split("/")[0], []).append(path)
        else: top.append(path)
    contents = top + [{"section": k, "contents": v} for k, v in sections.items()]
    return yaml.safe_dump({"website": {"sidebar": {"contents": contents}}}, sort_keys=False, indent=2)


def write_sidebar():
    "Keep nbs/sidebar.yml in step with the notebooks, rewriting it only when a page was added or removed."
    text = sidebar_yml()
    if (NBS / "sidebar.yml").read_text() != text: (NBS / "sidebar.yml").write_text(text)


def build(out: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    write_sidebar()
    idx = api_index()
    rendered = {md_path(p): render(p, idx) for p in pages()}
    nav, groups = [], {}
    for path, (t, _, _) in rendered.items():
        sec = SECTIONS.get(path.split("/")[0], "Library" if path != "index.md" else None)
        if sec is None: nav.append({t: path})
        else:
            if sec not in groups:
                groups[sec] = []
                nav.append({sec: groups[sec]})
            groups[sec].append({t: path})
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        for path, (_, text, _) in rendered.items():
            (docs / path).parent.mkdir(parents=True, exist_ok=True)
            (docs / path).write_text(text)
        (docs / "extra.css").write_text(CSS)
        if (NBS / "files").is_dir(): shutil.copytree(NBS / "files", docs / "files",
                                                     ignore=shutil.ignore_patterns("*.safetensors"))
        site = out.with_name(out.name + ".tmp")
        shutil.rmtree(site, ignore_errors=True)
        (Path(tmp) / "mkdocs.yml").write_text(yaml.safe_dump(config(docs, site, nav), sort_keys=False))
        r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(Path(tmp) / "mkdocs.yml")],
                           capture_output=True, text=True)
        if r.returncode: sys.exit(f"mkdocs build failed:\n{r.stderr[-3000:]}")
    shutil.rmtree(out, ignore_errors=True)
    site.rename(out)
    return {"pages": len(rendered), "api_entries": len(idx), "error_outputs": sum(r[2] for r in rendered.values())}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "_docs"))
    a = p.parse_args()
    r = build(Path(a.out))
    print(f"wrote {r['pages']} pages with {r['api_entries']} API entries to {a.out}"
          + (f"; {r['error_outputs']} error outputs!" if r["error_outputs"] else ""))
    sys.exit(1 if r["error_outputs"] else 0)
