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
