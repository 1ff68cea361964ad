"""Several cube_tune workers searching one Optuna study in a real PostgreSQL server (a throwaway cluster, unix socket
only), through the faults of a cluster: workers started at the same instant on a new database, a worker killed with
SIGKILL mid-trial (twice), and the server stopped and started again mid-study."""
import glob, multiprocessing, os, pwd, shutil, subprocess, tempfile, time
from collections import Counter
from types import SimpleNamespace
import pytest
from conftest import cli, run_entry

SPACE = "lr: [log, 0.001, 0.01]\nloss.infonce: [float, 0.0, 1.0]\n"


def pg_bindir() -> str:
    "The folder of PostgreSQL's server programs (`make postgres` installs them)."
    found = shutil.which("pg_ctl")
    if found: return os.path.dirname(os.path.realpath(found))
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    assert dirs, "PostgreSQL's server programs are missing: run `make postgres`"
    return dirs[-1]


@pytest.fixture(scope="module")
def pg():
    """A private PostgreSQL cluster (as the postgres user when we are root: the server refuses root): `url(db)`,
    `new_db(name)` (a new, empty database), `stop()` and `start()`."""
    import sqlalchemy
    b, d = pg_bindir(), tempfile.mkdtemp(prefix="cube-pg-")
    as_pg = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(d, pw.pw_uid, pw.pw_gid)
        as_pg = ["runuser", "-u", "postgres", "--"]
    sh = lambda *a: subprocess.run(as_pg + list(a), check=True, capture_output=True, text=True, timeout=120)
    sh(f"{b}/initdb", "-D", f"{d}/data", "-U", "postgres", "--auth=trust", "-E", "UTF8")
    with open(f"{d}/data/pg_hba.conf") as f: hba = f.read()
    with open(f"{d}/data/pg_hba.conf", "w") as f:  # one role with a password
        f.write("local all tester scram-sha-256\n" + hba)
    ctl = lambda *a: sh(f"{b}/pg_ctl", "-D", f"{d}/data", "-w", *a)
    opts = f"-c listen_addresses='' -c unix_socket_directories={d} -p 5439"
    start = lambda: ctl("-l", f"{d}/server.log", "-o", opts, "start")
    url = lambda db="postgres": f"postgresql://postgres@/{db}?host={d}&port=5439"

    def new_db(name):
        e = sqlalchemy.create_engine(url(), isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.pool.NullPool)
        with e.connect() as c: c.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
        e.dispose()
        return url(name)

    start()
    sh(f"{b}/psql", "-h", d, "-p", "5439", "-U", "postgres", "-c", "CREATE ROLE tester LOGIN PASSWORD 'right'")
    try: yield SimpleNamespace(url=url, new_db=new_db, start=start, stop=lambda: ctl("-m", "fast", "stop"))
    finally:
        ctl("-m", "fast", "stop")
        shutil.rmtree(d, ignore_errors=True)


def _open_together(url, barrier):
    "A worker's first step, in a forked process: open the study the moment every other worker does."
    from cube_nb.tuning import open_study
    barrier.wait()
    try: open_study(url, "together", {"lr": ["log", 0.001, 0.01]}, wait=10)
    except BaseException as e:
        print(f"{type(e).__name__}: {e}", flush=True)
        os._exit(1)
    os._exit(0)


def test_workers_started_together_on_new_databases(pg):
    "Four workers open one study on a new database at the same instant, ten times (a new database each): all do."
    import optuna
    import cube_nb.tuning  # noqa: F401  (imported once here: the forked workers start at once, not after their imports)
    ctx = multiprocessing.get_context("fork")
    for k in range(10):
        url = pg.new_db(f"together{k}")
        barrier = ctx.Barrier(4)
        ps = [ctx.Process(target=_open_together, args=(url, barrier)) for _ in range(4)]
        for p in ps: p.start()
        for p in ps: p.join(120)
        assert [p.exitcode for p in ps] == [0, 0, 0, 0], (k, [p.exitcode for p in ps])
        assert optuna.get_all_study_names(url) == ["together"]


def tune_args(tmp_path, qa_file, url, study, trials, epochs=1):
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(f"epochs: {epochs}\ndata:\n  source: {qa_file}\n"
                    "model:\n  lattice:\n    channels: 4\n    hidden: 8\n    steps: 2\n")
    (tmp_path / "space.yaml").write_text(SPACE)
    return ["--config", tiny, "--space", tmp_path / "space.yaml", "--storage", url, "--study", study,
            "--trials", trials, "--heartbeat", 1]


def study_trials(url, study) -> list:
    "The study's trials, none while no worker has created it."
    import optuna
    try: return optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)
    except KeyError: return []


def running_trial_of(url, study, pid, timeout=240):
    "The number of the trial process `pid` is running, once it runs one."
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for t in study_trials(url, study):
            if t.state.name == "RUNNING" and t.user_attrs.get("worker", {}).get("pid") == pid: return t.number
        time.sleep(0.2)
    raise AssertionError(f"process {pid} ran no trial in {timeout} s")


def finished(procs):
    "Wait for the workers; each must exit 0 with its summary lines."
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert "finished trials" in out and "wrote" in out


