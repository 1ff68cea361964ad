"Write README.md (and README_files/) from nbs/index.ipynb: prose and outputs, no code, no #| hide cells."
import re
import nbformat
from nbconvert import MarkdownExporter
from pathlib import Path

nb = nbformat.read("nbs/index.ipynb", as_version=4)
nb.cells = [c for c in nb.cells if not c.source.lstrip().startswith("#| hide")]
body, res = MarkdownExporter(exclude_input=True).from_notebook_node(nb, resources={"output_files_dir": "README_files"})
for name, data in res["outputs"].items():
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    Path(name).write_bytes(data)
body = re.sub(r"\]\(((?![a-z]+:)[^)\s]+\.ipynb)", r"](nbs/\1",
              body)  # links between notebooks, from the repository root
HEADER = "<!-- generated from nbs/index.ipynb by `make readme`; edit the notebook -->\n"
Path("README.md").write_text(HEADER + body.strip() + "\n")
print("wrote README.md")
