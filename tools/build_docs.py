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
import argparse, ast, html, importlib, json, re, shutil, subprocess, sys, tempfile
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


def exported_names(cell, mod) -> list[str]:
    "Public names defined by an exported cell (functions, classes, constants), in order."
    names = []
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return [n for n in names if n in getattr(mod, "__all__", ())]


def api_index() -> dict[str, str]:
    "Every public name of the package -> the page.md#name of its API entry."
    idx = {}
    for nb in pages():
        for c in json.loads(nb.read_text())["cells"]:
            opts, _ = directives("".join(c["source"])) if c["cell_type"] == "code" else ({}, "")
            if "default_exp" in opts: mod = importlib.import_module(f"cube_nb.{opts['default_exp']}")
            if "export" in opts: idx.update({n: f"{md_path(nb)}#{n}" for n in exported_names(c, mod)})
    return idx


def constant_entry(name: str, mod) -> str:
    "A module-level value: its defining line(s) from the module source."
    import inspect
    src = inspect.getsource(mod)
    node = next(n for n in ast.parse(src).body if isinstance(n, (ast.Assign, ast.AnnAssign)) and name in
                [t.id for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)])
    return "```python\n" + "\n".join(src.splitlines()[node.lineno - 1:node.end_lineno]) + "\n```"


def relative(target: str, here: str) -> str:
    "The link from page `here` to `target` (both paths under the docs folder, `target` possibly with #anchor)."
    page, _, anchor = target.partition("#")
    if page == here: return "#" + anchor
    return "../" * here.count("/") + page + ("#" + anchor if anchor else "")


def link_names(text: str, idx: dict, here: str) -> str:
    "`name` (not already a link) -> [`name`](page.md#name), outside fenced code."
    def sub(m):
        target = idx.get(m.group(1).split("(")[0].split(".")[-1])
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
    import inspect
    from fastcore.docments import docments
    try: d = docments(obj, full=True)
    except Exception: return ""  # builtins and C extensions have no source to read
    rows = [(k, v) for k, v in d.items() if k not in ("self", "return") and v.get("docment")]
    if not rows: return ""
    esc = lambda t: t.replace("|", "\\|")  # a | (in a union type, say) must not end the table cell
    def cell(x, code=False):
        if x is inspect._empty: return ""
        return esc(f"`{x!r}`" if code else html.escape(x if isinstance(x, str) else getattr(x, "__name__", repr(x))))
    lines = ["| parameter | type | default | |", "|---|---|---|---|"]
    lines += [f"| `{k}` | {cell(v['anno'])} | {cell(v['default'], code=True)} | {esc(v['docment'])} |" for k, v in rows]
    return "\n".join(lines)


def api_entry(name: str, mod) -> str:
    "A heading with the name as its anchor, then nbdev's show_doc (signature, docstring) and the parameter table."
    from nbdev.showdoc import show_doc
    obj = getattr(mod, name)
    plain = not callable(obj) or getattr(obj, "__module__", None) in ("typing", "typing_extensions")
    text = constant_entry(name, mod) if plain else show_doc(obj)._repr_markdown_() + "\n\n" + param_table(obj)
    text = re.sub(r"^\[source\]\(.*?\)\{.*?\}\s*$", "", text, flags=re.M)  # a GitHub link with Quarto attributes
    text = re.sub(r"^#+ .+$", "", text, count=1, flags=re.M)
    return f"### `{name}` {{ #{name} .api }}\n\n{text.strip()}\n"


def output_md(o: dict) -> str:
    t = o["output_type"]
    if t == "stream": return f'<pre class="out {o["name"]}">{html.escape("".join(o["text"]))}</pre>'
    if t == "error":
        tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(o["traceback"]))
        return f'<pre class="out cell-error">{html.escape(tb)}</pre>'
    d = o.get("data", {})
    if "image/png" in d: return f'<img class="out" alt="figure" src="data:image/png;base64,{"".join(d["image/png"]).strip()}">'
    if "image/svg+xml" in d: return '<div class="out" markdown="0">' + "".join(d["image/svg+xml"]) + "</div>"
    if "text/html" in d: return '<div class="out html" markdown="0">' + "".join(d["text/html"]) + "</div>"
    if "text/markdown" in d: return "".join(d["text/markdown"])
    if "text/plain" in d: return f'<pre class="out">{html.escape("".join(d["text/plain"]))}</pre>'
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
        body += [output_md(o) for o in outs]
    return title(nb, nb_path.stem), "\n\n".join(body) + "\n", errors


CSS = """
.md-typeset pre.out{background:#fff;border-left:3px solid #ccc;padding:.5em .8em;overflow-x:auto;font-size:.8em}
.md-typeset pre.cell-error{border-left-color:#c00;background:#fff0f0}
.md-typeset img.out{max-width:100%}
.md-typeset div.out{overflow-x:auto}
.md-typeset h3.api{border-top:1px solid #ddd;padding-top:.8em}
.md-typeset math[display=block]{overflow-x:auto;max-width:100%}
"""


def config(docs: Path, out: Path, nav: list) -> dict:
    "The MkDocs configuration: Material theme with no web fonts, the browser-side search, no directory URLs."
    return {"site_name": "cube_nb", "docs_dir": str(docs), "site_dir": str(out), "use_directory_urls": False,
            "site_description": "A notebook-first PyTorch library for training a 3D Cubic Core",
            "theme": {"name": "material", "font": False, "features": ["navigation.sections", "navigation.top",
                      "toc.follow", "search.highlight", "content.code.copy"]},
            "plugins": ["search"], "extra_css": ["extra.css"], "nav": nav,
            "markdown_extensions": ["tables", "attr_list", "md_in_html", "admonition", {"toc": {"permalink": True}},
                                    {"pymdownx.highlight": {}}, "pymdownx.superfences"]}


def build(out: Path) -> dict:
    sys.path.insert(0, str(ROOT))
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
