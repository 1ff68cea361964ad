"""GPU checks and figures (run on a CUDA machine): the CUDA lattice agrees with the CPU path, bf16 training
through CubeTrainer runs, and the lattice benchmark at the default and the 16x16x16 / batch 1024 shapes."""
import dataclasses, json, os, sys, torch
from fastcore.test import test_close
from cube_nb.lattice import LatticeConfig, Lattice3D
from cube_nb.bench import bench_lattice, format_bench
from cube_nb.model import CubeModel
from cube_nb.training import TrainingConfig, CubeTrainer
from cube_nb.losses import LossConfig

assert torch.cuda.is_available()
print(torch.__version__, torch.cuda.get_device_name())


def lattice_memory(cfg: LatticeConfig) -> dict:
    "Seconds and peak GPU memory of one bf16 forward and backward of lattice `cfg` on 4096 inputs."
    import time
    l = Lattice3D(cfg).cuda()
    x = torch.randn(4096, *l.in_shape, device="cuda")
    torch.cuda.reset_peak_memory_stats()
    t = time.time()
    with torch.autocast("cuda", dtype=torch.bfloat16): y = l(x)
    y.float().square().mean().backward()
    torch.cuda.synchronize()
    return {"seconds": time.time() - t, "peak_mem_bytes": torch.cuda.max_memory_allocated()}


# python3 tools/gpu_check.py teacher FOLDER: the teacher in fp32 / fp16 / bf16 on the GPU
if sys.argv[1:2] == ["teacher"]:
    import time
    from cube_nb.teachers import TeacherEncoder
    from cube_nb.data import jargon_pairs
    texts = list(dict.fromkeys([p["q"] for p in jargon_pairs()] + [p["a"] for p in jargon_pairs()]))
    import warnings
    from cube_nb.teachers import varlen_attention
    torch.manual_seed(0)
    offsets = torch.tensor([0, 5, 37, 38, 100, 228], device="cuda")
    for dtype, eps in ((torch.float32, 1e-5), (torch.float16, 2e-3), (torch.bfloat16, 2e-2)):  # kernels vs padding
        q, k, v = torch.randn(3, 228, 384, device="cuda", dtype=dtype).unbind()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the kernel must run, not fall back to padding
            fused = varlen_attention(q, k, v, offsets, heads=12)
        padded = varlen_attention(q, k, v, offsets, heads=12, fused=False)
        err = float((fused.float() - padded.float()).abs().max())
        print(f"varlen kernel vs padded attention, {dtype}: max abs diff {err:.1e}", flush=True)
        assert err < eps, err
    ref = None
    for dtype in ("float32", "float16", "bfloat16"):
        t = TeacherEncoder(sys.argv[2], device="cuda", dtype=dtype, batch_size=256)
        t.encode(texts[:512])
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        e = t.encode(texts)
        torch.cuda.synchronize()
        sec = time.perf_counter() - t0
        ref = e if ref is None else ref
        cos = torch.nn.functional.cosine_similarity(e, ref)
        print(f"teacher {dtype}: {len(texts) / sec:,.0f} texts/s ({len(texts)} Jargon texts, batch 256); cos to "
              f"float32: min {cos.min():.6f}, mean {cos.mean():.6f}", flush=True)
    sys.exit(0)
