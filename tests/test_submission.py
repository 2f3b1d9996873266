"""images.zip: the streaming writer, the validator, atomic writes, and the CLI round trip."""

from __future__ import annotations

import io
import os
import re
import shutil
import warnings
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from monet_utils import data, runtime, submission
from monet_utils.__main__ import main
from monet_utils.submission import SubmissionError, validate_submission, write_submission

PHOTOS_IN_SAMPLE = 12  # tests/conftest.py
BATCH = 5  # 12 photos -> batches of 5, 5 and a padded 2


def tiny_generator(output_size: int = 256) -> keras.Model:
    """256x256x3 -> output_size x output_size x 3 in [-1, 1]: cheap, and the photo shows through."""
    images = keras.Input((256, 256, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(images)  # 128x128x4
    x = keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same")(x)                 # 256x256x3
    x = keras.layers.Add()([x, images])
    if output_size != 256:
        x = keras.layers.Resizing(output_size, output_size)(x)
    return keras.Model(images, keras.layers.Activation("tanh")(x))


class FailAfter(keras.layers.Layer):
    """Passes images through, and raises on generator call number `calls + 1` (midway)."""

    def __init__(self, calls: int, **kwargs):
        super().__init__(**kwargs)
        self.calls, self.seen = calls, 0

    def _count(self, images):
        self.seen += 1
        if self.seen > self.calls:
            raise RuntimeError(f"generator failed on call {self.seen}")
        return images

    def call(self, images):
        output = tf.py_function(self._count, [images], images.dtype)
        output.set_shape(images.shape)
        return output


class BatchProbe(keras.layers.Layer):
    """Identity; records the static batch size each trace sees (per replica under a strategy)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.batch_sizes: list[int] = []

    def call(self, images):
        if images.shape[0] is not None:
            self.batch_sizes.append(images.shape[0])
        return images


@pytest.fixture(scope="module")
def generator() -> keras.Model:
    keras.utils.set_random_seed(0)
    return tiny_generator()


@pytest.fixture(scope="module")
def photos(sample_dir) -> tf.data.Dataset:
    return data.load_domain(sample_dir, "photo", with_names=True)


@pytest.fixture(scope="module")
def photo_list(photos) -> list[tuple[str, np.ndarray]]:
    return [(name.numpy().decode(), image.numpy()) for name, image in photos]


@pytest.fixture(scope="module")
def written(generator, photos, tmp_path_factory) -> submission.SubmissionSummary:
    out = tmp_path_factory.mktemp("written") / "images.zip"
    return write_submission(generator, photos, str(out), batch_size=BATCH, min_images=0, progress=False)


def decode_entries(path: str) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        return {name: np.asarray(Image.open(io.BytesIO(archive.read(name)))) for name in archive.namelist()}


def jpeg_bytes(size=(256, 256), mode="RGB", image_format="JPEG") -> bytes:
    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "L": 1, "CMYK": 4}[mode]
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, quality=90)
    return buffer.getvalue()


def make_zip(path, entries: list[tuple[str, bytes]]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns on the duplicate name we want
        with zipfile.ZipFile(path, "w") as archive:
            for name, blob in entries:
                archive.writestr(name, blob)
    return str(path)


def folder_listing(path) -> list[str]:
    return sorted(os.listdir(path))


# --------------------------------------------------------------------------- writer
def test_zip_holds_one_translated_jpeg_per_photo(written, generator, photo_list):
    assert written.count == PHOTOS_IN_SAMPLE and written.bytes == os.path.getsize(written.path)
    umask = os.umask(0o022)
    os.umask(umask)
    assert os.stat(written.path).st_mode & 0o777 == 0o666 & ~umask  # a normal file, not a 0600 temp
    assert validate_submission(written.path, min_images=PHOTOS_IN_SAMPLE, max_images=PHOTOS_IN_SAMPLE) == []
    with zipfile.ZipFile(written.path) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == [f"{name}.jpg" for name, _ in photo_list]
    assert all(info.compress_type == zipfile.ZIP_STORED for info in infos)

    entries = decode_entries(written.path)
    expected = data.to_uint8(generator(np.stack([image for _, image in photo_list]), training=False))
    for index, (name, _) in enumerate(photo_list):
        got = entries[f"{name}.jpg"].astype(np.float32)
        assert got.shape == (256, 256, 3)
        errors = [np.abs(got - other).mean() for other in expected]
        assert int(np.argmin(errors)) == index, (name, errors)  # its own photo's translation
        # ... within the error of a quality-95 JPEG of that translation (PIL as the reference).
        buffer = io.BytesIO()
        Image.fromarray(expected[index]).save(buffer, format="JPEG", quality=95)
        reference_error = np.abs(np.asarray(Image.open(buffer), np.float32) - expected[index]).mean()
        assert errors[index] <= 1.1 * reference_error + 0.5, (name, errors[index], reference_error)


def test_python_stream_gives_the_same_bytes_as_the_dataset(written, generator, photo_list, tmp_path):
    stream = (pair for pair in photo_list)  # no len(): counted while streaming
    out = tmp_path / "stream.zip"
    summary = write_submission(generator, stream, str(out), batch_size=BATCH, min_images=0, progress=False)
    assert summary.count == PHOTOS_IN_SAMPLE
    assert out.read_bytes() == open(written.path, "rb").read()  # deterministic, names and order kept


def test_strategy_run_matches_the_single_device_run(written, generator, photos, tmp_path):
    dist = runtime.strategy("cpus", verbose=False)
    assert dist.num_replicas_in_sync == 2
    with dist.scope():
        probe = BatchProbe()
        mirrored = keras.Sequential([keras.Input((256, 256, 3)), probe, tiny_generator()])
        mirrored.set_weights(generator.get_weights())
    out = tmp_path / "mirrored.zip"
    summary = write_submission(mirrored, photos, str(out), batch_size=BATCH, strategy=dist, min_images=0,
                               progress=False)
    assert summary.count == PHOTOS_IN_SAMPLE
    assert set(probe.batch_sizes) == {3}  # batch 5 rounded up to 6, split over the 2 replicas
    ours, theirs = decode_entries(str(out)), decode_entries(written.path)
    assert list(ours) == list(theirs)
    for name in ours:
        assert np.abs(ours[name].astype(int) - theirs[name].astype(int)).max() <= 3, name


# --------------------------------------------------------------------------- errors before any work
def test_wrong_output_shape_fails_before_writing(photos, tmp_path):
    out = tmp_path / "images.zip"
    with pytest.raises(SubmissionError, match=r"outputs 128x128x3 .*Kaggle needs 256x256x3"):
        write_submission(tiny_generator(output_size=128), photos, str(out), min_images=0, progress=False)
    assert folder_listing(tmp_path) == []


def test_photos_that_do_not_fit_the_generator_input(generator, tmp_path):
    small = [("tiny", np.zeros((64, 64, 3), np.float32))]
    with pytest.raises(SubmissionError, match=r"photos are 64x64x3 but the generator expects 256x256x3"):
        write_submission(generator, small, str(tmp_path / "images.zip"), min_images=0, progress=False)
    assert folder_listing(tmp_path) == []


def test_count_rules_fail_before_writing(generator, photos, photo_list, tmp_path):
    out = str(tmp_path / "images.zip")
    with pytest.raises(SubmissionError, match=r"12 photos: expected 7,000 to 10,000.*--allow-small"):
        write_submission(generator, photos, out, progress=False)
    with pytest.raises(SubmissionError, match=r"12 photos: expected 0 to 5"):
        write_submission(generator, photos, out, min_images=0, max_images=5, progress=False)
    # A stream of unknown length is checked as it goes; the partial zip is thrown away.
    with pytest.raises(SubmissionError, match=r"more than max_images=5"):
        write_submission(generator, iter(photo_list), out, batch_size=BATCH, min_images=0, max_images=5,
                         progress=False)
    with pytest.raises(SubmissionError, match=r"12 photos: expected 20"):
        write_submission(generator, iter(photo_list), out, batch_size=BATCH, min_images=20, progress=False)
    assert folder_listing(tmp_path) == []


def test_duplicate_photo_names_are_refused(generator, photo_list, tmp_path):
    twice = photo_list[:3] + [photo_list[1]]
    with pytest.raises(SubmissionError, match=f"photo name '{photo_list[1][0]}' appears twice"):
        write_submission(generator, twice, str(tmp_path / "images.zip"), min_images=0, progress=False)
    assert folder_listing(tmp_path) == []


# --------------------------------------------------------------------------- atomic write
def test_failures_midway_leave_no_partial_zip_and_keep_the_old_one(generator, photo_list, tmp_path):
    out = tmp_path / "images.zip"
    out.write_bytes(b"previous good submission")

    def failing_stream(after: int, error: BaseException):
        for index, pair in enumerate(photo_list):
            if index == after:
                raise error
            yield pair

    with pytest.raises(RuntimeError, match="photo reader broke"):
        write_submission(generator, failing_stream(7, RuntimeError("photo reader broke")), str(out),
                         batch_size=BATCH, min_images=0, progress=False)
    assert folder_listing(tmp_path) == ["images.zip"] and out.read_bytes() == b"previous good submission"

    fresh = tmp_path / "fresh"
    with pytest.raises(KeyboardInterrupt):
        write_submission(generator, failing_stream(7, KeyboardInterrupt()), str(fresh / "images.zip"),
                         batch_size=BATCH, min_images=0, progress=False)
    assert folder_listing(fresh) == []


def test_generator_failing_midway_leaves_no_zip(generator, photos, tmp_path):
    failing = keras.Sequential([keras.Input((256, 256, 3)), FailAfter(calls=1)])
    out = tmp_path / "images.zip"
    out.write_bytes(b"previous good submission")
    with pytest.raises(tf.errors.OpError, match="generator failed on call 2"):
        write_submission(failing, photos, str(out), batch_size=BATCH, min_images=0, progress=False)
    assert failing.layers[-1].seen == 2  # the first batch went through: it really failed midway
    assert folder_listing(tmp_path) == ["images.zip"] and out.read_bytes() == b"previous good submission"


# --------------------------------------------------------------------------- validator
GOOD = jpeg_bytes()


@pytest.mark.parametrize("entries, expected", [
    ([("a.jpg", GOOD), ("a.jpg", GOOD), ("b.jpg", GOOD)], r"^a\.jpg: duplicate name \(2 entries\)"),
    ([("a.jpg", GOOD), ("photos/b.jpg", GOOD), ("c.jpg", GOOD)], r"^photos/b\.jpg: inside a folder"),
    ([("a.jpg", GOOD), ("photos/", b""), ("b.jpg", GOOD), ("c.jpg", GOOD)], r"^photos/: a folder"),
    ([("a.jpg", GOOD), ("b.jpg", jpeg_bytes(image_format="PNG")), ("c.jpg", GOOD)],
     r"^b\.jpg: not a JPEG \(starts with b'\\x89PNG'"),
    ([("a.jpg", GOOD), ("b.png", GOOD), ("c.jpg", GOOD)], r"^b\.png: not a \.jpg/\.jpeg name"),
    ([("a.jpg", GOOD), ("b.jpg", GOOD[: len(GOOD) // 2]), ("c.jpg", GOOD)], r"^b\.jpg: does not decode"),
    ([("a.jpg", GOOD), ("b.jpg", jpeg_bytes(size=(256, 128))), ("c.jpg", GOOD)],
     r"^b\.jpg: 256x128 pixels; expected 256x256"),
    ([("a.jpg", GOOD), ("b.jpg", jpeg_bytes(mode="L")), ("c.jpg", GOOD)], r"^b\.jpg: mode L; expected RGB"),
    ([("a.jpg", GOOD), ("b.jpg", jpeg_bytes(mode="CMYK")), ("c.jpg", GOOD)], r"^b\.jpg: mode CMYK; expected RGB"),
    ([("a.jpg", GOOD), ("b.jpg", GOOD)], r"bad\.zip: 2 images; expected 3 to 3$"),
], ids=["duplicate", "nested", "folder-entry", "png-as-jpg", "wrong-extension", "truncated", "wrong-size",
        "grayscale", "cmyk", "count"])
def test_validator_names_each_problem(tmp_path, entries, expected):
    path = make_zip(tmp_path / "bad.zip", entries)
    problems = validate_submission(path, min_images=3, max_images=3)
    assert any(re.search(expected, problem) for problem in problems), problems
    good = make_zip(tmp_path / "good.zip", [("a.jpg", GOOD), ("b.jpeg", GOOD), ("c.jpg", GOOD)])
    assert validate_submission(good, min_images=3, max_images=3) == []


def test_validator_on_files_that_are_not_zips(tmp_path):
    (tmp_path / "notes.zip").write_text("not a zip")
    assert validate_submission(str(tmp_path / "notes.zip"), min_images=0)[0].startswith(
        f"{tmp_path / 'notes.zip'}: not a readable zip file")
    assert validate_submission(str(tmp_path / "missing.zip"), min_images=0) == [
        f"{tmp_path / 'missing.zip'}: no such file"]
    # A corrupted entry (bit flip inside the stored data) fails its CRC check.
    path = make_zip(tmp_path / "flipped.zip", [("a.jpg", GOOD)])
    blob = bytearray(open(path, "rb").read())
    blob[len(blob) // 2] ^= 0xFF
    open(path, "wb").write(bytes(blob))
    assert any(problem.startswith("a.jpg: unreadable") for problem in validate_submission(path, min_images=0))


# --------------------------------------------------------------------------- CLI
def test_cli_submit_then_validate(generator, sample_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    generator.save(run_dir / "generator_monet.keras")
    out = tmp_path / "images.zip"
    common = ["--data-dir", sample_dir, "--out", str(out), "--batch-size", "8", "--no-progress"]

    assert main(["submit", "--generator", str(run_dir), *common]) == 2  # 12 photos: too few for Kaggle
    assert "12 photos: expected 7,000 to 10,000" in capsys.readouterr().err and not out.exists()

    assert main(["submit", "--generator", str(run_dir), *common, "--allow-small"]) == 0
    printed = capsys.readouterr().out
    assert f"generator: {run_dir / 'generator_monet.keras'}" in printed and '"count": 12' in printed

    assert main(["validate", str(out), "--min-images", "12", "--max-images", "12"]) == 0
    assert capsys.readouterr().out.strip() == "valid: 12 images"
    assert main(["validate", str(out)]) == 1
    assert "12 images; expected 7,000 to 10,000" in capsys.readouterr().out

    # The CLI's zip holds the same images as the library's (same generator, same photos).
    entries = decode_entries(str(out))
    library = tmp_path / "library.zip"
    write_submission(generator, data.load_domain(sample_dir, "photo", with_names=True), str(library),
                     batch_size=8, min_images=0, progress=False)
    assert list(entries) == list(decode_entries(str(library)))


def test_run_dir_prefers_the_best_generator(tmp_path):
    shutil.copy(__file__, tmp_path / "generator_monet.keras")
    assert submission.resolve_generator_path(str(tmp_path)) == str(tmp_path / "generator_monet.keras")
    shutil.copy(__file__, tmp_path / "generator_monet_best.keras")
    assert submission.resolve_generator_path(str(tmp_path)) == str(tmp_path / "generator_monet_best.keras")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionError, match="without generator_monet_best.keras or generator_monet.keras"):
        submission.resolve_generator_path(str(tmp_path / "empty"))
    with pytest.raises(SubmissionError, match="no such file or run dir"):
        submission.resolve_generator_path(str(tmp_path / "nothing"))
