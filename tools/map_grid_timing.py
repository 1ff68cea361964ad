"""Time MAP's grid search (08_evaluation) on a run's own splits, on the GPU if there is one:
   python tools/map_grid_timing.py RUN
one and five epochs of all 20 grid points (an epoch's cost once the first has warmed up), then one epoch's validation
ranking and its masks alone."""
import itertools, sys, time
import torch
from cube_nb import evaluation as ev
from cube_nb.training import load_run


def clock(f):
    "Seconds `f()` takes, the device synchronised on either side."
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    t = time.perf_counter()
    f()
    sync()
    return time.perf_counter() - t


cfg, model, ds = load_run(sys.argv[1])
tr, va, vb = ds.part("train"), ds.part("val"), ds.bank("val")
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
trd, vad = [tuple(ev.to_device(t, dev) for t in p) for p in (tr, va)]
points = list(itertools.product(ev.MAP_GRID["lr"], ev.MAP_GRID["l2"]))
print(f"{len(tr[0])} training pairs, {len(va[0])} validation, {len(vb.cand)} candidates, "
      f"{vb.removed.shape[1]} left-out pairs, {len(points)} grid points on {dev}")
s = {e: clock(lambda: ev._map_grid(trd, vad, vb, points, 0, 256, e, 10, 0.2, dev)) for e in (1, 5)}
print(f"1 epoch {s[1]:.2f} s, 5 epochs {s[5]:.2f} s, {(s[5] - s[1]) / 4:.3f} s an epoch after the first", flush=True)
alpha, W = torch.ones(len(points), device=dev), torch.randn(len(points), tr[0].shape[1], tr[0].shape[1], device=dev)
xvn, cands = torch.nn.functional.normalize(vad[0], dim=1), vad[1][vb.cand.to(dev)]
chunk, n = max(1, 8192 // len(points)), len(va[0])
ranking = clock(lambda: ev._grid_r1(alpha, W, xvn, cands, vb, len(points)))
masks = clock(lambda: [vb.drop(i, min(i + chunk, n)) for i in range(0, n, chunk)])
print(f"validation R@1 of one epoch: {ranking:.2f} s, its masks alone: {masks:.2f} s")
