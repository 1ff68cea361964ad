"""The retrieval-adapter study of nbs/experiments/2026-12-05_retrieval.ipynb: the cube against every baseline, each
trained mapper with the retrieval preset's objective (configs/retrieval.yaml), scored on the leak-free test bank.

    python tools/retrieval_study.py SET OUT.jsonl [--regimes main budgets steps robust] [--seeds 0 1 2]
                                    [--device cuda] [--teacher DIR] [--minutes M] [--preset configs/retrieval.yaml]

SET is jargon, chitchat-20k or chitchat-full (its configs/SET.yaml gives the data section; the preset gives the rest).
One JSON line per (set, seed, regime, variant, mapper); a row already in OUT is not run again, so a study cut off by
--minutes (or by the machine) goes on where it stopped. Regimes:
- main: the preset's cube and every baseline of cube_eval (identity, centroid, ridge, Procrustes, MAP, and the
  same-size MLP and low-rank adapters trained with the cube's objective).
- budgets: cube, MLP, low-rank and diagonal adapters from about 500 to about 100,000 parameters.
- steps: a cube trained with a random number of steps (min_steps) and the preset's cube, run for 2 to 32 steps.
- robust: test questions with 10/30/50 % of their dimensions zeroed or Gaussian noise; the cube, MLP and low-rank
  adapters trained clean and trained with the same damage, MAP and the closed forms as fitted clean.
"""
import argparse, dataclasses, json, time
from pathlib import Path
from cube_nb.core import load_config, set_seed
from cube_nb.data import build_dataset, load_records
from cube_nb.evaluation import fit_baselines, predictors, score_all, WithSteps
from cube_nb.model import CubeModel, Diagonal, LowRankResidual, ResidualMLP, lowrank_rank_for, mlp_hidden_for
from cube_nb.scoring import scoring
from cube_nb.teachers import TeacherEncoder
from cube_nb.training import TrainingConfig, CubeTrainer, corrupt
from cube_nb.tuning import with_overrides

SETS = {"jargon": "configs/jargon.yaml", "chitchat-20k": "configs/chitchat-20k.yaml",
        "chitchat-full": "configs/chitchat-full.yaml"}
BUDGETS = {  # lattice overrides (8x8x6 cells): about 500, 2,700, 10,000, 28,000 and 90,000 parameters
    "xs": {"model.lattice.channels": 4, "model.lattice.hidden": 16, "model.lattice.learned_init": False},
    "s": {"model.lattice.channels": 4, "model.lattice.hidden": 32},
    "m": {},
    "l": {"model.lattice.channels": 32, "model.lattice.hidden": 64},
    "xl": {"model.lattice.channels": 64, "model.lattice.hidden": 128},
}
STEPS = (2, 4, 8, 12, 16, 24, 32)  # test-time steps (the preset trains with 8)
DAMAGE = (("drop", 0.1), ("drop", 0.3), ("drop", 0.5), ("noise", 0.05))  # a unit vector's coordinates have std ~0.05
KEEP = ("cos", "R1", "R5", "MRR10", "R1_csls", "R1_of_100", "R1_of_100_csls", "N1_skew", "N1_skew_csls")


def config(name: str, preset: str, seed: int, device: str, teacher: str | None) -> TrainingConfig:
    "The preset with the set's data section, the seed (weights, sample and split) and the device."
    data = load_config(TrainingConfig, SETS[name]).data
    cfg = dataclasses.replace(load_config(TrainingConfig, preset), data=data)
    over = {"seed": seed, "data.seed": seed, "device": device, **({"data.teacher": teacher} if teacher else {})}
    return with_overrides(cfg, over)


def dataset(cfg: TrainingConfig, device: str):
    "The set's pairs embedded (cached: the seeds of one set share the embeddings) and split by `cfg.data.seed`."
    dt = cfg.data.teacher_dtype if device.startswith("cuda") else "float32"
    enc = TeacherEncoder(cfg.teacher, device=device if device.startswith("cuda") else "cpu", dtype=dt)
    return build_dataset(load_records(cfg.data.source, cfg.task), cfg.data, enc)