# python3 tools/gpu_check.py frontier RUN OUT.json: the cube of a run folder trained on CUDA at several InfoNCE
# weights (09_tuning)
if sys.argv[1:2] == ["frontier"]:
    from cube_nb.data import load_dataset
    from cube_nb.core import load_config, set_seed
    from cube_nb.losses import retrieval_metrics
    from cube_nb.training import predict
    from cube_nb.tuning import with_overrides
    run, rows = sys.argv[2], []
    cfg, ds = load_config(TrainingConfig, f"{run}/config.yaml"), load_dataset(run)
    ds.q, ds.a = ds.q.float(), ds.a.float()  # the folder may carry them as float16 to fit the device's transfer limit
    for lam in (0.0, 0.03, 0.1, 0.3, 1.0):
        c = with_overrides(cfg, {"loss.infonce": lam, "loss.temperature": 0.05, "device": "cuda"})
        set_seed(c.seed)
        model = CubeModel(c.model).fit_layout(*ds.part("train"))
        CubeTrainer(model, ds.part("train"), ds.part("val"), c, val_bank=ds.bank("val"), **ds.pair_info("train")).fit()
        m = retrieval_metrics(predict(model, ds.part("test")[0]), ds.part("test")[1], bank=ds.bank("test"))
        rows.append({"infonce": lam, **{k: v for k, v in m.items() if k in ("cos", "R1", "MRR10")}})
        print(json.dumps(rows[-1]), flush=True)
    record = {"run": run, "device": torch.cuda.get_device_name(), "torch": torch.__version__, "cube": rows}
    open(sys.argv[3], "w").write(json.dumps(record, indent=1))
    sys.exit(0)

if sys.argv[1:2] == ["graphs"]:  # python3 tools/gpu_check.py graphs: training with CUDA graphs against without them
    from cube_nb.core import set_seed
    torch.manual_seed(0)
    xs = torch.nn.functional.normalize(torch.randn(3000, 384), dim=1)
    ys = torch.nn.functional.normalize(xs + 0.5 * torch.randn_like(xs), dim=1)
    for amp, over in ((False, {}), (True, {}), (True, {"fire_rate": 0.5, "boundary": "reflecting"})):
        out = {}
        for graphs in (True, False):
            cfg = TrainingConfig(epochs=2, batch_size=256, device="cuda", amp=amp, cuda_graphs=graphs)
            cfg.model.lattice = dataclasses.replace(cfg.model.lattice, **over)
            set_seed(0)
            m = CubeModel(cfg.model)
            h = CubeTrainer(m, (xs[:2700], ys[:2700]), (xs[2700:], ys[2700:]), cfg).fit()
            out[graphs] = (torch.cat([q.detach().flatten() for q in m.parameters()]), h[-1]["val_cos"])
        diff = float((out[True][0] - out[False][0]).abs().max() / out[False][0].abs().max())
        print(f"CUDA graphs vs eager (amp={amp}, {over or 'default lattice'}): weights max rel diff {diff:.1e}, "
              f"val cos {out[True][1]:.4f} vs {out[False][1]:.4f}", flush=True)
    sys.exit(0)
