"""One writer per run folder: two trainings at once, a stale lock, readers during training, SIGTERM, read-only
folders. The trainings that hold a lock are real processes; the readers that meet it run in the test process."""
import json, os, shutil, signal, subprocess
import pytest, yaml
from conftest import BIN, run_entry
from test_resume import setup, train, wait_for_checkpoint  # noqa: F401 (setup is a fixture)


def one_error(r, *words):
    "The command failed with one line on stderr holding all of `words` (warnings aside)."
    lines = [x for x in r.stderr.strip().splitlines() if not x.startswith("warning:")]
    assert r.returncode == 2 and len(lines) == 1 and all(w in lines[0] for w in words), r.stderr


def test_two_trainings_into_one_folder(setup):
    d, _ = setup
    out = d / "race"
    out.mkdir()
    dead = {"pid": 999999, "host": "gone", "command": "cube_train", "started": "2026-12-01 00:00:00"}
    (out / ".lock").write_text(json.dumps(dead))  # left by a process killed with -9
    ps = {s: train(d, out, "--seed", str(s), wait=False) for s in (1, 2)}
    res = {s: (p.wait(timeout=600), *p.communicate()) for s, p in ps.items()}
    won = [s for s, (rc, *_) in res.items() if rc == 0]
    assert len(won) == 1, res
    lost = 3 - won[0]
    rc, _, err = res[lost]
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert "is in use by cube_train (pid" in err and "choose another --out" in err, err
    assert "took over the lock" in res[won[0]][2] and "pid 999999" in res[won[0]][2]
    assert yaml.safe_load((out / "config.yaml").read_text())["seed"] == won[0]
    assert (out / ".lock").read_text() == ""  # released in order
    r = run_entry("cube_eval", "--run", out)  # the folder is whole: it evaluates
    assert r.returncode == 0, r.stderr


def test_readers_during_training_then_sigterm_and_resume(setup):
    d, ref = setup
    out = d / "sigterm"
    p = train(d, out, wait=False)
    assert wait_for_checkpoint(out, p), "no checkpoint appeared"
    p.send_signal(signal.SIGSTOP)  # keep it mid-training (holding the lock) while the readers try
    try:
        for r in (run_entry("cube_eval", "--run", out), run_entry("cube_ask", "--run", out, "what is a lattice?")):
            one_error(r, "is still training (cube_train (pid", "wait for it to finish")
        one_error(train(d, out, "--force", process=False), "is in use by cube_train")
    finally: p.send_signal(signal.SIGCONT)
    p.send_signal(signal.SIGTERM)  # as a cluster scheduler stops a job
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "interrupted at step" in err and "--resume" in err and "Traceback" not in err, err
    one_error(run_entry("cube_eval", "--run", out), "did not finish", f"cube_train --resume --out {out}")
    r = train(d, out, "--resume", process=False)
    assert r.returncode == 0 and "resuming from step-" in r.stdout, r.stderr
    assert (out / "model.safetensors").read_bytes() == ref


def read_only(folder, *args):
    "Run a command with `folder` read-only: a read-only bind mount when we are root (root ignores permissions)."
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try: return run_entry(*args)
        finally: folder.chmod(0o755)
    if not shutil.which("unshare"): pytest.skip("root without unshare: cannot make a read-only folder")
    cmd = ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(folder),
           str(BIN / args[0]), *map(str, args[1:])]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_read_only_run_folder(setup, tmp_path):
    d, _ = setup
    run = tmp_path / "ro"
    shutil.copytree(d / "ref", run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    one_error(read_only(run, "cube_train", "--config", d / "tiny.yaml", "--out", run, "--force"), "is not writable")
    one_error(read_only(run, "cube_eval", "--run", run), "is not writable")
    r = read_only(run, "cube_ask", "--run", run, "what is a lattice?")  # answers; its statistics just aren't kept
    assert r.returncode == 0 and "cube (ranked by" in r.stdout and "bank statistics not stored" in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
