"The library's shape: every module is exported from one numbered chapter and imports only earlier chapters' modules."
import ast, re
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "cube_nb"


def chapters() -> dict:
    "module name -> the notebook it is exported from (the 'File to edit' header nbdev writes)."
    out = {}
    for f in PKG.glob("*.py"):
        m = re.search(r"File to edit: \.\./nbs/(\S+)\.ipynb", f.read_text())
        if m: out[f.stem] = m.group(1)
    return out


def imported(f: Path) -> set:
    "The cube_nb modules `f` imports, at any depth of its code."
    names = set()
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            mod = node.module if node.level == 0 else f"cube_nb.{node.module}"
            if mod.startswith("cube_nb."): names.add(mod.split(".")[1])
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("cube_nb.")}
    return names


def test_every_module_imports_only_earlier_chapters():
    ch = chapters()
    assert {"core", "lattice", "training", "cli"} <= set(ch)
    late = [f"{m} ({ch[m]}) imports {d} ({ch[d]})" for m in ch for d in imported(PKG / f"{m}.py")
            if d in ch and d != m and ch[d] > ch[m]]
    assert not late, late
