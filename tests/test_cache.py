"""The embedding cache under real processes: two writers at once, and a writer killed mid-run; the runs that read
the cache afterwards call `cube_embed`'s entry point in the test process. The teacher is a tiny real BERT
(conftest's `tiny_bert`): the cache's behaviour does not depend on which model fills it."""
import signal, time
import pytest
from conftest import cli, run_entry


def corpus(tmp_path, n):
    p = tmp_path / "texts.txt"
    p.write_text("".join(f"sentence number {i} about the cache, with words {i * 7 % 13}\n" for i in range(n)))
    return p


@pytest.fixture
def embed(tiny_bert):
    "`cube_embed` on `data` into `cache` with the tiny teacher: a running process, or (`process=False`) the run done."
    def start(data, cache, *extra, process=True):
        args = ["cube_embed", "--data", data, "--task", "autoencoder", "--cache", cache, "--teacher", tiny_bert, *extra]
        return cli(*args, wait=False) if process else run_entry(*args)
    return start


def test_two_writers_then_a_warm_run(tmp_path, embed):
    data, cache = corpus(tmp_path, 300), tmp_path / "cache"
    a, b = embed(data, cache), embed(data, cache)
    outs = [p.communicate(timeout=300) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    warm = embed(data, cache, process=False)
    assert warm.returncode == 0, warm.stderr
    assert "300 cached, 0 embedded" in warm.stdout, warm.stdout


def test_onnx_writer_fills_the_torch_cache(tmp_path, embed, tiny_bert):
    "cube_embed --backend onnx writes vectors that a PyTorch run reads back as hits, equal to PyTorch's own."
    import torch
    from cube_nb.teachers import TeacherEncoder
    data, cache = corpus(tmp_path, 200), tmp_path / "cache"
    fast = embed(data, cache, "--backend", "onnx", process=False)
    assert fast.returncode == 0 and "200 embedded" in fast.stdout, (fast.stdout, fast.stderr)
    warm = embed(data, cache, process=False)
    assert warm.returncode == 0 and "200 cached, 0 embedded" in warm.stdout, (warm.stdout, warm.stderr)
    t, texts = TeacherEncoder(str(tiny_bert)), data.read_text().splitlines()
    vecs, missing = t.cache(cache).get(texts)
    assert not missing and torch.allclose(vecs, t.encode(texts), atol=1e-5)


def test_killed_writer_leaves_a_usable_cache(tmp_path, embed, tiny_bert):
    from cube_nb.teachers import TeacherEncoder
    data, cache = corpus(tmp_path, 10 * 4096), tmp_path / "cache"  # ten shards of 4,096 texts, ~0.5 s each
    p = embed(data, cache)
    deadline = time.time() + 240
    while time.time() < deadline and p.poll() is None and not list(cache.glob("*/shard-*.safetensors")):
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)  # the first shard is on disk and the second is being embedded
    p.wait()
    t = TeacherEncoder(str(tiny_bert))
    texts = data.read_text().splitlines()
    vecs, missing = t.cache(cache).get(texts)
    assert 0 < len(missing) < len(texts), "expected a partial cache"
    r = embed(data, cache, process=False)
    assert r.returncode == 0, r.stderr
    assert f"{len(texts) - len(missing):,} cached" in r.stdout, r.stdout
    vecs2, missing2 = t.cache(cache).get(texts)
    assert not missing2
    assert (vecs2[:5] - t.encode(texts[:5])).abs().max() < 1e-5