# python3 tools/gpu_check.py fused [tune]: the Triton engine against the CPU path, its block sizes, the 16^3 table,
# memory
if sys.argv[1:2] == ["fused"]:
    import dataclasses, time, cube_nb.fused as fz
    from cube_nb.fused import engine_diffs
    from cube_nb.bench import bench_engine
    cases = [dict(dims=(6, 5, 4), channels=8, hidden=16, steps=5),
             dict(dims=(6, 5, 4), channels=8, hidden=16, neighbourhood=26, boundary="periodic", activation="tanh",
                  steps=5),
             dict(dims=(16, 16, 16), channels=16, steps=8),
             dict(dims=(8, 8, 6), channels=16, io="face", steps=8, activation="relu")]
    for c in cases:
        d = engine_diffs(LatticeConfig(**c), batch=4, device="cuda")
        print("fused fp32 vs CPU", c, f"max rel {max(d.values()):.1e}", flush=True)
        assert max(d.values()) < 1e-4, d
        d = engine_diffs(LatticeConfig(**c), batch=4, device="cuda", amp=True)
        print("fused bf16 vs CPU fp32", c, {k: f"{v:.1e}" for k, v in d.items()}, flush=True)
    cfg16 = LatticeConfig(dims=(16, 16, 16), channels=16)
    torch.manual_seed(0)  # training end to end through the fused engine (the default model's lattice takes it on CUDA)
    xs = torch.nn.functional.normalize(torch.randn(4096, 384), dim=1)
    ys = torch.nn.functional.normalize(xs + 0.5 * torch.randn_like(xs), dim=1)
    for amp in (False, True):
        cfg = TrainingConfig(epochs=3, batch_size=256, device="cuda", amp=amp, loss=LossConfig(cosine=1, infonce=0.1))
        m = CubeModel(cfg.model)
        h = CubeTrainer(m, (xs[:3500], ys[:3500]), (xs[3500:], ys[3500:]), cfg).fit()
        engine = m.lattice.engine_for(torch.zeros(1, device='cuda'))
        print(f"CubeTrainer on CUDA (amp={amp}), lattice engine {engine}:",
              [(r["epoch"], round(r["val_cos"], 4), round(r["seconds"], 2)) for r in h], flush=True)
    # `fused tune`: each kernel's (cells, warps) in turn, the others at the default (bf16: the fp32 sweep found
    # (64, 4) best or within 10 %)
    for amp in ((True,) if sys.argv[2:3] == ["tune"] else ()):
        for kern in ("fwd", "bwd_h", "bwd_s"):
            keep = fz.BLOCKS[kern, amp]
            best = None
            for bw in ((32, 2), (64, 2), (64, 4), (128, 4), (128, 8)):
                fz.BLOCKS[kern, amp] = bw
                try: r = bench_engine(cfg16, 1024, "triton", 1.0, "cuda", amp=amp)["cell_steps_per_s"]
                except Exception as e:
                    print(kern, bw, "failed", str(e)[:80], flush=True)
                    continue
                print(f"amp {amp} {kern} {bw}: {r / 1e9:.3f}e9 cell-steps/s", flush=True)
                if best is None or r > best[0]: best = (r, bw)
            fz.BLOCKS[kern, amp] = best[1] if best else keep
    print("BLOCKS", fz.BLOCKS, flush=True)
    out = {"device": torch.cuda.get_device_name(), "bench": [], "memory": []}
    for amp in (False, True):
        res = bench_lattice(cfg16, batch=1024, device="cuda", min_time=2.0, amp=amp)
        print(format_bench(res), flush=True)
        out["bench"].append(res)
    for eng, ck, seg in (("triton", False, 1), ("triton", True, 1)):
        cfg = LatticeConfig(dims=(16, 16, 16), channels=16, steps=32, engine=eng, grad_checkpoint=ck,
                            checkpoint_segment=seg)
        try: r = lattice_memory(cfg)
        except torch.OutOfMemoryError as e: r = {"oom": str(e)[:100]}
        torch.cuda.empty_cache()
        r.update(engine=eng, grad_checkpoint=ck)
        print("memory b4096 16^3 32 steps bf16", r, flush=True)
        out["memory"].append(r)
    from cube_nb.bench import bench_sweep
    out["sweep"] = bench_sweep(2**22, engines=("triton",), device="cuda", amp=True, channels=16)
    for r in out["sweep"]: print(r["dims"], r["batch"], r["engine"], r.get("cell_steps_per_s"),
                                 r.get("peak_mem_bytes"), flush=True)
    with open(os.path.join(os.environ.get("OUT", "."), "fused.json"),
              "w") as f: json.dump(out, f, indent=1, default=str)
    sys.exit(0)
for n in (6, 26):
    for b in ("walls", "periodic", "reflecting"):
        torch.manual_seed(0)
        l = Lattice3D(LatticeConfig(dims=(6, 5, 4), channels=8, hidden=16, neighbourhood=n, boundary=b, steps=5,
                                    engine="torch"))
        torch.nn.init.normal_(l.rule.w2, std=0.1)
        x = torch.randn(4, 6, 5, 4)
        cpu = l(x)
        cpu.square().sum().backward()
        gcpu = l.rule.w_state.grad.clone()
        l.zero_grad()
        lg = l.cuda()
        gpu = lg(x.cuda())
        gpu.square().sum().backward()
        test_close(gpu.cpu(), cpu.detach(), eps=1e-4)
        test_close(lg.rule.w_state.grad.cpu(), gcpu, eps=1e-3)