def test_killed_worker_costs_only_its_trials(pg, qa_file, tmp_path):
    """A worker killed with SIGKILL mid-trial, started again and killed again, then one stopped with SIGTERM; two
    workers then finish the study: it holds exactly --trials finished trials, the stopped trials failed, and each
    stopped trial's parameters ran again, once. (The stops come first, one worker at a time: on a loaded machine,
    workers started beside them could finish the study before a new process has started its first trial.)"""
    import optuna
    url, n = pg.new_db("kills"), 6
    args = tune_args(tmp_path, qa_file, url, "k", n, epochs=2)
    killed = []
    for k in range(3):
        victim = cli("cube_tune", *args, "--worker", 2, "--root", tmp_path / f"v{k}", wait=False)
        killed.append(running_trial_of(url, "k", victim.pid))
        if k < 2:
            victim.kill()
            victim.communicate()
    victim.terminate()  # a scheduler's stop
    out, err = victim.communicate(timeout=120)
    assert victim.returncode == 130 and err.strip() == (f"interrupted: trial {killed[-1]} marked failed and queued to "
                                                       "run again: the study stays usable"), err
    live = [cli("cube_tune", *args, "--worker", w, "--root", tmp_path / f"w{w}", wait=False) for w in (0, 1)]
    finished(live)
    trials = optuna.load_study(study_name="k", storage=url).trials
    states = Counter(t.state.name for t in trials)
    assert states["COMPLETE"] == n and states["RUNNING"] == 0, states
    failed = sorted(t.number for t in trials if t.state.name == "FAIL")  # the killed ones, and on a loaded machine
    assert set(killed) <= set(failed), (killed, failed)  # a live one whose heartbeat came too late
    assert set(states) <= {"COMPLETE", "FAIL", "PRUNED", "WAITING"}, states
    for k in failed:  # queued again (RetryHeartbeatStaleTrialCallback's record names it, and any retry of a retry):
        # the chain ends run to the end, once, or still waiting when others had already filled the study
        chain = [t.state.name for t in trials if k in t.system_attrs.get("retry_history", [])]
        assert chain and chain[-1] in ("COMPLETE", "WAITING") and chain.count("COMPLETE") <= 1, \
            (k, chain, [(t.number, t.state.name, t.system_attrs) for t in trials if t.state.name != "COMPLETE"])
    # a worker joining the full study adds nothing
    r = run_entry("cube_tune", *args, "--root", tmp_path / "late")
    assert r.returncode == 0, r.stderr
    assert len(optuna.load_study(study_name="k", storage=url).trials) == len(trials)
    assert not list((tmp_path / "late").glob("trial-*"))


def test_server_restarted_mid_study(pg, qa_file, tmp_path):
    "Two workers started together; the server is stopped after the first finished trial and started 3 s later."
    import optuna
    url, n = pg.new_db("restart"), 6
    args = tune_args(tmp_path, qa_file, url, "r", n, epochs=2)
    procs = [cli("cube_tune", *args, "--worker", w, "--root", tmp_path / f"w{w}", wait=False) for w in (0, 1)]
    t0 = time.monotonic()
    while not any(t.state.name == "COMPLETE" for t in study_trials(url, "r")):
        assert time.monotonic() - t0 < 240 and all(p.poll() is None for p in procs)
        time.sleep(0.2)
    pg.stop()
    time.sleep(3)
    pg.start()
    finished(procs)
    trials = optuna.load_study(study_name="r", storage=url).trials
    states = Counter(t.state.name for t in trials)
    assert states["COMPLETE"] == n and states["RUNNING"] == 0, states
    assert len({tuple(sorted(t.params.items())) for t in trials if t.state.name == "COMPLETE"}) == n  # none twice


def test_bad_storage_fails_in_one_line(pg, tmp_path, qa_file):
    """An unreachable server (after --db-wait), a database that does not exist, a wrong password, a study of that name
    with another direction or search space: one line each, and nothing stored in the study changes."""
    import optuna
    from cube_nb.tuning import open_study
    url = pg.new_db("refusals")
    optuna.create_study(study_name="low", storage=url, direction="minimize")
    open_study(url, "narrow", {"lr": ["log", 0.002, 0.003]})
    before = [(s.study_name, s.user_attrs, s.n_trials) for s in optuna.get_all_study_summaries(url)]
    host = url.split("?")[1]
    for u, study, words in ((pg.url().replace("5439", "5438"), "k", "did not answer for 1 s"),
                            (pg.url("nosuchdb"), "k", 'database "nosuchdb" does not exist'),
                            (f"postgresql://tester:wrong@/postgres?{host}", "k", "password authentication failed"),
                            (url, "low", "minimises its objective"),
                            (url, "narrow", "was started with another space")):
        args = tune_args(tmp_path, qa_file, u, study, 2)
        r = run_entry("cube_tune", *args, "--db-wait", 1, "--root", tmp_path / "bad")
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
        assert "wrong" not in r.stderr  # no password in a message
    assert [(s.study_name, s.user_attrs, s.n_trials) for s in optuna.get_all_study_summaries(url)] == before
