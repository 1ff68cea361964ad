"""GPU checks and figures (run on a CUDA machine): the CUDA lattice agrees with the CPU path, bf16 training
through CubeTrainer runs, and the lattice benchmark at the default and the 16x16x16 / batch 1024 shapes."""
import dataclasses, json, torch
from fastcore.test import test_close
from cube_nb.lattice import LatticeConfig, Lattice3D
from cube_nb.bench import bench_lattice, format_bench
from cube_nb.model import CubeModel, ModelConfig
from cube_nb.training import TrainingConfig, CubeTrainer
from cube_nb.losses import LossConfig

assert torch.cuda.is_available()
print(torch.__version__, torch.cuda.get_device_name())
for n in (6, 26):
    for b in ("walls", "periodic", "reflecting"):
        torch.manual_seed(0)
        l = Lattice3D(LatticeConfig(dims=(6, 5, 4), channels=8, hidden=16, neighbourhood=n, boundary=b, steps=5))
        torch.nn.init.normal_(l.rule.w2, std=0.1)
        x = torch.randn(4, 6, 5, 4)
        cpu = l(x); cpu.square().sum().backward(); gcpu = l.rule.w_state.grad.clone(); l.zero_grad()
        lg = l.cuda(); gpu = lg(x.cuda()); gpu.square().sum().backward()
        test_close(gpu.cpu(), cpu.detach(), eps=1e-4); test_close(lg.rule.w_state.grad.cpu(), gcpu, eps=1e-3)
print("CUDA forward and gradients match the CPU path (6 and 26 neighbours, 3 boundaries)")

torch.manual_seed(0)
xs = torch.nn.functional.normalize(torch.randn(4096, 384), dim=1); ys = torch.nn.functional.normalize(xs + 0.5 * torch.randn_like(xs), dim=1)
cfg = TrainingConfig(epochs=2, batch_size=256, device="cuda", amp=True, loss=LossConfig(cosine=1, infonce=0.1))
h = CubeTrainer(CubeModel(cfg.model), (xs[:3500], ys[:3500]), (xs[3500:], ys[3500:]), cfg).fit()
print("bf16 CubeTrainer on CUDA:", [(r["epoch"], round(r["val_cos"], 4), round(r["seconds"], 2)) for r in h])

for dims, ch, batch in (((8, 8, 6), 16, 64), ((8, 8, 6), 16, 1024), ((16, 16, 16), 16, 1024)):
    res = bench_lattice(LatticeConfig(dims=dims, channels=ch), batch=batch, device="cuda", min_time=2.0)
    print(format_bench(res)); print(json.dumps({k: v for k, v in res.items() if k != "rows"}))
