"""Where loading the teacher on a GPU goes, in a fresh process: torch's import, CUDA's start, transformers' import,
then `TeacherEncoder.load` under cProfile (its 35 costliest calls):
   python tools/teacher_load_profile.py FOLDER"""
import cProfile, pstats, sys, time
t = time.perf_counter()
import torch
print(f"import torch {time.perf_counter() - t:.2f}s", flush=True)
t = time.perf_counter()
torch.zeros(1, device="cuda")
torch.cuda.synchronize()
print(f"CUDA start {time.perf_counter() - t:.2f}s", flush=True)
t = time.perf_counter()
import transformers
print(f"import transformers {time.perf_counter() - t:.2f}s {transformers.__version__}", flush=True)
from cube_nb.teachers import TeacherEncoder
te = TeacherEncoder(sys.argv[1], device="cuda", dtype="float16")
pr = cProfile.Profile()
t = time.perf_counter()
pr.enable()
te.load()
torch.cuda.synchronize()
pr.disable()
print(f"load {time.perf_counter() - t:.2f}s", flush=True)
pstats.Stats(pr).sort_stats("cumtime").print_stats(35)
