"""Shared by the test files: the console scripts run two ways, a small real Q&A file, one trained tiny run that
the CLI tests share, and a tiny real teacher.

A console script runs either as a real process (`cli`: what a user's terminal does; needed wherever processes,
signals, locks or the interpreter's start are what is tested) or through its entry point in the test process
(`run_entry`: the same `main`, the same arguments, stdout, stderr, exit code and working folder, without
~6 s of imports a process). Every script is run both ways somewhere; `test_bad_inputs` checks that the two
print exactly the same."""
import io, json, os, shutil, signal, subprocess, sys, warnings
from contextlib import redirect_stderr, redirect_stdout
from importlib.metadata import entry_points
from pathlib import Path
from types import SimpleNamespace
import pytest, yaml

BIN = Path(sys.executable).parent
SCRIPTS = {e.name: e for e in entry_points(group="console_scripts") if e.value.startswith("cube_nb.")}
PYTHON_FILTERS = [("default", DeprecationWarning, "__main__"), ("ignore", DeprecationWarning, ""),  # Python's own
                  ("ignore", PendingDeprecationWarning, ""), ("ignore", ImportWarning, ""),
                  ("ignore", ResourceWarning, "")]
TINY = {"epochs": 6, "batch_size": 4, "lr": 0.003, "checkpoint_every": 3, "seed": 5,  # the shared run's config
        "model": {"lattice": {"channels": 4, "hidden": 8, "steps": 2}}}


def cli(*args, cwd=None, wait=True, **kw):
    "Console script `args[0]` with `args[1:]` as a new process; with `wait=False`, the running `Popen`."
    cmd = [str(BIN / args[0]), *map(str, args[1:])]
    if not wait: return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, **kw)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=600, **kw)


def run_entry(*args, cwd=None):
    "Console script `args[0]` called through its entry point in this process, as a fresh interpreter would run it."
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    if cwd: os.chdir(cwd)
    try:
        with warnings.catch_warnings(), redirect_stdout(out), redirect_stderr(err):
            warnings.resetwarnings()  # each call sees the warnings a new interpreter would: Python's default filters
            for action, category, module in PYTHON_FILTERS:
                warnings.filterwarnings(action, "", category, module, append=True)
            try: code = SCRIPTS[args[0]].load()(list(map(str, args[1:]))) or 0
            except SystemExit as e: code = e.code if isinstance(e.code, int) else int(e.code is not None)
    finally:
        os.chdir(here)
        for s, h in handlers.items(): signal.signal(s, h)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def qa_jsonl(path: Path, n: int, start: int = 0) -> Path:
    "Jargon File pairs `start`..`start + n` as a .jsonl file of questions and answers."
    from cube_nb.data import jargon_pairs
    rows = jargon_pairs()[start:start + n]
    path.write_text("".join(json.dumps({"question": x["q"], "answer": x["a"]}) + "\n" for x in rows))
    return path


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    "Each test session embeds into its own cache folder, never the user's."
    os.environ["CUBE_NB_CACHE"] = str(tmp_path_factory.mktemp("cube_nb_cache"))


@pytest.fixture(scope="session")
def qa_file(tmp_path_factory) -> Path:
    "A small real Q&A file: 60 Jargon File pairs as .jsonl."
    return qa_jsonl(tmp_path_factory.mktemp("data") / "qa.jsonl", 60)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, qa_file):
    """One run every CLI test shares: `cube_train --config tiny.yaml --out ref` as a real process, on `qa_file`.
    Its folder `dir` holds `tiny.yaml` and `ref`; `weights` are the finished run's model bytes. Tests that write
    into a run work on a copy (`copy_run`), so `ref` stays as training left it."""
    d = tmp_path_factory.mktemp("shared")
    (d / "tiny.yaml").write_text(yaml.safe_dump({**TINY, "data": {"source": str(qa_file)}}))
    r = cli("cube_train", "--config", d / "tiny.yaml", "--out", d / "ref")
    assert r.returncode == 0, r.stderr
    return SimpleNamespace(dir=d, config=d / "tiny.yaml", run=d / "ref",
                           weights=(d / "ref" / "model.safetensors").read_bytes())


def copy_run(tiny_run, dest: Path) -> Path:
    "A copy of the shared run at `dest`, to evaluate, ask or damage."
    shutil.copytree(tiny_run.run, dest)
    return dest


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """A real, tiny Hugging Face model folder (BERT, width 32, one layer, random weights, MiniLM's tokenizer), saved
    with transformers: a teacher ~50x faster than MiniLM, for tests of the plumbing around any teacher."""
    from transformers import BertConfig, BertModel
    from cube_nb.teachers import teacher_path
    d = tmp_path_factory.mktemp("teachers") / "tiny_bert"
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    BertModel(cfg).save_pretrained(d)
    for f in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"):
        if (teacher_path("minilm") / f).exists(): shutil.copy(teacher_path("minilm") / f, d / f)
    return d