def train(model, ds, cfg: TrainingConfig):
    "`model` trained with the preset's loop and objective on the set; returned in evaluation mode."
    CubeTrainer(model, ds.part("train"), ds.part("val"), cfg, val_bank=ds.bank("val"), **ds.pair_info("train")).fit()
    return model.eval()


def cube(ds, cfg: TrainingConfig, over: dict | None = None):
    "A cube of `cfg` (with `over`), its layout fitted, trained."
    c = with_overrides(cfg, over or {})
    set_seed(c.seed)
    return train(CubeModel(c.model).fit_layout(*ds.part("train")), ds, c)


def adapters(ds, cfg: TrainingConfig, budget: int, diagonal: bool = False) -> dict:
    "Same-size residual MLP and low-rank adapters (those that can be that small), and the diagonal map, trained."
    d, out = ds.q.shape[1], {}
    if budget >= 3 * d + 1: out["mlp"] = ResidualMLP(d, mlp_hidden_for(d, budget))
    if budget >= 3 * d: out["lowrank"] = LowRankResidual(d, lowrank_rank_for(d, budget))
    if diagonal: out["diagonal"] = Diagonal(d)
    for m in out.values():
        set_seed(cfg.seed)
        train(m, ds, cfg)
    return out


def n_params(m) -> int: return sum(p.numel() for p in m.parameters())


