"""Shared fixtures: one small sample set per session, quiet TensorFlow, tiny sizes."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

from monet_utils import runtime  # noqa: E402

# Two logical CPU devices for the whole session (must happen before TF initialises its
# devices), so tests can run MirroredStrategy over /cpu:0 and /cpu:1. The default strategy
# still places everything on /cpu:0.
runtime.split_cpu(2)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> str:
    """A small sample set in Kaggle's layout (8 'monet', 12 photos), written once per session."""
    from monet_utils.sample_data import write_sample_data

    path = str(tmp_path_factory.mktemp("data") / "sample")
    write_sample_data(path, monet_count=8, photo_count=12, seed=0, progress=False)
    return path


NBVAL_DIR = os.path.join("build", "nbval")
SMOKE_PARAMS = os.path.join("params", "smoke.yaml")


def pytest_configure(config):
    """When `build/nbval` is on the command line (as `make test` puts it), prepare it first.

    nbval takes no parameters and runs each notebook on its own, so the five notebooks are
    written there with params/smoke.yaml injected (papermill prepare-only), and the smoke
    data set and a clean output folder are made; nbval then runs them in order 01..05.
    """
    if not any(os.path.normpath(str(arg)).startswith(NBVAL_DIR) for arg in config.args):
        return
    import shutil

    from monet_utils import notebooks
    from monet_utils.sample_data import write_sample_data

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    params = notebooks.load_params(os.path.join(root, SMOKE_PARAMS), base_dir=root)
    write_sample_data(params["data_dir"], monet_count=8, photo_count=12, seed=0, progress=False)
    shutil.rmtree(params["output_dir"], ignore_errors=True)
    shutil.rmtree(os.path.join(root, NBVAL_DIR), ignore_errors=True)
    notebooks.prepare(os.path.join(root, SMOKE_PARAMS), os.path.join(root, NBVAL_DIR), base_dir=root,
                      only=[name for name in notebooks.NOTEBOOKS if os.path.exists(notebooks.notebook_path(name))])
