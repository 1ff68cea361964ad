"""A run's records read back as `load_dataset` did before (records.jsonl, every record a dict) and as it does now
(records.arrow, memory-mapped columns), each in a fresh process, with what a bank reads (a fifth's answers, groups):
   python tools/records_memory.py FOLDER [--records 2000000]"""
import argparse, json, random, subprocess, sys, time
from pathlib import Path


def write(d: Path, n: int):
    "n synthetic records in both formats."
    from cube_nb.data import write_records
    rng = random.Random(0)
    recs = [{"q": f"question {i} " + "x" * rng.randint(10, 80), "a": f"answer {i} " + "y" * rng.randint(10, 80),
             "group": i // 7} for i in range(n)]
    (d / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    write_records(recs, d / "records.arrow")


def peak_mib() -> float:
    "This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent that started it)."
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))
    return int(line.split()[1]) / 2**10


def read(d: Path, fmt: str):
    "Load one format and read the last fifth's answers and groups; print seconds and peak RSS."
    import torch  # noqa: F401  (as a cube_eval process has it imported)
    from cube_nb.data import Records, record_column
    base, t = peak_mib(), time.perf_counter()
    if fmt == "jsonl": recs = [json.loads(line) for line in (d / "records.jsonl").read_text().splitlines()]
    else: recs = Records.open(d / "records.arrow")
    n = len(recs)
    rows = list(range(n - n // 5, n))
    record_column(recs, "a", rows), record_column(recs, "group", rows)
    peak = peak_mib()
    print(f"{fmt:>5}: {n:,} records, read with the last fifth's answers and groups in {time.perf_counter() - t:.1f}s, "
          f"peak RSS {peak:,.0f} MiB ({peak - base:,.0f} MiB above the imports)", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("--records", type=int, default=2_000_000)
    p.add_argument("--read", help=argparse.SUPPRESS)
    a = p.parse_args()
    d = Path(a.folder)
    if a.read: read(d, a.read)
    else:
        d.mkdir(parents=True, exist_ok=True)
        write(d, a.records)
        for fmt in ("jsonl", "arrow"):
            subprocess.run([sys.executable, __file__, a.folder, "--read", fmt], check=True)
