"Several processes: the gathered global batch and its gradients (gloo, 2 ranks), `torchrun cube_train` against one."
import json, os, socket
import pytest, torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

from conftest import BIN, cli
from cube_nb.data import Records

WORLD = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gather_worker(rank, port, n, out):
    "Rank `rank` of 2: its shard's loss (whole global batch) and gradient, written to `out`."
    from cube_nb.losses import CombinedLoss, LossConfig
    from cube_nb.training import shard, gather_rows
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        g = torch.Generator().manual_seed(0)
        pred, target, negs = torch.randn(n, 8,
                                         generator=g), torch.randn(n, 8, generator=g), torch.randn(n, 3, 8, generator=g)
        w = torch.rand(n, generator=g)
        local = shard(pred, rank, WORLD).clone().requires_grad_()
        full = gather_rows(local, n, WORLD)
        cfg = LossConfig(cosine=1, infonce=0.5, triplet=0.2, diversity=0.1, negatives=3)
        loss = CombinedLoss(cfg)(full, target, negs, w)
        loss.backward()
        torch.save({"full": full.detach(), "loss": loss.detach(), "grad": local.grad}, out / f"rank{rank}.pt")
    finally: dist.destroy_process_group()


@pytest.mark.parametrize("n", [8, 7])  # even shards, and uneven ones (padded for the all-gather)
def test_gathered_batch_gives_the_single_process_loss_and_gradient(tmp_path, n):
    from cube_nb.losses import CombinedLoss, LossConfig
    mp.spawn(_gather_worker, args=(free_port(), n, tmp_path), nprocs=WORLD, join=True)
    g = torch.Generator().manual_seed(0)
    pred, target, negs = torch.randn(n, 8, generator=g), torch.randn(n, 8,
                                                                     generator=g), torch.randn(n, 3, 8, generator=g)
    w = torch.rand(n, generator=g)
    pred.requires_grad_()
    ref = CombinedLoss(LossConfig(cosine=1, infonce=0.5, triplet=0.2, diversity=0.1,
                                  negatives=3))(pred, target, negs, w)
    ref.backward()
    for r in range(WORLD):
        got = torch.load(tmp_path / f"rank{r}.pt")
        torch.testing.assert_close(got["full"], pred.detach(), rtol=0, atol=0)  # every row back in its global place
        torch.testing.assert_close(got["loss"], ref.detach(), rtol=1e-6, atol=1e-7)  # InfoNCE labels = global positions
        # the all-gather's backward sums the W identical gradients of each shard; DDP then averages over ranks
        torch.testing.assert_close(got["grad"] / WORLD, pred.grad[r::WORLD], rtol=1e-5, atol=1e-7)


def test_torchrun_two_processes_equal_one(qa_file, tmp_path):
    "2 gloo ranks under torchrun train the same weights as one process with the same global batch."
    cfg = tmp_path / "cfg.yaml"  # InfoNCE with sampled negatives: the part that needs the whole global batch
    cfg.write_text("epochs: 2\nbatch_size: 16\nloss: {cosine: 1.0, infonce: 0.1, negatives: 2}\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = cli("cube_train", "--config", cfg, "--data", qa_file, "--out", tmp_path / "one", env=env)
    assert one.returncode == 0, one.stderr
    cache = tmp_path / "cache"  # an empty embedding cache: both ranks embed a share of the texts
    two = cli("torchrun", "--standalone", f"--nproc_per_node={WORLD}", "--no-python", BIN / "cube_train",
              "--config", cfg, "--data", qa_file, "--out", tmp_path / "two", env={**env, "CUBE_NB_CACHE": str(cache)})
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("trained in") == 1  # one rank speaks
    split = json.loads((tmp_path / "two" / "timing.json").read_text())["embedding_split"]
    recs = Records.open(tmp_path / "two" / "records.arrow")
    texts = {t for k in ("q", "a") for t in recs.column(k)}
    print(f"embedded by rank: {split} (texts, seconds)")
    assert [n for n, _ in split] == [len(texts) // 2, len(texts) - len(texts) // 2]  # both busy, each its half
    ea, eb = (load_file(tmp_path / d / "embeddings.safetensors") for d in ("one", "two"))
    for k in ("q", "a"): torch.testing.assert_close(eb[k], ea[k], rtol=0, atol=1e-6)  # the same vectors as one process
    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    assert a.keys() == b.keys()
    diff = max(float((b[k].double() - a[k].double()).abs().max()) for k in a)
    print(f"largest weight difference, 2 ranks vs 1 process: {diff:.2e}")
    assert diff <= 1e-5, diff
    assert json.loads((tmp_path / "two" / "timing.json").read_text())["processes"] == WORLD
    ha, hb = [(tmp_path / d / "history.csv").read_text().splitlines() for d in ("one", "two")]
    assert len(ha) == len(hb) == 3
    steps = [sorted(p.name for p in (tmp_path / d / "checkpoint").glob("step-*")) for d in ("one", "two")]
    assert steps[0] == steps[1] and steps[0]  # rank 0 checkpointed at the same steps
