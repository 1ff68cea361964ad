"""Why batches are read in processes: a loop of small tensor operations (what a training step's launches are) timed
alone, beside two threads reading rows with `read_rows` (each `pread` releases and retakes Python's lock), and beside
`host_batches`' worker processes:   python tools/reader_gil.py FOLDER   (writes a 1,000,000-row file there first)"""
import sys, threading, time
from pathlib import Path
import torch
from cube_nb.data import RowsWriter, map_tensors, read_rows
from cube_nb.training import host_batches

path, n, d = Path(sys.argv[1]) / "rows.safetensors", 1_000_000, 384
if not path.exists():
    with RowsWriter(path, {"q": (n, d), "a": (n, d)}) as w:
        for s in range(0, n, 65536):
            x = torch.randn(min(65536, n - s), d)
            w.write("q", s, x)
            w.write("a", s, x)
t = map_tensors(path)
x, y, a = t["q"], t["a"], torch.randn(64, 64)


def step():
    "Four hundred small in-place operations."
    for _ in range(200): a.add_(0.0).mul_(1.0)


def timed(k=100) -> float:
    "ms a step, over k steps."
    t0 = time.perf_counter()
    for _ in range(k): step()
    return (time.perf_counter() - t0) / k * 1e3


print(f"alone: {timed():.2f} ms a step")
stop = False


def reader():
    g = torch.Generator().manual_seed(0)
    while not stop:
        i = torch.randint(0, n, (1024,), generator=g)
        read_rows(x, i), read_rows(y, i)


threads = [threading.Thread(target=reader) for _ in range(2)]
for th in threads: th.start()
print(f"beside two reading threads: {timed():.2f} ms a step")
stop = True
for th in threads: th.join()
idxs = list(torch.randperm(n)[:1024 * 200].split(1024))
t0 = time.perf_counter()
for _ in host_batches(x, y, idxs, torch.device("cpu")): step()
print(f"a step and a batch of 1,024 from host_batches' worker processes: "
      f"{(time.perf_counter() - t0) / len(idxs) * 1e3:.2f} ms")
