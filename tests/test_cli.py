"""End-to-end runs of the console scripts, as a user types them. The shared run (conftest's `tiny_run`) is trained
by a real `cube_train` process; the commands here call the same entry points in the test process (`run_entry`)."""
import json
from pathlib import Path
import pytest, yaml
from conftest import TINY, copy_run, qa_jsonl, run_entry as run
from cube_nb.data import Records


@pytest.fixture(scope="module")
def trained_run(tiny_run, tmp_path_factory) -> Path:
    "This file's copy of the shared run: the commands below write their results into it."
    return copy_run(tiny_run, tmp_path_factory.mktemp("runs") / "r")


def test_train_writes_run_folder(trained_run):
    for f in ("config.yaml", "model.safetensors", "history.csv", "records.arrow", "split.json",
              "embeddings.safetensors"):
        assert (trained_run / f).is_file(), f
    assert len((trained_run / "history.csv").read_text().splitlines()) == 1 + TINY["epochs"]  # header + an epoch a line


def test_eval_prints_table_and_writes_metrics(trained_run):
    r = run("cube_eval", "--run", trained_run)
    assert r.returncode == 0, r.stderr
    for name in ("cube", "identity", "centroid", "ridge", "procrustes", "map", "mlp"):
        assert any(line.startswith(name) for line in r.stdout.splitlines()), name
    m = json.loads((trained_run / "metrics.json").read_text())
    assert m["task"] == "dialogue" and m["teacher"] == "minilm"
    assert set(m["dataset"]) == {"source", "n_train", "n_val", "n_test"}
    assert m["dataset"]["n_train"] + m["dataset"]["n_val"] + m["dataset"]["n_test"] == 60
    t = m["test"]
    b = t["bank"]  # Jargon: one group a record, so only identical answer texts merge
    assert b["rule"] == "distinct" and t["candidates"] == b["candidates"] <= b["questions"] == m["dataset"]["n_test"]
    assert b["of_100_batch"] == b["questions"] and "distinct answer texts" in r.stdout  # fewer than 100: one batch
    assert set(t["baselines"]) == {"identity", "centroid", "ridge", "procrustes", "map", "mlp", "lowrank"}
    for s in [t["cube"], *t["baselines"].values()]:
        assert set(s) >= {"cos", "R1", "R1_of_100", "R10", "MRR10", "mean_rank"}
        assert 0 <= s["R1"] <= s["R10"] <= 1 and 1 <= s["mean_rank"] <= t["candidates"]
    assert set(m["params"]) == {"cube", *t["baselines"]} and set(m["seconds"]) >= {"embed", "train", "eval"}
    report = (trained_run / "report.md").read_text()
    assert "pair by pair" in report and (trained_run / "pair_scores.png").stat().st_size > 1000
    # every mapper ranked both ways, with the hubness of its top-1 answers; the scoring named in file and table
    assert t["scoring"]["corrected"] == "csls(k=10)" and "training questions" in t["scoring"]["statistics"]
    for s in [t["cube"], *t["baselines"].values()]:
        assert set(s) >= {"R1_csls", "MRR10_csls", "mean_rank_csls", "N1_skew", "hub_share", "never_top1",
                          "hub_share_csls"}
        assert 0 <= s["R1_csls"] <= s["R10_csls"] <= 1 and 0 < s["hub_share"] <= 1
    assert t["baselines"]["centroid"]["hub_share"] == 1.0  # the centroid's nearest answer takes every question
    assert "R1_csls" in r.stdout and "hubness" in r.stdout and "rank by csls(k=10)" in r.stdout
    assert "## Hubs" in report and (trained_run / "hubness.png").stat().st_size > 1000
    # the baselines were fitted once and kept: a second evaluation reads them (the MLP does not train again)
    stored = (trained_run / "baselines.safetensors").stat().st_mtime_ns
    again = run("cube_eval", "--run", trained_run)
    assert again.returncode == 0 and "baseline mlp: " not in again.stdout, again.stderr
    assert "baseline mlp: " in r.stdout and "baseline lowrank: " in r.stdout  # each same-size adapter's progress
    table = lambda out: [l for l in out.splitlines() if l.split(" ")[0] in ("cube", "identity", "ridge", "mlp")]
    assert table(again.stdout) == table(r.stdout)
    assert (trained_run / "baselines.safetensors").stat().st_mtime_ns == stored


