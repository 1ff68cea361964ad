"""The hubness study of nbs/experiments/2026-12-02_hubness.ipynb: cube and residual MLP at several InfoNCE weights,
every mapper scored on validation and test by plain cosine and by CSLS, the inverted softmax and centring.

    python tools/hubness_study.py prep SET DATA_DIR            # embed (CPU, cached) and split SET for seeds 0, 1, 2
    python tools/hubness_study.py run DATA_DIR OUT.jsonl [--device cuda] [--worker I --workers N]

SET is `jargon` or `chitchat-20k` (configs/chitchat-20k.yaml). `prep` writes one dataset folder per seed (the seed
picks the 20,000-pair sample and the split, as `cube_seeds` does), with embeddings stored as float16 so the folders
fit the GPU machine's transfer limit. `run` trains one job (set, seed, InfoNCE weight) after another and appends one
JSON line per job; job j goes to worker j mod N, so N processes can share one GPU (the small batches leave it idle).
"""
import argparse, json, time
from pathlib import Path
from cube_nb.core import load_config, set_seed
from cube_nb.data import build_dataset, load_dataset, load_records
from cube_nb.evaluation import baseline_predictors, score_all
from cube_nb.model import CubeModel
from cube_nb.scoring import scoring
from cube_nb.training import TrainingConfig, AdapterCubeTrainer, CubeTrainer, predict
from cube_nb.tuning import with_overrides

SETS = {"jargon": None, "chitchat-20k": "configs/chitchat-20k.yaml", "chitchat-full": "configs/chitchat-full.yaml"}
INFONCE = (0.0, 0.03, 0.1, 0.3, 1.0)  # the loss weights of the frontier; temperature 0.05
CORRECTIONS = (scoring("csls", k=10), scoring("isoftmax", temperature=0.05), scoring("centred"))


def base_config(name: str) -> TrainingConfig:
    "The configuration a set is trained with (the library default, or the set's file under configs/)."
    return load_config(TrainingConfig, SETS[name]) if SETS[name] else TrainingConfig()


def prep(name: str, root: Path, seeds=(0, 1, 2), teacher: str | None = None, **encoder):
    "One dataset folder per seed; `teacher` (a model folder) and `encoder` (device, dtype, ...) override the set's."
    from cube_nb.teachers import TeacherEncoder
    for s in seeds:
        cfg = with_overrides(base_config(name), {"seed": s, "data.seed": s})
        enc = TeacherEncoder(teacher or cfg.teacher, **encoder)
        ds = build_dataset(load_records(cfg.data.source, cfg.task), cfg.data, enc)
        ds.q, ds.a = ds.q.half(), ds.a.half()
        ds.save(root / f"{name}-seed{s}")
        (root / f"{name}-seed{s}" / "config.json").write_text(json.dumps({"set": name, "seed": s}))
        print(name, s, {k: len(v) for k, v in ds.split.items()}, flush=True)


