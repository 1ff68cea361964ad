"""Build the documentation site into _docs/ offline, from the committed (executed, clean) notebooks.

One page per notebook in sidebar order (index, the numbered notebooks, then nbs/tutorials/), with
prose, the code of ordinary cells, their saved outputs and figures, and an API entry (nbdev's own
`show_doc`) for every public name an `#| export` cell defines. Backticked names of the package link
to their API entry. Quarto is not needed; `nbdev_docs` still builds the Quarto site where it exists.

    python tools/build_docs.py [--out _docs]
"""
import argparse, ast, html, importlib, json, re, shutil, sys
from pathlib import Path

import mistune
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
md = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])
FMT = HtmlFormatter(nowrap=False)


def pages() -> list[Path]:
    "index, numbered notebooks, tutorials, experiments (dated studies): the sidebar order."
    return [NBS / "index.ipynb", *sorted(NBS.glob("[0-9]*.ipynb")), *sorted((NBS / "tutorials").glob("*.ipynb")),
            *sorted((NBS / "experiments").glob("*.ipynb"))]


def href(nb: Path) -> str: return "index.html" if nb.stem == "index" else nb.relative_to(NBS).with_suffix(".html").as_posix()


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
        k, *rest = k.split(); opts[k] = (v.strip() or " ".join(rest) or True)
    return opts, "\n".join(lines)


def api_index() -> dict[str, str]:
    "Every public name of the package -> the page.html#name of its API entry."
    idx = {}
    for nb in pages():
        for c in json.loads(nb.read_text())["cells"]:
            opts, _ = directives("".join(c["source"])) if c["cell_type"] == "code" else ({}, "")
            if "default_exp" in opts: mod = importlib.import_module(f"cube_nb.{opts['default_exp']}")
            if "export" in opts: idx.update({n: f"{href(nb)}#{n}" for n in exported_names(c, mod)})
    return idx


def exported_names(cell, mod) -> list[str]:
    "Public names defined by an exported cell (functions, classes, constants), in order."
    names = []
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            names += [t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)]
    return [n for n in names if n in getattr(mod, "__all__", ())]


def constant_entry(name: str, mod) -> str:
    "A module-level value: its defining line(s) from the module source."
    import inspect
    src = inspect.getsource(mod)
    node = next(n for n in ast.parse(src).body if isinstance(n, (ast.Assign, ast.AnnAssign))
                and name in [t.id for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)])
    return "```python\n" + "\n".join(src.splitlines()[node.lineno - 1:node.end_lineno]) + "\n```"


def link_names(text: str, idx: dict, here: str) -> str:
    "`name` (not already a link) -> [`name`](page.html#name)."
    def sub(m):
        n = m.group(1).split("(")[0].split(".")[-1]
        target = idx.get(n)
        if not target: return m.group(0)
        page, anchor = target.split("#")
        rel = ("#" + anchor) if page == here else (Path("../" * here.count("/")) / page).as_posix() + "#" + anchor
        return f"[`{m.group(1)}`]({rel})"
    parts = re.split(r"(```.*?```)", text, flags=re.S)  # leave fenced code alone
    return "".join(p if p.startswith("```") else re.sub(r"(?<![\[\w])`([A-Za-z_][\w.]*(?:\(\))?)`(?!\])", sub, p) for p in parts)


def api_entry(name: str, mod) -> str:
    from nbdev.showdoc import show_doc
    obj = getattr(mod, name)
    if not callable(obj) or getattr(obj, "__module__", None) in ("typing", "typing_extensions"): text = constant_entry(name, mod)
    else: text = show_doc(obj)._repr_markdown_()
    text = re.sub(r"^\[source\]\(.*?\)\{.*?\}\s*$", "", text, flags=re.M)  # a link to GitHub with Quarto attributes
    text = re.sub(r"^### (.+)$", "", text, count=1, flags=re.M)
    return f'<section class="api" id="{name}"><h3><code>{name}</code></h3>{md(text)}</section>'


def output_html(o: dict) -> str:
    t = o["output_type"]
    if t == "stream": return f'<pre class="out {o["name"]}">{html.escape("".join(o["text"]))}</pre>'
    if t == "error":
        tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(o["traceback"]))
        return f'<pre class="out cell-error">{html.escape(tb)}</pre>'
    d = o.get("data", {})
    if "image/png" in d: return f'<img class="out" alt="figure" src="data:image/png;base64,{"".join(d["image/png"]).strip()}">'
    if "image/svg+xml" in d: return '<div class="out">' + "".join(d["image/svg+xml"]) + "</div>"
    if "text/html" in d: return '<div class="out html">' + "".join(d["text/html"]) + "</div>"
    if "text/markdown" in d: return '<div class="out">' + md("".join(d["text/markdown"])) + "</div>"
    if "text/plain" in d: return f'<pre class="out">{html.escape("".join(d["text/plain"]))}</pre>'
    return ""