def test_ask_ranks_with_csls_and_keeps_bank_statistics(trained_run, tmp_path):
    r = run("cube_ask", "--run", trained_run, "What is a hacker?")
    assert r.returncode == 0, r.stderr
    assert "cube (ranked by csls(k=10)):" in r.stdout and "identity (ranked by csls(k=10)):" in r.stdout
    stats = sorted((trained_run / "bank_stats").iterdir())
    assert [p.name.split("-")[0] for p in stats] == ["cube", "identity"]
    before = {p: p.stat().st_mtime_ns for p in stats}
    again = run("cube_ask", "--run", trained_run, "What is a hacker?")
    assert again.stdout == r.stdout and again.stderr == ""
    assert {p: p.stat().st_mtime_ns for p in stats} == before  # read back, not written again
    stats[0].write_bytes(b"not a safetensors file")  # damaged: rebuilt with a one-line warning, the answers unchanged
    fixed = run("cube_ask", "--run", trained_run, "What is a hacker?")
    assert fixed.stdout == r.stdout and fixed.stderr.startswith("warning:") and "damaged" in fixed.stderr
    assert len(fixed.stderr.strip().splitlines()) == 1
    cos = run("cube_ask", "--run", trained_run, "--scoring", "cos", "-k", "1", "What is a hacker?")
    assert "cube (ranked by cos):" in cos.stdout and len(cos.stdout.splitlines()) == 4
    bank = tmp_path / "bank.txt"  # any bank: one text a line
    bank.write_text("A person who enjoys exploring the details of programmable systems.\nA kind of sandwich.\n")
    other = run("cube_ask", "--run", trained_run, "--bank", bank, "What is a hacker?")
    assert other.returncode == 0, other.stderr
    lines = other.stdout.splitlines()
    assert "csls(k=2)" in other.stdout and len(lines) == 6  # two answers each: k fits the two-text bank
    assert "programmable systems" in lines[lines.index("identity (ranked by csls(k=2)):") + 1]