class Study:
    "Runs the jobs of one set and seed not yet in `out`, one row per mapper."
    def __init__(self, name, seed, ds, cfg, out: Path, deadline: float):
        self.name, self.seed, self.ds, self.cfg, self.out, self.deadline = name, seed, ds, cfg, out, deadline
        self.done = set()
        if out.is_file():
            for r in map(json.loads, out.read_text().splitlines()): self.done.add(self.key(r))
        self.csls = scoring("csls", n=min(len(ds.bank("test").cand), len(ds.rows("train"))))
        self.gpu = "cuda" if cfg.device.startswith("cuda") else None
        self.cache = {}

    def key(self, r) -> tuple: return r["set"], r["seed"], r["regime"], r["variant"]

    def todo(self, regime: str, variant: str) -> bool:
        "Whether the job is still to run (and there is time for it)."
        if (self.name, self.seed, regime, variant) in self.done: return False
        if time.time() > self.deadline: raise TimeoutError(f"--minutes reached before {regime}/{variant}")
        return True

    def score(self, regime: str, variant: str, modules: dict, q_test=None, extra=None, t0=None):
        "Score `modules` (name -> module) on the test split and append one row per mapper."
        test = self.ds.part("test")
        if q_test is not None: test = (q_test, test[1])
        fs = predictors(modules)  # each module's predict function, with its parameter count
        scores = score_all(fs, test, self.ds.part("train")[0], self.csls, device=self.gpu, bank=self.ds.bank("test"),
                           seed=self.seed)
        rows = []
        for k, s in scores.items():
            rows.append({"set": self.name, "seed": self.seed, "regime": regime, "variant": variant, "mapper": k,
                         "params": fs[k].n_params, **{x: s[x] for x in KEEP if x in s}, **(extra or {})})
        secs = time.perf_counter() - t0 if t0 else None
        with self.out.open("a") as fh:
            for r in rows: fh.write(json.dumps({**r, "seconds": secs}) + "\n")
        best = max(rows, key=lambda r: r["R1"])
        scored = " ".join(f"{r['mapper']} {r['R1']:.3f}" for r in rows)
        print(f"{self.name} seed {self.seed} {regime}/{variant}: {scored} | best {best['mapper']} | {secs or 0:.0f}s",
              flush=True)

    def main_cube(self):
        if "cube" not in self.cache: self.cache["cube"] = cube(self.ds, self.cfg)
        return self.cache["cube"]

    def baselines(self):
        if "base" not in self.cache:
            cube_n = n_params(self.main_cube())
            fitted = fit_baselines(self.ds.part("train"), self.ds.part("val"), self.cfg, cube_n,
                                   val_bank=self.ds.bank("val"), **self.ds.pair_info("train"))
            self.cache["base"] = {k: m.eval() for k, m in fitted.items()}
        return self.cache["base"]

    def main(self):
        if not self.todo("main", "preset"): return
        t0 = time.perf_counter()
        self.score("main", "preset", {"cube": self.main_cube(), **self.baselines()}, t0=t0)

    def budgets(self):
        for b, over in BUDGETS.items():
            if not self.todo("budgets", b): continue
            t0 = time.perf_counter()
            c = self.main_cube() if not over else cube(self.ds, self.cfg, over)
            mods = {"cube": c, **adapters(self.ds, self.cfg, n_params(c), diagonal=b == "xs")}
            self.score("budgets", b, mods, t0=t0)

    def steps(self):
        if not any(self.todo("steps", f"{t}-{s}") for t in ("fixed", "random") for s in STEPS): return
        t0 = time.perf_counter()
        steps = self.cfg.model.lattice.steps
        trained = {"fixed": self.main_cube(),
                   "random": cube(self.ds, self.cfg, {"model.lattice.min_steps": max(1, steps // 2)})}
        for t, m in trained.items():
            for s in STEPS:
                if self.todo("steps", f"{t}-{s}"):
                    self.score("steps", f"{t}-{s}", {"cube": WithSteps(m, s)}, extra={"steps": s, "trained": t}, t0=t0)

    def robust(self):
        base = self.baselines()
        clean = {"cube": self.main_cube(), **{k: base[k] for k in ("identity", "ridge", "procrustes", "map", "mlp",
                                                                   "lowrank")}}
        q = self.ds.part("test")[0]
        for kind, rate in DAMAGE:
            v = f"{kind}-{rate}"
            if not self.todo("robust", v): continue
            t0 = time.perf_counter()
            over = {"data.drop_dims": rate} if kind == "drop" else {"data.noise_std": rate}
            damaged = {"cube+": cube(self.ds, self.cfg, over)}
            damaged.update({k + "+": m for k, m in adapters(self.ds, with_overrides(self.cfg, over),
                                                             n_params(damaged["cube+"])).items()})
            qd = corrupt(q, **{"drop" if kind == "drop" else "noise": rate}, seed=self.seed)
            self.score("robust", v, {**clean, **damaged}, q_test=qd, extra={"damage": kind, "rate": rate}, t0=t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("set", choices=list(SETS))
    p.add_argument("out")
    p.add_argument("--regimes", nargs="+", default=["main", "budgets", "steps", "robust"],
                   choices=["main", "budgets", "steps", "robust"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--device", default="cpu")
    p.add_argument("--teacher", help="a model folder instead of the set's teacher (e.g. the GPU bundle's MiniLM)")
    p.add_argument("--preset", default="configs/retrieval.yaml")
    p.add_argument("--minutes", type=float, default=1e9, help="start no job after this many minutes")
    p.add_argument("--over", default="{}", help="JSON of dotted overrides of the preset, e.g. '{\"epochs\": 2}'")
    a = p.parse_args()
    deadline, out = time.time() + 60 * a.minutes, Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for seed in a.seeds:
        cfg = with_overrides(config(a.set, a.preset, seed, a.device, a.teacher), json.loads(a.over))
        t0 = time.perf_counter()
        ds = dataset(cfg, a.device)
        sizes = {k: len(v) for k, v in ds.split.items()}
        print(f"{a.set} seed {seed}: {sizes} in {time.perf_counter() - t0:.0f}s", flush=True)
        st = Study(a.set, seed, ds, cfg, out, deadline)
        try:
            for r in a.regimes: getattr(st, r)()
        except TimeoutError as e:
            print(f"stopped: {e}", flush=True)
            return


if __name__ == "__main__":
    main()
