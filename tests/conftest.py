import os, pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    "Each test session embeds into its own cache folder, never the user's."
    os.environ["CUBE_NB_CACHE"] = str(tmp_path_factory.mktemp("cube_nb_cache"))
