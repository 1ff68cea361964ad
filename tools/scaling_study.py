"""The scaling study of nbs/experiments/2026-12-02_scaling.ipynb: the cube against a residual MLP of the same size
across parameters (~10k to ~640k), the lattice's reach (steps, neighbourhood, layout) and data (Jargon, 20,000 and all
chitchat pairs). Every job trains one cube configuration and the baselines (the MLP sized to the cube's parameters),
and scores every mapper on validation and test by cosine and by retrieval, plain and CSLS-corrected (k = 10).

    python tools/scaling_study.py prep SET DATA_DIR [--seeds 0 1 2] [--teacher DIR --device cuda --dtype float16]
    python tools/scaling_study.py run DATA_DIR OUT.jsonl [--variants 10k 40k ...] [--device cuda]
        [--worker I --workers N]

SET is jargon, chitchat-20k or chitchat-full (configs/). `prep` is hubness_study's (one folder per seed, float16
embeddings); `run` appends one JSON line per (set, seed, variant) job not already in OUT.jsonl; job j goes to
worker j mod N, so several processes share one GPU.
"""
import argparse
from pathlib import Path
from hubness_study import CORRECTIONS, append_row, job, pending, prep

# name -> dotted overrides of the set's configuration; the MLP baseline is always sized to the cube's parameters
VARIANTS = {
    "10k": {},  # the default lattice: 8x8x6, 16 channels, hidden 32, 8 steps, 6 neighbours, linear layout
    "40k": {"model.lattice.channels": 32, "model.lattice.hidden": 112},
    "160k": {"model.lattice.channels": 64, "model.lattice.hidden": 256},
    "640k": {"model.lattice.channels": 128, "model.lattice.hidden": 576},
    "steps1": {"model.lattice.steps": 1},  # reach: how far a signal travels through the lattice (1: neighbours only)
    "steps4": {"model.lattice.steps": 4},
    "steps16": {"model.lattice.steps": 16},
    "steps32": {"model.lattice.steps": 32},
    "moore26": {"model.lattice.neighbourhood": 26},
    "semantic": {"model.reshaper": "semantic"},  # correlated embedding dimensions placed next to each other
    # everything read out has crossed the lattice: in through face z=0 (adapter), out of face z=3, no skip
    "face": {"model.mode": "surface_only", "model.lattice.dims": [4, 16, 16], "model.lattice.io": "face",
             "model.lattice.steps": 6, "model.lattice.skip": False},
}


def lattice_flops(cfg) -> float:
    "Multiply-adds x 2 of one forward pass of the cube for one pair (the cell rule over every cell and step)."
    lc = cfg.model.lattice
    cells = lc.dims[0] * lc.dims[1] * lc.dims[2]
    rule = lc.hidden * (lc.channels * (lc.neighbourhood + 1) + 1) + lc.hidden * lc.channels
    return 2.0 * cells * lc.steps * rule


def run(root: Path, out: Path, device: str, worker: int, workers: int, variants, engine=None, pair_only=False):
    folders = [f for f in sorted(root.iterdir()) if (f / "config.json").is_file()]
    key = lambda r, v: (r["set"], r["seed"], r["variant"] if v is None else v)
    for f, v in pending([(f, v) for v in variants for f in folders], out, worker, workers, key):
        scored = None if v == "10k" and not pair_only else ("cube", "mlp")  # the others don't change with the cube
        row = {"variant": v, **job(f, 0.03, device, engine, VARIANTS[v], CORRECTIONS[:1], scored)}
        append_row(out, row)
        t, m = row["test"]["cube"], row["test"]["mlp"]
        print(f"{f.name} {v}: cube cos {t['cos']:.3f} R1_csls {t['R1_csls']:.3f} | mlp cos {m['cos']:.3f} "
              f"R1_csls {m['R1_csls']:.3f} | {row['params']} | {row['seconds']:.0f}s", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["prep", "run"])
    p.add_argument("args", nargs=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--teacher", help="prep: a teacher model folder instead of the set's")
    p.add_argument("--dtype", default="float32", help="prep: the teacher's precision (half needs CUDA)")
    p.add_argument("--variants", nargs="*", default=list(VARIANTS))
    p.add_argument("--worker", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--engine", default=None, help="lattice engine override (auto, torch, triton)")
    p.add_argument("--pair-only", action="store_true", help="score only the cube and the MLP (large sets)")
    a = p.parse_args()
    if a.cmd == "prep":
        prep(a.args[0], Path(a.args[1]), a.seeds, a.teacher, device=a.device, dtype=a.dtype, batch_size=256)
    else: run(Path(a.args[0]), Path(a.args[1]), a.device, a.worker, a.workers, a.variants, a.engine, a.pair_only)
