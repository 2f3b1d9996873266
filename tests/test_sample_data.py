"""The embedded sample set and the foundation CLI commands."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from monet_utils import data
from monet_utils.__main__ import main
from monet_utils.sample_data import write_sample_data


def _digest(folder: str) -> str:
    digest = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            digest.update(name.encode())
            digest.update(open(os.path.join(root, name), "rb").read())
    return digest.hexdigest()


def test_sample_set_is_kaggle_layout_both_formats_same_names(sample_dir):
    for domain, count in (("monet", 8), ("photo", 12)):
        tfrec = data.read_domain(sample_dir, domain, "tfrec")
        jpg = data.read_domain(sample_dir, domain, "jpg")
        assert len(tfrec) == len(jpg) == count
        assert sorted(tfrec.names) == sorted(jpg.names)
        assert set(tfrec.data) == set(jpg.data)  # same JPEG bytes in both layouts
        assert all(size == (256, 256) for size in jpg.sizes)
    first = os.path.join(sample_dir, "photo_jpg", sorted(os.listdir(os.path.join(sample_dir, "photo_jpg")))[0])
    with Image.open(first) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (256, 256))
    note = json.load(open(os.path.join(sample_dir, "SAMPLE_DATA.json")))["note"]
    assert "NOT Monet" in note


def test_sample_set_is_deterministic_and_idempotent(tmp_path, sample_dir):
    other = str(tmp_path / "again")
    write_sample_data(other, monet_count=8, photo_count=12, seed=0, progress=False)
    assert _digest(other) == _digest(sample_dir)
    write_sample_data(other, monet_count=8, photo_count=12, seed=0, progress=False)  # no-op
    with pytest.raises(FileExistsError, match="other settings"):
        write_sample_data(other, monet_count=9, photo_count=12, seed=0, progress=False)
    different = str(tmp_path / "seed1")
    write_sample_data(different, monet_count=8, photo_count=12, seed=1, progress=False)
    assert _digest(different) != _digest(sample_dir)
    assert not os.path.exists(other + ".partial")


def test_paintings_differ_in_style_from_photos(sample_dir):
    """The stand-in paintings are smoother (Kuwahara) than the photos they come from."""
    import numpy as np

    def roughness(domain):
        images = np.stack(list(data.load_domain(sample_dir, domain).as_numpy_iterator()))
        return np.abs(np.diff(images, axis=2)).mean()

    assert roughness("monet") < roughness("photo")


def test_cli_sample_data_and_preview(tmp_path, capsys):
    target = str(tmp_path / "cli_sample")
    assert main(["sample-data", target, "--monet", "4", "--photos", "6"]) == 0
    assert "4 'monet' paintings, 6 photos" in capsys.readouterr().out
    png = str(tmp_path / "preview.png")
    assert main(["preview", "--data-dir", target, "--out", png, "--per-domain", "3"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["counts"] == {"monet": 4, "photo": 6}
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 300
    assert main(["preview", "--data-dir", str(tmp_path / "missing"), "--out", png]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_help_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "monet_utils", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "sample-data" in result.stdout