def job(folder: Path, lam: float, device: str, engine: str | None = None, over: dict | None = None,
        corrections=CORRECTIONS, scored=None) -> dict:
    "Cube and MLP trained at InfoNCE weight `lam` (and `over`); every mapper (or those `scored`) scored both ways."
    over = over or {}
    meta = json.loads((folder / "config.json").read_text())
    cfg = with_overrides(base_config(meta["set"]), {"seed": meta["seed"], "data.seed": meta["seed"], "device": device,
                                                    "loss.infonce": lam, "loss.temperature": 0.05})
    cfg = with_overrides(cfg, {**({"model.lattice.engine": engine} if engine else {}), **over})
    ds = load_dataset(folder)
    ds.q, ds.a = ds.q.float(), ds.a.float()
    t0 = time.perf_counter()
    set_seed(cfg.seed)
    model = CubeModel(cfg.model).fit_layout(*ds.part("train"))
    trainer = AdapterCubeTrainer if cfg.model.mode == "surface_only" else CubeTrainer  # as cube_train picks
    trainer(model, ds.part("train"), ds.part("val"), cfg, val_bank=ds.bank("val"), **ds.pair_info("train")).fit()
    model, t_cube = model.eval(), time.perf_counter() - t0  # predictions on the training device
    preds = baseline_predictors(ds.part("train"), ds.part("val"), cfg, model.n_params, val_bank=ds.bank("val"),
                                **ds.pair_info("train"))
    t_base = time.perf_counter() - t0 - t_cube
    mappers = {k: f for k, f in {"cube": lambda q: predict(model, q), **preds}.items() if k in (scored or [k])}
    params = {"cube": model.n_params, "mlp": preds["mlp"].n_params}
    row = {**meta, "infonce": lam, "over": over, "params": params, "sizes": {k: len(v) for k, v in ds.split.items()}}
    train_q = ds.part("train")[0]
    gpu = "cuda" if device.startswith("cuda") else None
    for part in ("val", "test"):  # leak-free candidates (distinct texts, own conversation removed), and 1-of-100
        row[part] = score_all(mappers, ds.part(part), train_q, corrections, device=gpu, bank=ds.bank(part),
                              seed=cfg.seed)
    row["seconds"] = time.perf_counter() - t0
    row["phases"] = {"cube": t_cube, "baselines": t_base, "scoring": row["seconds"] - t_cube - t_base}
    return row


def pending(jobs, out: Path, worker: int, workers: int, key) -> list:
    """This worker's share of `jobs` ((folder, parameter); job i to worker i mod `workers`) whose key is not in `out`.

    `key(row, None)` keys a finished row of `out` (None: it does not count), `key(meta, parameter)` a job."""
    done = {key(r, None) for r in map(json.loads, out.read_text().splitlines())} if out.is_file() else set()
    meta = lambda f: json.loads((f / "config.json").read_text())
    return [(f, p) for i, (f, p) in enumerate(jobs) if i % workers == worker and key(meta(f), p) not in done]


def append_row(out: Path, row: dict):
    with out.open("a") as fh: fh.write(json.dumps(row) + "\n")


def run(root: Path, out: Path, device: str, worker: int, workers: int, infonce=INFONCE, **opts):
    "Every (dataset folder, InfoNCE weight) job of this worker not already in `out`; `opts` go to `job`."
    over = opts.get("over") or {}
    jobs = [(f, lam) for f in sorted(root.iterdir()) if (f / "config.json").is_file() for lam in infonce]
    def key(r, lam):
        if lam is None and r.get("over", {}) != over: return None
        return r["set"], r["seed"], r["infonce"] if lam is None else lam
    for f, lam in pending(jobs, out, worker, workers, key):
        row = job(f, lam, device, **opts)
        append_row(out, row)
        t, c = row["test"]["cube"], row["test"]["identity"]
        print(f"{f.name} infonce {lam}: cube cos {t['cos']:.3f} R1 {t['R1']:.3f} R1_csls {t['R1_csls']:.3f} | "
              f"identity R1_csls {c['R1_csls']:.3f} | {row['seconds']:.0f}s {row['phases']}", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["prep", "run"])
    p.add_argument("args", nargs=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--worker", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--engine", default=None, help="lattice engine override (auto, torch, triton)")
    p.add_argument("--infonce", type=float, nargs="*", help="only these InfoNCE weights")
    p.add_argument("--csls-only", action="store_true", help="score with CSLS only (the other corrections cost 2x)")
    p.add_argument("--over", default="{}", help='JSON of dotted overrides, e.g. \'{"batch_size": 256}\'')
    a = p.parse_args()
    if a.cmd == "prep": prep(a.args[0], Path(a.args[1]))
    else:
        run(Path(a.args[0]), Path(a.args[1]), a.device, a.worker, a.workers, tuple(a.infonce or INFONCE),
            engine=a.engine, over=json.loads(a.over), corrections=CORRECTIONS[:1] if a.csls_only else CORRECTIONS)
