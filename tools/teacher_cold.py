"""The teacher as `cube_train` pays for it: in a fresh process, loading it, then embedding a corpus's texts once
(no warm-up pass), then once more warm; packed (variable-length kernels) and padded attention, each in its own process:
   python tools/teacher_cold.py FOLDER [--data chitchat] [--dtype float16]
One JSON line per attention: seconds to import, load, first (cold) and second (warm) encode, and texts/s of each."""
import argparse, json, subprocess, sys, time

T0 = time.perf_counter()


def child(folder, data, dtype, attention):
    "One attention's timings, measured in this (fresh) process."
    import torch
    from cube_nb.data import load_records, record_texts
    from cube_nb.teachers import TeacherEncoder
    t_import = time.perf_counter() - T0
    texts = record_texts(load_records(data, "dialogue"))
    t = time.perf_counter()
    teacher = TeacherEncoder(folder, device="cuda", dtype=dtype, attention=attention)
    teacher.load()
    torch.cuda.synchronize()
    out = {"attention": attention, "texts": len(texts), "import_s": t_import, "load_s": time.perf_counter() - t}
    for name in ("cold", "warm"):
        t = time.perf_counter()
        teacher.encode(texts)
        torch.cuda.synchronize()
        out[f"{name}_s"] = time.perf_counter() - t
        out[f"{name}_texts_per_s"] = len(texts) / out[f"{name}_s"]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("--data", default="chitchat")
    p.add_argument("--dtype", default="float16")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child: child(a.folder, a.data, a.dtype, a.child)
    else:
        for attention in ("packed", "padded"):
            subprocess.run([sys.executable, __file__, a.folder, "--data", a.data, "--dtype", a.dtype,
                            "--child", attention], check=True)
