"""The embedding cache under real processes: two writers at once, and a writer killed mid-run. The teacher is a
tiny real BERT (conftest's `tiny_bert`): the cache's behaviour does not depend on which model fills it."""
import os, signal, subprocess, sys, time, json
from pathlib import Path
import pytest

BIN = Path(sys.executable).parent


def corpus(tmp_path, n):
    p = tmp_path / "texts.txt"
    p.write_text("".join(f"sentence number {i} about the cache, with words {i * 7 % 13}\n" for i in range(n)))
    return p


@pytest.fixture
def embed(tiny_bert):
    "Start `cube_embed` on `data` into `cache` with the tiny teacher; returns the process."
    def start(data, cache, *extra):
        argv = [str(BIN / "cube_embed"), "--data", str(data), "--task", "autoencoder", "--cache", str(cache),
                "--teacher", str(tiny_bert), *extra]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return start


def test_two_writers_then_a_warm_run(tmp_path, embed):
    data, cache = corpus(tmp_path, 300), tmp_path / "cache"
    a, b = embed(data, cache), embed(data, cache)
    outs = [p.communicate(timeout=300) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    warm = embed(data, cache); out, err = warm.communicate(timeout=300)
    assert warm.returncode == 0, err
    assert "300 cached, 0 embedded" in out, out


def test_onnx_writer_fills_the_torch_cache(tmp_path, embed, tiny_bert):
    "cube_embed --backend onnx writes vectors that a PyTorch run reads back as hits, equal to PyTorch's own."
    import torch
    from cube_nb.teachers import TeacherEncoder
    data, cache = corpus(tmp_path, 200), tmp_path / "cache"
    fast = embed(data, cache, "--backend", "onnx"); out, err = fast.communicate(timeout=300)
    assert fast.returncode == 0 and "200 embedded" in out, (out, err)
    warm = embed(data, cache); out, err = warm.communicate(timeout=300)
    assert warm.returncode == 0 and "200 cached, 0 embedded" in out, (out, err)
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
    leftovers = list(cache.glob("*/.*.tmp"))  # a temp file may remain; never a partial shard
    t = TeacherEncoder(str(tiny_bert))
    c = t.cache(cache)
    texts = data.read_text().splitlines()
    vecs, missing = c.get(texts)
    assert 0 < len(missing) < len(texts), "expected a partial cache"
    r = embed(data, cache); out, err = r.communicate(timeout=300)
    assert r.returncode == 0, err
    assert f"{len(texts) - len(missing):,} cached" in out, out
    vecs2, missing2 = t.cache(cache).get(texts)
    assert not missing2
    assert (vecs2[:5] - t.encode(texts[:5])).abs().max() < 1e-5