LOCAL_NB = re.compile(r"\]\(((?![a-z]+:)[^)\s]+)\.ipynb(#[^)]*)?\)")  # a link to another notebook -> its page


def render(nb_path: Path, idx: dict) -> tuple[str, str, int]:
    "(title, body HTML, number of error outputs) of one notebook."
    nb, here, mod, body, errors = json.loads(nb_path.read_text()), href(nb_path), None, [], 0
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "markdown": body.append(md(link_names(LOCAL_NB.sub(r"](\1.html\2)", src), idx, here))); continue
        if c["cell_type"] != "code": continue
        opts, code = directives(src)
        if "default_exp" in opts: mod = importlib.import_module(f"cube_nb.{opts['default_exp']}")
        if "export" in opts:
            body += [api_entry(n, mod) for n in exported_names(c, mod)]; continue
        if {"hide", "exporti"} & opts.keys() or opts.get("include") == "false": continue
        if code.strip() and opts.get("echo") != "false": body.append(highlight(code, PythonLexer(), FMT))
        outs = [] if opts.get("output") == "false" else c.get("outputs", [])
        errors += sum(o["output_type"] == "error" for o in outs)
        body += [output_html(o) for o in outs]
    return title(nb, nb_path.stem), "\n".join(body), errors


CSS = """
body{margin:0;font:16px/1.55 system-ui,-apple-system,"DejaVu Sans",sans-serif;color:#222;display:flex}
nav{width:250px;flex:none;height:100vh;position:sticky;top:0;overflow:auto;background:#f6f7f9;border-right:1px solid #ddd;padding:1em}
nav a{display:block;padding:.2em .4em;color:#2456a4;text-decoration:none;font-size:.92em}nav a.here{background:#dde6f5;border-radius:4px}
nav h2{font-size:1.1em;margin:.2em 0 .8em}nav h4{margin:1em 0 .3em;color:#666;font-size:.8em;text-transform:uppercase}
main{max-width:960px;padding:1em 2.5em;min-width:0}
pre,.highlight{background:#f5f5f5;padding:.6em;overflow:auto;border-radius:4px;font-size:.85em}
pre.out{background:#fff;border-left:3px solid #ccc}pre.cell-error{border-left-color:#c00;background:#fff0f0}
img.out{max-width:100%}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;font-size:.9em}
section.api{border-top:1px solid #ddd;margin-top:1.5em}section.api h3 code{font-size:1.1em}
"""


def page(title_: str, body: str, here: str, nav: list[tuple[str, str]]) -> str:
    up = "../" * here.count("/")
    links, section = [], None
    for h, t in nav:
        s = {"tutorials": "Tutorials", "experiments": "Experiments"}.get(h.split("/")[0], "Library")
        if s != section and h != "index.html": links.append(f"<h4>{s}</h4>"); section = s
        links.append(f'<a href="{up}{h}"{" class=here" if h == here else ""}>{html.escape(t)}</a>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title_)} – cube_nb</title>'
            f'<link rel="stylesheet" href="{up}site.css"></head><body><nav><h2><a href="{up}index.html">cube_nb</a></h2>{"".join(links)}</nav>'
            f'<main>{body}</main></body></html>\n')


def build(out: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    idx = api_index()
    rendered = {href(p): render(p, idx) for p in pages()}
    nav = [(h, r[0]) for h, r in rendered.items()]
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True); tmp.mkdir(parents=True)
    (tmp / "site.css").write_text(CSS + FMT.get_style_defs(".highlight"))
    for h, (t, body, _) in rendered.items():
        (tmp / h).parent.mkdir(parents=True, exist_ok=True); (tmp / h).write_text(page(t, body, h, nav))
    if (NBS / "files").is_dir(): shutil.copytree(NBS / "files", tmp / "files", ignore=shutil.ignore_patterns("*.safetensors"))
    shutil.rmtree(out, ignore_errors=True); tmp.rename(out)
    return {"pages": len(rendered), "api_entries": len(idx), "error_outputs": sum(r[2] for r in rendered.values())}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0]); p.add_argument("--out", default=str(ROOT / "_docs"))
    a = p.parse_args()
    r = build(Path(a.out))
    print(f"wrote {r['pages']} pages with {r['api_entries']} API entries to {a.out}" + (f"; {r['error_outputs']} error outputs!" if r["error_outputs"] else ""))
    sys.exit(1 if r["error_outputs"] else 0)
