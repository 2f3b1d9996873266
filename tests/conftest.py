"""Shared fixtures: one small sample set per session, quiet TensorFlow, tiny sizes."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> str:
    """A small sample set in Kaggle's layout (8 'monet', 12 photos), written once per session."""
    from monet_utils.sample_data import write_sample_data

    path = str(tmp_path_factory.mktemp("data") / "sample")
    write_sample_data(path, monet_count=8, photo_count=12, seed=0, progress=False)
    return path