print("CUDA forward and gradients of the PyTorch engine match the CPU path (6 and 26 neighbours, 3 boundaries)")

torch.manual_seed(0)
xs = torch.nn.functional.normalize(torch.randn(4096, 384), dim=1)
ys = torch.nn.functional.normalize(xs + 0.5 * torch.randn_like(xs), dim=1)
cfg = TrainingConfig(epochs=2, batch_size=256, device="cuda", amp=True, loss=LossConfig(cosine=1, infonce=0.1))
h = CubeTrainer(CubeModel(cfg.model), (xs[:3500], ys[:3500]), (xs[3500:], ys[3500:]), cfg).fit()
print("bf16 CubeTrainer on CUDA:", [(r["epoch"], round(r["val_cos"], 4), round(r["seconds"], 2)) for r in h])

import os, time
OUT = os.environ.get("OUT", ".")
results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "bench": [], "sweep": [], "memory": []}

def guarded(fn):
    try: return fn()
    except torch.OutOfMemoryError as e:
        torch.cuda.empty_cache()
        return {"oom": str(e)[:120]}

def memory_runs(results, segments=(1, 2, 4)):
    "Batch 4096 x 16^3 cells x 32 steps, bf16, forward + backward (PyTorch engine); checkpoint per step, segment, none."
    for seg in (*segments, None):
        cfg = LatticeConfig(dims=(16, 16, 16), channels=16, steps=32, grad_checkpoint=seg is not None,
                            checkpoint_segment=seg or 1, engine="torch")
        r = guarded(lambda: lattice_memory(cfg))
        r["checkpoint_segment"] = seg
        print("memory b4096 16^3 32 steps bf16", r, flush=True)
        results["memory"].append(r)
        torch.cuda.empty_cache()

if sys.argv[1:2] == ["memory"]:  # python3 tools/gpu_check.py memory: the 16^3 benchmark and the memory runs only
    for amp in (False, True):
        res = guarded(lambda: bench_lattice(LatticeConfig(dims=(16, 16, 16), channels=16), batch=1024, device="cuda",
                                            min_time=2.0, amp=amp))
        if "rows" in res: print(format_bench(res), flush=True)
    memory_runs(results)
    sys.exit(0)

# the shapes: 16 channels, batch 1024, default and 16^3 lattices, fp32 and bf16, every engine side by side
for dims in ((8, 8, 6), (16, 16, 16)):
    for amp in (False, True):
        res = guarded(lambda: bench_lattice(LatticeConfig(dims=dims, channels=16), batch=1024, device="cuda",
                                            min_time=2.0, amp=amp))
        if "rows" in res: print(format_bench(res), flush=True)
        else: print(dims, amp, res, flush=True)
        results["bench"].append(res)
# torch.compile of our engine at 16^3, bf16
from cube_nb.bench import bench_engine
for amp in (False, True):
    t0 = time.time()
    r = guarded(lambda: bench_engine(LatticeConfig(dims=(16, 16, 16), channels=16), 1024, "shifted", 2.0, "cuda",
                                     amp=amp, compile=True))
    r["compile_wall_s"] = time.time() - t0
    print(r, flush=True)
    results["bench"].append({"rows": [r]})
# throughput against lattice size (about 4M cells per batch), ours vs the depthwise-conv NCA, bf16
from cube_nb.bench import bench_sweep
results["sweep"] = bench_sweep(2**22, device="cuda", amp=True, channels=16)
for r in results["sweep"]: print(r["dims"], r["batch"], r["engine"], r.get("cell_steps_per_s"),
                                 r.get("peak_mem_bytes"), flush=True)
memory_runs(results)
with open(os.path.join(OUT, "gpu.json"), "w") as f: json.dump(results, f, indent=1, default=str)