def test_train_writes_tensorboard_only_when_asked(trained_run, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    assert not (trained_run / "tensorboard").exists()  # nothing written unless asked
    out = tmp_path / "tb"
    r = run("cube_train", "--config", trained_run / "config.yaml", "--epochs", 2, "--out", out, "--log", "tensorboard")
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    ev = EventAccumulator(str(out / "tensorboard")).Reload()
    assert {"train/loss", "train/lr", "train/grad_norm", "val/loss", "val/cos", "val/R1"} <= set(ev.Tags()["scalars"])
    assert [e.step for e in ev.Scalars("val/cos")] == [1, 2] and ev.Tags()["images"] == ["lattice/state"]


def test_train_refuses_to_overwrite_a_run(trained_run, qa_file):
    before = (trained_run / "model.safetensors").read_bytes()
    r = run("cube_train", "--data", qa_file, "--epochs", 1, "--out", trained_run)
    assert r.returncode == 2 and r.stderr.startswith("error:") and "--force" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert (trained_run / "model.safetensors").read_bytes() == before


def test_bench_quick_json():
    r = run("cube_bench", "--quick", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["vs_reference"] > 1 and res["cell_steps_per_s"] > 0 and res["device"] == "cpu"


def test_bench_data_quick(tmp_path):
    "--suite data: each size written, mapped and trained from in its own process; the files go afterwards."
    r = run("cube_bench", "--suite", "data", "--quick", "--folder", tmp_path, "--json", "model.lattice.steps=2")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    assert [x["pairs"] for x in rows] == [2000, 20_000] and all(x["pairs_per_s"] > 0 for x in rows)
    assert rows[1]["rss_vs_first"] < 1.5, rows  # ten times the pairs, about the same memory
    assert "peak RSS" in r.stdout and not list(tmp_path.iterdir())


@pytest.mark.parametrize("mode, flag", [("autoencoder", "--task"), ("mixed", "--mode")])
def test_other_modes_end_to_end(mode, flag, tiny_run, tmp_path):
    out = tmp_path / mode
    r = run("cube_train", "--config", tiny_run.config, flag, mode, "--epochs", 1, "--out", out)
    assert r.returncode == 0, r.stderr
    assert ("--mode is now called --task" in r.stderr) == (flag == "--mode")  # the old name works and says so
    r = run("cube_eval", "--run", out)
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == mode
    if mode == "mixed":
        assert m["test_autoencoder"]["candidates"] > 0 and m["test_autoencoder"]["cube"]["cos"] > 0.5
        assert m["dataset"]["n_test"] > m["test"]["candidates"]  # the table scores the dialogue half of the test split


def test_eval_other_file_and_saved_predictions(trained_run, tmp_path):
    import numpy as np
    other = qa_jsonl(tmp_path / "other.jsonl", 40, start=100)
    preds = tmp_path / "preds"
    r = run("cube_eval", "--run", trained_run, "--data", other, "--save-predictions", preds)
    assert r.returncode == 0, r.stderr
    m = json.loads((trained_run / "metrics-other.json").read_text())
    assert m["dataset"]["n_eval"] == 40 and m["test"]["candidates"] == 40
    pairs = [json.loads(l) for l in (preds / "test_pairs.jsonl").read_text().splitlines()]
    p = np.load(preds / "predictions.npy")
    assert p.shape == (40, 384) and len(pairs) == 40
    # recompute mean cosine and R@1 independently: sentence-transformers embeds the answers, numpy ranks them
    from sentence_transformers import SentenceTransformer
    from cube_nb.teachers import teacher_path
    a = SentenceTransformer(str(teacher_path("minilm")),
                            device="cpu").encode([x["a"] for x in pairs], normalize_embeddings=True)
    pn = p / np.linalg.norm(p, axis=1, keepdims=True)
    s = pn @ a.T
    assert abs(float(np.mean(np.diag(s))) - m["test"]["cube"]["cos"]) < 1e-4
    r1 = float(np.mean([np.sum(s[i] >= s[i, i]) == 1 for i in range(40)]))
    assert abs(r1 - m["test"]["cube"]["R1"]) < 1e-9
    # and sentence-transformers' own InformationRetrievalEvaluator on the same predictions: queries are the
    # cube's outputs, the corpus is the 40 answers, each query's relevant document is its own answer
    import torch
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from sentence_transformers.util import cos_sim
    assert len({x["a"] for x in pairs}) == 40  # distinct answers: no ties for the evaluator to break differently
    ev = InformationRetrievalEvaluator({str(i): x["q"] for i, x in enumerate(pairs)},
                                       {str(i): x["a"] for i, x in enumerate(pairs)},
                                       {str(i): {str(i)} for i in range(40)}, accuracy_at_k=[1, 10],
                                       precision_recall_at_k=[1], mrr_at_k=[10], ndcg_at_k=[10], map_at_k=[10],
                                       score_functions={"cos": cos_sim}, show_progress_bar=False)
    row = {x["q"]: i for i, x in enumerate(pairs)}

    class Predictions:  # hands the evaluator the cube's outputs for its query texts
        def encode_query(self, sentences, **kw): return torch.from_numpy(p[[row[t] for t in sentences]])
    st = ev.compute_all_metrics(Predictions(), corpus_embeddings=torch.from_numpy(a))["cos"]
    assert abs(st["accuracy@k"][1] - m["test"]["cube"]["R1"]) < 1e-9
    assert abs(st["accuracy@k"][10] - m["test"]["cube"]["R10"]) < 1e-9
    assert abs(st["mrr@k"][10] - m["test"]["cube"]["MRR10"]) < 1e-6


def test_seeds_and_tune_end_to_end(qa_file, tmp_path):
    "cube_seeds: a table with intervals; cube_tune: a study in SQLite, resumed, and a config for cube_train."
    tiny = tmp_path / "tiny.yaml"
    lattice = "model:\n  lattice:\n    channels: 4\n    hidden: 8\n    steps: 2\n"
    tiny.write_text(f"epochs: 2\ndata:\n  source: {qa_file}\n{lattice}")
    r = run("cube_seeds", "--config", tiny, "epochs=1", "--seeds", 0, 1, "--root", tmp_path / "seeds")
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load((tmp_path / "seeds" / "seed-1" / "config.yaml").read_text())["epochs"] == 1  # the override
    assert "± " in r.stdout and "paired test, cos" in r.stdout and "quality target" in r.stdout
    s = json.loads((tmp_path / "seeds" / "seeds.json").read_text())
    assert s["seeds"] == [0, 1] and len(s["metrics"]) == 2 and set(s["target"]) >= {"cos", "R1", "params", "met"}
    space = tmp_path / "space.yaml"
    space.write_text("lr: [log, 0.001, 0.01]\n")
    for n in (1, 2):  # the second call resumes the study in study.db and adds one trial
        r = run("cube_tune", "--config", tiny, "--space", space, "--trials", n, "--root", tmp_path / "tune", "epochs=1",
                "loss.infonce=0.5")
        assert r.returncode == 0, r.stderr
        assert f"best of {n} finished trials" in r.stdout
    assert (tmp_path / "tune" / "study.db").is_file()
    best = yaml.safe_load((tmp_path / "tune" / "best.yaml").read_text())
    assert (best["epochs"], best["loss"]["infonce"]) == (1, 0.5)  # the overrides, kept in the best configuration
    r = run("cube_train", "--config", tmp_path / "tune" / "best.yaml", "--out", tmp_path / "best")
    assert r.returncode == 0, r.stderr
    r = run("cube_tune", "--config", tiny, "--space", space, "--sampler", "grid", "--root", tmp_path / "grid")
    assert r.returncode == 2 and "grid sampler needs" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_overrides_print_config_and_train(tiny_run, tmp_path):
    "FIELD=VALUE words among the options: --print-config shows them (twice: a warning, the last wins); runs keep them."
    r = run("cube_train", "--config", tiny_run.config, "epochs=3", "model.lattice.dims=[8,8,6]", "--seed", 2,
                  "epochs=2", "loss.infonce=1e-1", "--print-config")
    c = yaml.safe_load(r.stdout)
    warned = "warning: epochs is given twice (epochs=3, then epochs=2): the last wins"
    assert r.returncode == 0 and r.stderr.strip() == warned, r.stderr
    assert (c["epochs"], c["seed"], c["data"]["seed"], c["loss"]["infonce"], c["model"]["lattice"]["dims"]) == \
        (2, 2, 2, 0.1, [8, 8, 6])
    r = run("cube_train", "--config", tiny_run.config, "--out", tmp_path / "run", "epochs=1", "loss.infonce=0.5")
    assert r.returncode == 0, r.stderr
    c = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert (c["epochs"], c["loss"]["infonce"]) == (1, 0.5)


def test_eval_is_leak_free_by_an_independent_count(trained_run, tmp_path):
    """cube_eval on real conversations (adjacent turns: echoes, repeated replies): the R@1 it reports for the cube and
    the identity equals a count in numpy under the leak-free rule, from test_pairs.jsonl and sentence-transformers'
    embeddings; the old rule, one flag away, is said in metrics.json and scores the identity lower here."""
    import numpy as np
    from sentence_transformers import SentenceTransformer
    from cube_nb.data import chitchat_conversations
    from cube_nb.teachers import teacher_path
    (tmp_path / "talk.json").write_text(json.dumps(list(chitchat_conversations().values())[:25]))  # 334 pairs
    r = run("cube_eval", "--run", trained_run, "--data", tmp_path / "talk.json", "--save-predictions", tmp_path / "p")
    assert r.returncode == 0, r.stderr
    m = json.loads((trained_run / "metrics-talk.json").read_text())
    pairs = [json.loads(l) for l in (tmp_path / "p" / "test_pairs.jsonl").read_text().splitlines()]
    mine = {}  # group -> its answer texts
    for x in pairs: mine.setdefault(x["group"], set()).add(x["a"])
    assert sum(x["q"] in mine[x["group"]] for x in pairs) > 10  # echoes: this data can tell the rules apart
    st = SentenceTransformer(str(teacher_path("minilm")), device="cpu")
    texts = list(dict.fromkeys(x["a"] for x in pairs))
    E, col = st.encode(texts, normalize_embeddings=True), {t: j for j, t in enumerate(texts)}

    def r1(P):  # the rule, written from its statement: distinct texts, the question's group's other answers out
        P, hits, n = P / np.linalg.norm(P, axis=1, keepdims=True), 0, 0
        for p, x in zip(P, pairs):
            keep = [col[t] for t in texts if t == x["a"] or t not in mine[x["group"]]]
            if len(keep) < 2: continue
            s = E[keep] @ p  # the true answer's score from the same product: it ties with itself
            hits, n = hits + int(np.sum(s > s[keep.index(col[x["a"]])]) == 0), n + 1
        return hits / n
    t = m["test"]
    assert t["bank"]["rule"] == "distinct" and t["candidates"] == len(texts) < len(pairs)
    assert abs(r1(np.load(tmp_path / "p" / "predictions.npy")) - t["cube"]["R1"]) < 0.015
    assert abs(r1(st.encode([x["q"] for x in pairs])) - t["baselines"]["identity"]["R1"]) < 0.015
    r = run("cube_eval", "--run", trained_run, "--data", tmp_path / "talk.json", "--bank", "all")
    old = json.loads((trained_run / "metrics-talk-bank-all.json").read_text())["test"]
    assert r.returncode == 0 and old["bank"]["rule"] == "all" and old["candidates"] == len(pairs), r.stderr
    assert old["baselines"]["identity"]["R1"] < t["baselines"]["identity"]["R1"]  # the echo takes the top place


def test_train_and_eval_on_your_own_vectors(tiny_run, tmp_path):
    "--embeddings: a run from vectors made elsewhere (here the shared run's own file of q and a), no teacher run."
    import numpy as np, torch
    from cube_nb.core import load_tensors
    vecs = tiny_run.run / "embeddings.safetensors"  # q and a, (60, 384): the layout --embeddings reads
    out = tmp_path / "own"
    r = run("cube_train", "--config", tiny_run.config, "--embeddings", vecs, "--epochs", 1, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "embedding 60 records" not in r.stdout  # the teacher never ran
    e = load_tensors(vecs)
    rows = [int(q[2:]) for q in Records.open(out / "records.arrow").column("q")]  # q#i
    assert torch.equal(load_tensors(out / "embeddings.safetensors")["q"], e["q"][rows])  # saved in split order
    r = run("cube_eval", "--run", out)
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "metrics.json").read_text())["test"]["candidates"] > 0
    for cmd in (("cube_ask", "--run", out, "what is a hack?"), ("cube_export", "--run", out, "--out", tmp_path / "st")):
        r = run(*cmd)
        assert r.returncode == 2 and "trained on your own vectors" in r.stderr and len(r.stderr.splitlines()) == 1
    np.savez(tmp_path / "narrow.npz", q=e["q"][:, :24].numpy(), a=e["a"][:, :24].numpy())
    r = run("cube_train", "--embeddings", tmp_path / "narrow.npz", "--out", tmp_path / "narrow")
    assert r.returncode == 2 and "holds 24-d vectors but model.dim=384: set model.dim=24" in r.stderr
