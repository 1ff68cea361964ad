"""The bad-input matrix: every console script and public builder, fed missing, empty, truncated, binary and
wrongly shaped inputs, wrong types and out-of-range values, and mismatched dimensions.

Every case asserts: the call fails (exit code 2 / `CubeError`), with one line naming the problem, no
traceback, and every file that existed before is byte-for-byte unchanged. The console scripts' cases call
each script's entry point in this process (a fresh interpreter per case cost ~3 s of imports, 72 times);
the first case of every script also runs as a real subprocess and must print exactly the same."""
import json, resource, signal
from pathlib import Path
import pytest, torch, yaml
from hypothesis import given, settings, HealthCheck, strategies as st

from cube_nb.core import CubeError, config_from_dict, config_to_dict
from conftest import SCRIPTS, cli, copy_run, qa_jsonl, run_entry

PRESET = Path(__file__).resolve().parent.parent / "configs" / "retrieval.yaml"  # the retrieval preset


def snapshot(root: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_one_line_failure(r, words):
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    err = r.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and err.startswith("error: "), err
    for w in ([words] if isinstance(words, str) else words):
        assert w in err, (w, err)


# ---------------------------------------------------------------- files a user might pass
FILES = {
    "empty.jsonl": b"",
    "blank.txt": b"\n\n  \n",
    "binary.jsonl": bytes(range(256)) * 8,
    "latin1.csv": "question,answer\nqu'est-ce que c'est,\xe7a\n".encode("latin-1"),
    "truncated.jsonl": b'{"question": "what is a hack?", "answer": "an appropriate application of ingenu',
    "not_json.jsonl": b"question: answer\nanother line\n",
    "lists.jsonl": b"[1, 2]\n[3, 4]\n",
    "no_keys.jsonl": b'{"foo": "x", "bar": "y"}\n{"foo": "z", "bar": "w"}\n',
    "wrong_columns.csv": b"prompt,reply\nhi,hello\n",
    "conversations_not_list.json": b'{"a": 1}',
    "numbers.json": b"[1, 2, 3]",
    "table.parquet": b"PAR1",
    "bad_config.yaml": b"epochs: [1, 2\n",
    "binary_config.yaml": bytes(range(256)),
    "unknown_key.yaml": b"epochs: 1\nlearning_rate: 0.1\n",
    "half_teacher.yaml": b"epochs: 1\ndevice: cpu\ndata:\n  teacher_dtype: float16\n",
    "wrong_type.yaml": b"epochs: ten\n",
    "out_of_range.yaml": b"lr: -1\n",
    "nested_wrong.yaml": b"model:\n  lattice:\n    dims: [8, 8]\n",
    "nested_unknown.yaml": b"model:\n  lattice:\n    colour: red\n",
    "bad_neighbourhood.yaml": b"model:\n  lattice:\n    neighbourhood: 7\n",
    "too_few_cells.yaml": b"model:\n  lattice:\n    dims: [4, 4, 4]\n",
    "face_steps.yaml": b"model:\n  mode: surface_only\n  lattice:\n    io: face\n    steps: 2\n",
    "config_list.yaml": b"- 1\n- 2\n",
    "bad_space.yaml": b"lr: [between, 1, 2]\n",
}

CLI_CASES = [  # (id, argv, words expected in the error line)
    ("train-missing-data", ["cube_train", "--data", "nope.jsonl"], "does not exist"),
    ("train-empty-data", ["cube_train", "--data", "empty.jsonl"], "empty.jsonl"),
    ("train-blank-txt", ["cube_train", "--data", "blank.txt"], "blank.txt"),
    ("train-binary-data", ["cube_train", "--data", "binary.jsonl"], "UTF-8"),
    ("train-latin1-csv", ["cube_train", "--data", "latin1.csv"], "UTF-8"),
    ("train-truncated-jsonl", ["cube_train", "--data", "truncated.jsonl"], "truncated.jsonl"),
    ("train-not-json", ["cube_train", "--data", "not_json.jsonl"], "not_json.jsonl"),
    ("train-json-lists", ["cube_train", "--data", "lists.jsonl"], "lists.jsonl"),
    ("train-missing-keys", ["cube_train", "--data", "no_keys.jsonl"], "no_keys.jsonl"),
    ("train-csv-columns", ["cube_train", "--data", "wrong_columns.csv"], "wrong_columns.csv"),
    ("train-conversations-dict", ["cube_train", "--data", "conversations_not_list.json"],
     "conversations_not_list.json"),
    ("train-json-numbers", ["cube_train", "--data", "numbers.json"], "numbers.json"),
    ("train-unknown-format", ["cube_train", "--data", "table.parquet"], "table.parquet"),
    ("train-unknown-corpus", ["cube_train", "--data", "wikipedia"], "wikipedia"),
    ("train-missing-config", ["cube_train", "--config", "nope.yaml"], "nope.yaml"),
    ("train-bad-yaml", ["cube_train", "--config", "bad_config.yaml"], "bad_config.yaml"),
    ("train-binary-yaml", ["cube_train", "--config", "binary_config.yaml"], "binary_config.yaml"),
    ("train-config-list", ["cube_train", "--config", "config_list.yaml"], "config_list.yaml"),
    ("train-unknown-key", ["cube_train", "--config", "unknown_key.yaml"], "learning_rate"),
    ("train-half-teacher-cpu", ["cube_train", "--config", "half_teacher.yaml", "--data", "qa.jsonl", "--out", "half"],
     "data.teacher_dtype=float16 needs a CUDA device"),
    ("train-wrong-type", ["cube_train", "--config", "wrong_type.yaml"], "epochs"),
    ("train-out-of-range", ["cube_train", "--config", "out_of_range.yaml"], "lr=-1"),
    ("train-nested-wrong", ["cube_train", "--config", "nested_wrong.yaml"], "dims"),
    ("train-nested-unknown", ["cube_train", "--config", "nested_unknown.yaml"], "colour"),
    ("train-neighbourhood", ["cube_train", "--config", "bad_neighbourhood.yaml"], "neighbourhood"),
    ("train-too-few-cells", ["cube_train", "--config", "too_few_cells.yaml"], "384"),
    ("train-face-steps", ["cube_train", "--config", "face_steps.yaml"], "steps"),
    ("train-epochs-zero", ["cube_train", "--epochs", "0"], "epochs=0"),
    ("train-seed-negative", ["cube_train", "--seed", "-1"], "seed"),
    ("train-retrieval-autoencoder", ["cube_train", "--config", str(PRESET), "--task", "autoencoder"],
     "needs question/answer pairs: set data.task=dialogue"),
    ("train-batch-one", ["cube_train", "batch_size=1"], "in-batch negatives need two pairs"),
    ("train-drop-dims", ["cube_train", "data.drop_dims=1"], "drop_dims=1.0 must be in [0, 1)"),
    ("train-min-steps", ["cube_train", "model.lattice.min_steps=0"], "min_steps=0 must be in [1, steps=8]"),
    ("train-smoothing", ["cube_train", "loss.smoothing=1"], "loss.smoothing=1.0 must be in [0, 1)"),
    ("train-teacher-missing", ["cube_train", "--teacher", "no/such/model"], "neither a known name"),
    ("train-teacher-not-model", ["cube_train", "--data", "qa.jsonl", "--teacher", "empty_dir"], "empty_dir"),
    ("train-teacher-dim", ["cube_train", "--data", "qa.jsonl", "--teacher", "mpnet_like"], "model.dim=384"),
    ("train-resume-nothing", ["cube_train", "--out", "no_run", "--resume"], "no run to resume"),
    ("train-device", ["cube_train", "--device", "tpu"], "tpu"),
    ("train-log-unwritable",
     ["cube_train", "--data", "qa.jsonl", "--epochs", "1", "--out", "tb_blocked", "--log", "tensorboard"],
     "log folder"),
    ("eval-missing-run", ["cube_eval", "--run", "no_run"], "not a run folder"),
    ("eval-truncated-model", ["cube_eval", "--run", "run_truncated"], "model.safetensors"),
    ("eval-truncated-embeddings", ["cube_eval", "--run", "run_vectors_truncated"],
     "embeddings.safetensors is not a valid safetensors file"),
    ("train-ragged-parquet", ["cube_train", "--embeddings", "ragged.parquet", "--out", "from_ragged"],
     "rows of q have 2 different lengths"),
    ("train-null-parquet", ["cube_train", "--embeddings", "null.parquet", "--out", "from_null"], "1 empty rows"),
    ("bench-data-too-small", ["cube_bench", "--suite", "data", "--sizes", "5"], "--sizes [5] must be >= 10"),
    ("eval-wrong-dims-model", ["cube_eval", "--run", "run_wrong_dims"], "does not match"),
    ("eval-missing-data", ["cube_eval", "--run", "run_ok", "--data", "nope.jsonl"], "does not exist"),
    ("eval-empty-data", ["cube_eval", "--run", "run_ok", "--data", "empty.jsonl"], "empty.jsonl"),
    ("ask-missing-run", ["cube_ask", "--run", "no_run", "hello"], "not a run folder"),
    ("ask-empty-question", ["cube_ask", "--run", "run_ok", "  "], "question is empty"),
    ("ask-k-zero", ["cube_ask", "--run", "run_ok", "-k", "0", "hello"], "k=0"),
    ("ask-csls-k-zero", ["cube_ask", "--run", "run_ok", "--k", "0", "hello"], ["k=0", "positive integer"]),
    ("ask-csls-k-too-large", ["cube_ask", "--run", "run_ok", "--k", "100000", "hello"], "larger than the bank"),
    ("ask-temperature-zero", ["cube_ask", "--run", "run_ok", "--scoring", "isoftmax", "--temperature", "0", "hello"],
     "> 0"),
    ("ask-empty-bank", ["cube_ask", "--run", "run_ok", "--bank", "empty.jsonl", "hello"], "empty.jsonl"),
    ("ask-missing-bank", ["cube_ask", "--run", "run_ok", "--bank", "nope.txt", "hello"], "does not exist"),
    ("ask-unknown-scoring", ["cube_ask", "--run", "run_ok", "--scoring", "cls", "hello"], "use one of cos, csls"),
    ("eval-unknown-scoring", ["cube_eval", "--run", "run_ok", "--scoring", "cos"],
     "use one of csls, isoftmax, centred"),
    ("eval-csls-k-too-large", ["cube_eval", "--run", "run_ok", "--k", "100000"], "larger than the bank"),
    ("eval-unknown-bank", ["cube_eval", "--run", "run_ok", "--bank", "unique"], "use distinct or all"),
    ("embed-missing-data", ["cube_embed", "--data", "nope.txt"], "does not exist"),
    ("embed-binary-data", ["cube_embed", "--data", "binary.jsonl"], "UTF-8"),
    ("embed-teacher-missing", ["cube_embed", "--data", "qa.jsonl", "--teacher", "no/such/model"],
     "neither a known name"),
    ("seeds-repeated", ["cube_seeds", "--seeds", "1", "1"], "distinct"),
    ("seeds-negative", ["cube_seeds", "--seeds", "-1"], ">= 0"),
    ("seeds-bad-config", ["cube_seeds", "--config", "unknown_key.yaml"], "learning_rate"),
    ("tune-trials-zero", ["cube_tune", "--trials", "0"], "--trials 0"),
    ("tune-missing-also", ["cube_tune", "--also", "nope.yaml", "--root", "tune_also"],
     "--also nope.yaml does not exist"),
    ("tune-missing-space", ["cube_tune", "--space", "nope.yaml"], "nope.yaml"),
    ("tune-space-not-map", ["cube_tune", "--space", "config_list.yaml"], "config_list.yaml"),
    ("tune-bad-storage", ["cube_tune", "--storage", "nosuchdb://x/y", "--root", "tune_bad"], "nosuchdb"),
    ("tune-bad-range", ["cube_tune", "--space", "bad_space.yaml", "--data", "qa.jsonl", "--root", "tune_range"],
     "search space entry"),
    ("export-not-a-run", ["cube_export", "--run", "no_run", "--out", "st_out"], "not a run folder"),
    ("export-target-exists", ["cube_export", "--run", "run_ok", "--out", "empty_dir"], "exists: pass --force"),
    ("teacher-st-dense", ["cube_embed", "--data", "qa.jsonl", "--teacher", "st_dense"], "Dense is not supported"),
    ("teacher-st-no-modules", ["cube_embed", "--data", "qa.jsonl", "--teacher", "st_no_modules"], "no modules.json"),
    ("bench-no-cuda", ["cube_bench", "--device", "cuda"], "cuda"),
    ("bench-bad-dims", ["cube_bench", "--dims", "0", "8", "8"], "dims"),
    ("bench-bad-batch", ["cube_bench", "--batch", "0"], "batch"),
    ("train-override-unknown", ["cube_train", "model.lattice.step=16"], "did you mean model.lattice.steps"),
    ("train-override-type", ["cube_train", "model.lattice.steps=many"], "model.lattice: steps='many' has the wrong"),
    ("train-override-range", ["cube_train", "model.lattice.hidden=0"], "model.lattice: hidden=0 must be >= 1"),
    ("train-override-no-equals", ["cube_train", "model.lattice.steps"], "no field=value form"),
    ("train-override-keeps-run", ["cube_train", "--out", "run_ok", "--force", "epochs=0"], "epochs=0 must be >= 1"),
    ("seeds-override-unknown", ["cube_seeds", "loss.infonse=1"], "did you mean loss.infonce"),
    ("tune-override-type", ["cube_tune", "lr=fast"], "lr='fast' has the wrong type"),
    ("bench-override-unknown", ["cube_bench", "--suite", "train", "batchsize=8"], "did you mean batch_size"),
    ("bench-override-not-train", ["cube_bench", "lr=1"], "only apply with --suite train"),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_bert, tiny_run):
    "A folder holding every bad file, a good Q&A file, a finished run (the shared one), and damaged copies of it."
    import shutil
    d = tmp_path_factory.mktemp("bad")
    for name, data in FILES.items(): (d / name).write_bytes(data)
    qa_jsonl(d / "qa.jsonl", 40)
    (d / "empty_dir").mkdir()
    for name, mods in (("st_dense", ["Transformer", "Pooling", "Dense"]), ("st_no_modules", None)):
        (d / name).mkdir()
        (d / name / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
        if mods: (d / name / "modules.json").write_text(json.dumps(
            [{"path": "", "type": f"sentence_transformers.models.{m}"} for m in mods]))
    (d / "tb_blocked").mkdir()
    (d / "tb_blocked" / "tensorboard").write_text("a file where the log folder would go\n")
    shutil.copytree(tiny_bert, d / "mpnet_like")  # a teacher folder whose embeddings are not 384-d
    copy_run(tiny_run, d / "run_ok")
    shutil.copytree(d / "run_ok", d / "run_truncated")
    m = d / "run_truncated" / "model.safetensors"
    m.write_bytes(m.read_bytes()[:100])
    shutil.copytree(d / "run_ok", d / "run_vectors_truncated")
    e = d / "run_vectors_truncated" / "embeddings.safetensors"
    e.write_bytes(e.read_bytes()[:5000])
    import pyarrow as pa, pyarrow.parquet as pq
    pq.write_table(pa.table({"q": [[1.0, 2.0], [3.0], [1.0, 2.0]], "a": [[1.0, 2.0]] * 3}), d / "ragged.parquet")
    pq.write_table(pa.table({"q": [[1.0, 2.0], None, [1.0, 2.0]], "a": [[1.0, 2.0]] * 3}), d / "null.parquet")
    shutil.copytree(d / "run_ok", d / "run_wrong_dims")
    c = d / "run_wrong_dims" / "config.yaml"
    cfg = yaml.safe_load(c.read_text())
    cfg["model"]["lattice"]["hidden"] = 16
    c.write_text(yaml.safe_dump(cfg))
    return d


FIRST = {next(c[0] for c in CLI_CASES if c[1][0] == name) for name in SCRIPTS}  # one case per script


@pytest.mark.parametrize("argv, words", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(workdir, argv, words, request):
    before = snapshot(workdir)
    r = run_entry(*argv, cwd=workdir)
    assert_one_line_failure(r, words)
    if request.node.callspec.id in FIRST:  # the installed script itself says the same
        real = cli(*argv, cwd=workdir)
        assert (real.returncode, real.stdout, real.stderr) == (r.returncode, r.stdout, r.stderr)
    after = snapshot(workdir)
    assert {p: b for p, b in after.items() if p in before} == before, "a file that existed before was changed"
    new = set(after) - set(before)
    results = [p for p in new if p.name in ("model.safetensors", "metrics.json")]
    assert not results, f"a failed command wrote results: {results}"


# ---------------------------------------------------------------- public builders, in process
def builder_cases(tmp):
    "(id, thunk, words): each thunk must raise CubeError whose one-line message holds `words`."
    from cube_nb import data, adapters, lattice, evaluation, training, model, teachers
    (tmp / "empty.txt").write_text("")
    (tmp / "bin.jsonl").write_bytes(bytes(range(256)))
    (tmp / "nokeys.jsonl").write_text('{"x": 1}\n')
    lat = lattice.Lattice3D(lattice.LatticeConfig(dims=(2, 2, 2), channels=2, hidden=4, steps=1))
    two = lambda: evaluation.PhraseBankDecoder(["a", "b"], torch.randn(2, 384))  # a bank of two phrases
    cfg = training.TrainingConfig(epochs=1)
    e = torch.nn.functional.normalize(torch.randn(8, 384), dim=1)
    return [
        ("text-empty-list", lambda: data.create_text_dataset([]), "0 records"),
        ("text-not-strings", lambda: data.create_text_dataset([1, 2, 3]), "text"),
        ("dialogue-empty", lambda: data.create_dialogue_dataset([]), "0 records"),
        ("dialogue-shape", lambda: data.create_dialogue_dataset([("only a question",)]), "pair"),
        ("conversation-shape", lambda: data.create_conversation_dataset(["not a list of turns"]), "conversation"),
        ("embedding-1d", lambda: data.create_embedding_dataset(torch.randn(10)), "2"),
        ("embedding-nan", lambda: data.create_embedding_dataset(torch.full((4, 8), float("nan"))), "NaN"),
        ("embedding-texts-count", lambda: data.create_embedding_dataset(torch.randn(4, 8), texts=["a"]), "texts"),
        ("file-missing", lambda: data.create_file_dataset(tmp / "nope.jsonl"), "does not exist"),
        ("file-empty", lambda: data.create_file_dataset(tmp / "empty.txt"), "empty.txt"),
        ("file-binary", lambda: data.create_file_dataset(tmp / "bin.jsonl"), "UTF-8"),
        ("file-no-keys-strict", lambda: data.create_file_dataset(tmp / "nokeys.jsonl", strict=True), "nokeys.jsonl:1"),
        ("file-task", lambda: data.create_file_dataset(tmp / "nokeys.jsonl", task="summaries"), "task"),
        ("dataset-config-split", lambda: data.DatasetConfig(split=(0.5, 0.5, 0.5)), "split"),
        ("teacher-missing", lambda: teachers.TeacherEncoder("/no/such/model"), "neither a known name"),
        ("teacher-not-model", lambda: teachers.TeacherEncoder(str(tmp)),
         "not a Hugging Face or sentence-transformers model folder"),
        ("teacher-pooling", lambda: teachers.TeacherEncoder("minilm", pooling="max"), "pooling"),
        ("adapter-zero-dim", lambda: adapters.UniversalEmbeddingAdapter(0, (15, 15)), "in_dim=0"),
        ("adapter-float-dim", lambda: adapters.UniversalEmbeddingAdapter(384.5, (15, 15)), "in_dim"),
        ("adapter-surface", lambda: adapters.UniversalEmbeddingAdapter(384, (0, 15)), "surface"),
        ("adapter-strategy", lambda: adapters.UniversalEmbeddingAdapter(384, (15, 15), "pca"), "strategy"),
        ("adapter-encode-dim", lambda: adapters.UniversalEmbeddingAdapter(384, (15, 15)).encode(torch.randn(2, 768)),
         "768"),
        ("adapter-decode-dim", lambda: adapters.UniversalEmbeddingAdapter(384, (15, 15)).decode(torch.randn(2, 224)),
         "224"),
        ("adapter-load-mismatch", lambda: adapter_mismatch(tmp), "was saved for 768"),
        ("lattice-dims", lambda: lattice.LatticeConfig(dims=(0, 4, 4)), "dims"),
        ("lattice-dims-2", lambda: lattice.LatticeConfig(dims=(4, 4)), "dims"),
        ("lattice-fire-rate", lambda: lattice.LatticeConfig(fire_rate=0), "fire_rate"),
        ("lattice-boundary", lambda: lattice.LatticeConfig(boundary="open"), "boundary"),
        ("lattice-triton-cpu", lambda: lattice.Lattice3D(lattice.LatticeConfig(dims=(2, 2, 2), engine="triton"))(
            torch.randn(1, 2, 2, 2)), "engine='triton' cannot run"),
        ("data-teacher-dtype", lambda: data.DatasetConfig(teacher_dtype="int8"), "teacher_dtype"),
        ("lattice-input-shape", lambda: lat(torch.randn(3, 2, 2)), "shape"),
        ("lattice-input-nan", lambda: lat(torch.full((1, 2, 2, 2), float("nan"))), "NaN"),
        ("lattice-input-inf", lambda: lat(torch.full((1, 2, 2, 2), float("inf"))), "Inf"),
        ("lattice-input-int", lambda: lat(torch.ones(1, 2, 2, 2, dtype=torch.long)), "float"),
        ("model-dim", lambda: model.ModelConfig(dim=0), "dim=0"),
        ("model-mode", lambda: model.ModelConfig(mode="tokens"), "mode"),
        ("model-too-small", lambda: model.CubeModel(model.ModelConfig(lattice=lattice.LatticeConfig(dims=(4, 4, 4)))),
         "384"),
        ("trainer-dim-mismatch",
         lambda: training.CubeTrainer(model.CubeModel(model.ModelConfig()), (torch.randn(8, 768), torch.randn(8, 768)),
                                                               (torch.randn(2, 768), torch.randn(2, 768)), cfg), "768"),
        ("trainer-length-mismatch",
         lambda: training.CubeTrainer(model.CubeModel(model.ModelConfig()), (e, e[:5]), (e[:2], e[:2]), cfg), "8"),
        ("trainer-nan", lambda: training.CubeTrainer(model.CubeModel(model.ModelConfig()), (e * float("nan"), e),
                                                     (e[:2], e[:2]), cfg), "NaN"),
        ("training-config-batch", lambda: training.TrainingConfig(batch_size=1), "batch_size"),
        ("training-config-lr", lambda: training.TrainingConfig(lr=0), "lr"),
        ("bank-empty", lambda: evaluation.PhraseBankDecoder([], torch.zeros(0, 384)), "phrase bank"),
        ("bank-count", lambda: evaluation.PhraseBankDecoder(["a", "b"], torch.randn(3, 384)), "phrase bank"),
        ("bank-query-dim", lambda: two().decode(torch.randn(768)), "768"),
        ("bank-query-nan", lambda: two().decode(torch.full((384,), float("nan"))), "NaN"),
        ("bank-k", lambda: two().decode(torch.randn(384), k=0), "k"),
        ("load-run-missing", lambda: training.load_run(tmp / "none"), "not a run folder"),
    ]


def adapter_mismatch(tmp):
    from cube_nb.adapters import AdapterManager
    m = AdapterManager(tmp / "adapters")
    m.get("minilm", 384, (15, 15))
    m.save()
    cfg = next((tmp / "adapters").glob("*.yaml"))
    y = yaml.safe_load(cfg.read_text())
    y["in_dim"] = 768
    cfg.write_text(yaml.safe_dump(y))  # weights saved for another teacher
    return AdapterManager(tmp / "adapters").get("minilm", 384, (15, 15))


def test_builder_bad_inputs(tmp_path):
    failures = []
    for name, thunk, words in builder_cases(tmp_path):
        try:
            thunk()
            failures.append(f"{name}: no error")
        except CubeError as err:
            msg = str(err)
            if "\n" in msg or words not in msg: failures.append(f"{name}: {msg!r} (want {words!r}, one line)")
        except Exception as err:
            failures.append(f"{name}: {type(err).__name__}: {err}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- generated configs
from cube_nb.training import TrainingConfig

LEAVES = {  # a field path and values that are valid for it
    ("epochs",): st.integers(1, 50), ("batch_size",): st.integers(2, 512), ("lr",): st.floats(1e-5, 1.0),
    ("seed",): st.integers(0, 2**31 - 1), ("schedule",): st.sampled_from(["none", "plateau", "cosine"]),
    ("model", "lattice", "steps"): st.integers(0, 20), ("model", "lattice", "channels"): st.integers(1, 32),
    ("model", "lattice", "neighbourhood"): st.sampled_from([6, 26]), ("model", "lattice",
                                                                      "fire_rate"): st.floats(0.01, 1.0),
    ("loss", "temperature"): st.floats(1e-3, 1.0), ("data", "split"): st.just([0.7, 0.1, 0.2]),
}
ANY = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                st.text(max_size=8), st.lists(st.integers(-3, 3), max_size=4),
                st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


@st.composite
def config_dicts(draw):
    d = config_to_dict(TrainingConfig())
    for path in draw(st.lists(st.sampled_from(sorted(LEAVES)), min_size=1, max_size=4, unique=True)):
        node = d
        for k in path[:-1]: node = node[k]
        node[path[-1]] = draw(st.one_of(LEAVES[path], ANY))  # a valid value or anything at all
    if draw(st.booleans()): d[draw(st.text(min_size=1, max_size=6))] = draw(ANY)  # maybe an unknown key
    return d


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_dicts())
def test_generated_configs_load_or_fail_in_one_line(d):
    "Any mix of valid and arbitrary values either gives a config that round-trips, or one CubeError line."
    try: cfg = config_from_dict(TrainingConfig, d)
    except CubeError as err:
        assert "\n" not in str(err) and str(err)
        return
    assert config_from_dict(TrainingConfig, config_to_dict(cfg)) == cfg


# ---------------------------------------------------------------- a full disk
def test_disk_full_keeps_the_last_checkpoint(workdir, tmp_path):
    "Resume under a 1 KiB file-size limit (as on a full disk): one line, the last checkpoint untouched and resumable."
    import time
    from cube_nb.core import load_tensors
    cfg = {"epochs": 40, "batch_size": 4, "checkpoint_every": 2,  # ~5 s of training: the kill lands well inside it
           "model": {"lattice": {"channels": 4, "hidden": 8, "steps": 2}},
           "data": {"source": str(workdir / "qa.jsonl")}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    p = cli("cube_train", "--config", "c.yaml", "--out", out, cwd=tmp_path, wait=False)
    t = time.time()
    while p.poll() is None and not list((out / "checkpoint").glob("step-*")) and time.time() - t < 240: time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (out / "model.safetensors").exists(), "the run finished before it could be killed"
    before = snapshot(out)

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
    r = cli("cube_train", "--config", "c.yaml", "--out", out, "--resume", cwd=tmp_path, preexec_fn=small_disk)
    took_over = "warning: took over the lock"  # of the process killed above
    assert took_over in r.stderr, r.stderr
    shm = "warning: shared memory cannot hold"  # if training got that far: batches read in-process (1 KiB files)
    r.stderr = "\n".join(x for x in r.stderr.splitlines() if not x.startswith((took_over, shm)))
    assert_one_line_failure(r, ["File too large", "disk"])
    after = snapshot(out)
    lock = out / ".lock"  # its holder changes (the killed run's, then empty): everything else must not
    before.pop(lock)
    after.pop(lock)
    assert after == before, "a failed write changed or left files"
    for ck in (out / "checkpoint").glob("step-*"): load_tensors(ck / "model.safetensors")  # intact
    r = run_entry("cube_train", "--config", "c.yaml", "--out", out, "--resume", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (out / "model.safetensors").is_file()


# ---------------------------------------------------------------- determinism
def test_same_seed_same_metrics(tiny_run, tmp_path):
    "A second run with the shared run's config and seed, in a new process: the same weights and metrics.json (CPU)."
    copy_run(tiny_run, tmp_path / "a")  # evaluated as a copy: the shared run stays unevaluated
    r = cli("cube_train", "--config", tiny_run.config, "--out", tmp_path / "b", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b" / "model.safetensors").read_bytes() == tiny_run.weights
    ms = []
    for name in ("a", "b"):
        r = run_entry("cube_eval", "--run", tmp_path / name, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        m = json.loads((tmp_path / name / "metrics.json").read_text())
        m.pop("seconds")
        ms.append(m)
    assert ms[0] == ms[1]
