"""Crash and resume through the command line: SIGKILL, Ctrl-C, changed configs, damaged checkpoints, NaN, unwritable
folders. The runs that are killed or interrupted are real processes; the commands that follow them call the same
entry point in the test process (conftest's `run_entry`), except one resume that is a real process too."""
import random, signal, time
import pytest, yaml
from conftest import cli, run_entry


@pytest.fixture(scope="module")
def setup(tiny_run):
    "The shared run's folder (its `tiny.yaml`, the finished `ref`) and the finished weights every resume must equal."
    return tiny_run.dir, tiny_run.weights


def train(d, out, *extra, config="tiny.yaml", wait=True, process=True):
    "`cube_train --config d/config --out out`: a real process (running, with `wait=False`), or in this one."
    args = ["cube_train", "--config", d / config, "--out", out, *extra]
    return cli(*args, wait=wait) if process else run_entry(*args)


def wait_for_checkpoint(out, p, timeout=240):
    t = time.time()
    while time.time() - t < timeout and p.poll() is None:
        if list((out / "checkpoint").glob("step-*")): return True
        time.sleep(0.05)
    return False


def killed(d, out):
    "A training of `tiny.yaml` into `out`, killed with -9 once its first checkpoint is on disk."
    p = train(d, out, wait=False)
    assert wait_for_checkpoint(out, p), "no checkpoint appeared"
    time.sleep(random.Random(0).uniform(0.0, 0.2))  # training ends ~0.5 s after the first checkpoint here
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (out / "model.safetensors").exists(), "the run finished before it could be killed; make it longer"
    return out


def test_sigkill_then_resume_is_bit_identical(setup):
    d, ref = setup
    out = killed(d, d / "killed")
    r = train(d, out, "--resume")  # a new process, as after a real crash
    assert r.returncode == 0, r.stderr
    assert "resuming from step-" in r.stdout
    assert (out / "model.safetensors").read_bytes() == ref


def test_ctrl_c_saves_and_resumes(setup):
    d, ref = setup
    out = d / "interrupted"
    p = train(d, out, wait=False)
    assert wait_for_checkpoint(out, p)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "interrupted at step" in err and "--resume" in err and "Traceback" not in err, err
    r = train(d, out, "--resume", process=False)
    assert r.returncode == 0, r.stderr
    assert (out / "model.safetensors").read_bytes() == ref


def test_resume_with_other_config_is_refused(setup):
    d, _ = setup
    out = killed(d, d / "other")
    before = sorted(x.name for x in (out / "checkpoint").iterdir())
    for extra, words in ((["--epochs", "9", "--seed", "1"], "data.seed, epochs, seed differ"),
                         (["loss.infonce=0.5", "model.lattice.hidden=4"], "loss.infonce, model.lattice.hidden differ")):
        r = train(d, out, "--resume", *extra, process=False)
        errors = [x for x in r.stderr.strip().splitlines() if not x.startswith("warning: took over the lock")]  # -9
        assert r.returncode == 2 and words in r.stderr and len(errors) == 1, r.stderr
        assert sorted(x.name for x in (out / "checkpoint").iterdir()) == before


def test_all_checkpoints_damaged_is_refused(setup):
    d, _ = setup
    out = killed(d, d / "damaged")
    for c in (out / "checkpoint").glob("step-*"):
        f = c / "trainer.pt"
        f.write_bytes(f.read_bytes()[:10])
    r = train(d, out, "--resume", process=False)
    assert r.returncode == 2 and "every checkpoint" in r.stderr and "damaged" in r.stderr, r.stderr


def test_nan_loss_stops_with_the_step_and_keeps_the_checkpoint(setup):
    d, _ = setup
    cfg = yaml.safe_load((d / "tiny.yaml").read_text())
    cfg.update(lr=1e30, grad_clip=0.0, loss={"mse": 1.0, "cosine": 0.0}, checkpoint_every=1)
    (d / "nan.yaml").write_text(yaml.safe_dump(cfg))
    out = d / "nan"
    r = train(d, out, config="nan.yaml", process=False)
    assert r.returncode == 2 and "at step" in r.stderr and "checkpoint" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert list((out / "checkpoint").glob("step-*")) and not (out / "model.safetensors").exists()


def test_out_dir_that_cannot_be_created(setup, tmp_path):
    d, _ = setup
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    r = train(d, blocker / "run", process=False)
    assert r.returncode == 2 and "cannot create run folder" in r.stderr and "writable --out" in r.stderr, r.stderr
    assert blocker.read_text() == "not a folder"
