"Several cube_tune processes searching one Optuna study in a real PostgreSQL server (a throwaway cluster, unix socket only)."
import glob, os, pwd, shutil, subprocess, tempfile
import pytest
from conftest import cli, run_entry


def pg_bindir() -> str:
    "The folder of PostgreSQL's server programs (`make postgres` installs them)."
    found = shutil.which("pg_ctl")
    if found: return os.path.dirname(os.path.realpath(found))
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    assert dirs, "PostgreSQL's server programs are missing: run `make postgres`"
    return dirs[-1]


@pytest.fixture(scope="module")
def postgres_url():
    "Start a private PostgreSQL cluster (as the postgres user when we are root: the server refuses root); yield its URL."
    b, d = pg_bindir(), tempfile.mkdtemp(prefix="cube-pg-")
    as_pg = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(d, pw.pw_uid, pw.pw_gid)
        as_pg = ["runuser", "-u", "postgres", "--"]
    sh = lambda *a: subprocess.run(as_pg + list(a), check=True, capture_output=True, text=True, timeout=120)
    sh(f"{b}/initdb", "-D", f"{d}/data", "-U", "postgres", "--auth=trust", "-E", "UTF8")
    sh(f"{b}/pg_ctl", "-D", f"{d}/data", "-l", f"{d}/server.log", "-w", "-o",
       f"-c listen_addresses='' -c unix_socket_directories={d} -p 5439", "start")
    try: yield f"postgresql://postgres@/postgres?host={d}&port=5439"
    finally:
        sh(f"{b}/pg_ctl", "-D", f"{d}/data", "-m", "fast", "-w", "stop")
        shutil.rmtree(d, ignore_errors=True)


def test_two_workers_share_one_study(postgres_url, qa_file, tmp_path):
    "Two cube_tune processes (their own folders, as on two machines) fill one study to --trials, with no duplicate points and no failed trial."
    import optuna
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(f"epochs: 1\ndata:\n  source: {qa_file}\nmodel:\n  lattice:\n    channels: 4\n    hidden: 8\n    "
                    "steps: 2\n")
    space = tmp_path / "space.yaml"
    space.write_text("lr: [log, 0.001, 0.01]\nloss.infonce: [float, 0.0, 1.0]\n")
    args = ["--config", tiny, "--space", space, "--storage", postgres_url, "--study", "shared", "--trials", 6]
    procs = [cli("cube_tune", *args, "--worker", w, "--root", tmp_path / f"w{w}", wait=False) for w in (0, 1)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "best of" in out and "wrote" in out
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    states = [t.state for t in study.trials]
    assert all(s == optuna.trial.TrialState.COMPLETE for s in states), states  # neither worker failed the other's running trial
    assert 6 <= len(states) <= 7  # each stops at 6 finished; at most the other's trial in flight is added
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == len(states)  # the workers drew different points
    ran = [len(list((tmp_path / f"w{w}").glob("trial-*"))) for w in (0, 1)]
    assert min(ran) >= 1 and sum(ran) == len(states), ran  # both took part; every trial's run folder is on its worker
    # joining again with the same --trials adds nothing: the study is full
    r = run_entry("cube_tune", *args, "--root", tmp_path / "w2")
    assert r.returncode == 0, r.stderr
    assert len(optuna.load_study(study_name="shared", storage=postgres_url).trials) == len(states)
    assert not list((tmp_path / "w2").glob("trial-*"))
