import os, shutil, pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    "Each test session embeds into its own cache folder, never the user's."
    os.environ["CUBE_NB_CACHE"] = str(tmp_path_factory.mktemp("cube_nb_cache"))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """A real, tiny Hugging Face model folder (BERT, width 32, one layer, random weights, MiniLM's tokenizer), saved
    with transformers: a teacher ~50x faster than MiniLM, for tests of the plumbing around any teacher."""
    from transformers import BertConfig, BertModel
    from cube_nb.teachers import teacher_path
    d = tmp_path_factory.mktemp("teachers") / "tiny_bert"
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    BertModel(cfg).save_pretrained(d)
    for f in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"):
        if (teacher_path("minilm") / f).exists(): shutil.copy(teacher_path("minilm") / f, d / f)
    return d
