"""Data readers on Kaggle-format files written here, odd and bad inputs, augmentation, batching."""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from monet_utils import data


def _jpeg(array: np.ndarray, quality: int = 90, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _write_tfrec(path: str, records: list[tuple[str, bytes]], domain: str) -> None:
    with tf.io.TFRecordWriter(path) as writer:
        for name, blob in records:
            feature = {
                "image_name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode()])),
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[blob])),
                "target": tf.train.Feature(bytes_list=tf.train.BytesList(value=[domain.encode()])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def _pil_decode(blob: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"), dtype=np.float32) / 127.5 - 1.0


@pytest.fixture(scope="module")
def kaggle_dir(tmp_path_factory):
    """Both layouts of a tiny dataset, written the way Kaggle's files are (names carried)."""
    root = tmp_path_factory.mktemp("kaggle")
    rng = np.random.default_rng(1)
    made = {}
    for domain, count in (("monet", 3), ("photo", 5)):
        records = []
        for index in range(count):
            # Smooth random images (noise JPEGs badly): a gradient plus low-frequency colour.
            base = rng.integers(0, 255, size=(8, 8, 3)).astype(np.uint8)
            array = np.asarray(Image.fromarray(base).resize((256, 256), Image.BICUBIC))
            records.append((f"{domain}{index:03d}x", _jpeg(array)))
        os.makedirs(root / f"{domain}_jpg")
        os.makedirs(root / f"{domain}_tfrec")
        for name, blob in records:
            (root / f"{domain}_jpg" / f"{name}.jpg").write_bytes(blob)
        # Reverse order in the TFRecords so the two layouts differ in order, not content.
        _write_tfrec(str(root / f"{domain}_tfrec" / f"{domain}00-{count}.tfrec"), records[::-1], domain)
        made[domain] = dict(records)
    return str(root), made


def _as_dict(dataset) -> dict[str, np.ndarray]:
    return {name.decode(): image for name, image in dataset.as_numpy_iterator()}


@pytest.mark.parametrize("source", ["tfrec", "jpg"])
def test_loader_matches_pil_decode_and_carries_names(kaggle_dir, source):
    root, made = kaggle_dir
    images = _as_dict(data.load_domain(root, "photo", source=source, with_names=True))
    assert sorted(images) == sorted(made["photo"])
    for name, image in images.items():
        assert image.shape == (256, 256, 3) and image.dtype == np.float32
        assert -1.0 <= image.min() and image.max() <= 1.0
        # Same decoder settings as PIL: identical pixels (tolerance: float rounding only).
        np.testing.assert_allclose(image, _pil_decode(made["photo"][name]), atol=1e-6)


def test_auto_prefers_tfrecords_and_falls_back_to_jpeg(kaggle_dir, tmp_path):
    root, _ = kaggle_dir
    assert data.read_domain(root, "monet").source == "tfrec"
    only_jpg = tmp_path / "only_jpg"
    os.makedirs(only_jpg / "monet_jpg")
    for name in os.listdir(os.path.join(root, "monet_jpg")):
        (only_jpg / "monet_jpg" / name).write_bytes(open(os.path.join(root, "monet_jpg", name), "rb").read())
    encoded = data.read_domain(str(only_jpg), "monet")
    assert encoded.source == "jpg" and len(encoded) == 3


def test_gfile_paths_work_for_non_local_filesystems(kaggle_dir):
    """gs:// goes through tf.io.gfile; TF's in-memory ram:// filesystem exercises the same path."""
    root, made = kaggle_dir
    for folder in ("monet_tfrec", "photo_jpg"):
        tf.io.gfile.makedirs(f"ram://kaggle/{folder}")
        for name in os.listdir(os.path.join(root, folder)):
            tf.io.gfile.copy(os.path.join(root, folder, name), f"ram://kaggle/{folder}/{name}", overwrite=True)
    monet = _as_dict(data.load_domain("ram://kaggle", "monet", with_names=True))
    photo = _as_dict(data.load_domain("ram://kaggle", "photo", with_names=True))
    assert sorted(monet) == sorted(made["monet"]) and sorted(photo) == sorted(made["photo"])


def test_grayscale_rgba_and_other_sizes_become_256_rgb_with_one_warning(tmp_path):
    folder = tmp_path / "photo_jpg"
    os.makedirs(folder)
    gray = np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (256, 1))
    (folder / "gray.jpg").write_bytes(_jpeg(gray, mode="L"))
    rgba = np.zeros((256, 256, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 128
    (folder / "rgba.png").write_bytes(_png(rgba))
    (folder / "small.jpg").write_bytes(_jpeg(np.full((200, 300, 3), 90, np.uint8)))
    (folder / "big.jpg").write_bytes(_jpeg(np.full((512, 512, 3), 30, np.uint8)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = _as_dict(data.load_domain(str(tmp_path), "photo", with_names=True))
    resize_warnings = [w for w in caught if "resized" in str(w.message)]
    assert len(resize_warnings) == 1 and "2 of 4" in str(resize_warnings[0].message)
    assert all(image.shape == (256, 256, 3) for image in images.values())
    # Gray replicated into three equal channels; alpha dropped, colour kept.
    np.testing.assert_allclose(images["gray"][..., 0], images["gray"][..., 2], atol=1e-6)
    assert images["rgba"][..., 0].mean() == pytest.approx(200 / 127.5 - 1, abs=1e-5)
    assert images["small"].mean() == pytest.approx(90 / 127.5 - 1, abs=0.02)


def test_truncated_and_corrupt_images_are_named(tmp_path, kaggle_dir):
    root, made = kaggle_dir
    folder = tmp_path / "photo_jpg"
    os.makedirs(folder)
    blob = next(iter(made["photo"].values()))
    (folder / "good.jpg").write_bytes(blob)
    (folder / "truncated.jpg").write_bytes(blob[: len(blob) // 2])
    (folder / "garbage.jpg").write_bytes(b"this is not an image")
    with pytest.raises(data.DataError) as error:
        data.load_domain(str(tmp_path), "photo")
    message = str(error.value)
    assert "2 image(s) do not decode" in message
    assert "photo_jpg/truncated.jpg" in message and "photo_jpg/garbage.jpg" in message
    assert "good.jpg" not in message


def test_bad_image_inside_a_tfrecord_is_named_by_record(tmp_path, kaggle_dir):
    _, made = kaggle_dir
    os.makedirs(tmp_path / "monet_tfrec")
    blob = next(iter(made["monet"].values()))
    _write_tfrec(str(tmp_path / "monet_tfrec" / "monet00-2.tfrec"), [("ok", blob), ("bad", blob[:300])], "monet")
    with pytest.raises(data.DataError, match=r"monet_tfrec/monet00-2.tfrec#1"):
        data.read_domain(str(tmp_path), "monet")


def test_truncated_tfrecord_file_is_named(tmp_path, kaggle_dir):
    root, _ = kaggle_dir
    os.makedirs(tmp_path / "monet_tfrec")
    raw = open(os.path.join(root, "monet_tfrec", "monet00-3.tfrec"), "rb").read()
    (tmp_path / "monet_tfrec" / "monet00-3.tfrec").write_bytes(raw[: len(raw) - 500])
    with pytest.raises(data.DataError, match=r"monet_tfrec/monet00-3.tfrec: corrupt or truncated TFRecord"):
        data.read_domain(str(tmp_path), "monet")


def test_missing_layout_names_the_expected_folders(tmp_path):
    with pytest.raises(data.DataError) as error:
        data.load_domain(str(tmp_path), "monet")
    message = str(error.value)
    assert "monet_tfrec/*.tfrec" in message and "monet_jpg/*.jpg" in message
    with pytest.raises(data.DataError, match="does not exist"):
        data.load_domain(str(tmp_path / "nope"), "photo")
    with pytest.raises(ValueError, match="domain='cats'"):
        data.load_domain(str(tmp_path), "cats")


def test_non_image_files_in_a_jpeg_folder_are_skipped_with_a_warning(tmp_path, kaggle_dir):
    _, made = kaggle_dir
    os.makedirs(tmp_path / "monet_jpg")
    (tmp_path / "monet_jpg" / "a.jpg").write_bytes(next(iter(made["monet"].values())))
    (tmp_path / "monet_jpg" / "notes.txt").write_text("hello")
    with pytest.warns(UserWarning, match="ignoring 1 file"):
        assert len(data.read_domain(str(tmp_path), "monet")) == 1


def test_augment_is_deterministic_per_seed_and_keeps_shape():
    image = tf.random.stateless_uniform([64, 64, 3], seed=[0, 1], minval=-1, maxval=1)
    ops = ("jitter", "flip", "rot90")
    first = data.augment(image, tf.constant([5, 7]), ops)
    again = data.augment(image, tf.constant([5, 7]), ops)
    other = data.augment(image, tf.constant([5, 8]), ops)
    assert first.shape == (64, 64, 3)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert not np.allclose(first.numpy(), other.numpy())
    # Flip and rot90 alone only permute pixels.
    permuted = data.augment(image, tf.constant([3, 3]), ("flip", "rot90")).numpy()
    np.testing.assert_allclose(np.sort(permuted.ravel()), np.sort(image.numpy().ravel()))
    with pytest.raises(ValueError, match="unknown operations"):
        data.augment(image, tf.constant([1, 1]), ("blur",))


def _first_batches(dataset, count):
    return [tuple(part.numpy() for part in batch) for batch in dataset.take(count)]


def test_unpaired_batches_are_deterministic_and_resume_exactly(sample_dir):
    def build(start_step=0):
        monet = data.load_domain(sample_dir, "monet", image_size=32)
        photo = data.load_domain(sample_dir, "photo", image_size=32)
        return data.unpaired(monet, photo, batch_size=3, seed=11, augment_monet=("jitter", "flip"),
                             cache=("monet", "photo"), start_step=start_step)

    batches = _first_batches(build(), 6)
    for monet, photo in batches:
        assert monet.shape == (3, 32, 32, 3) and photo.shape == (3, 32, 32, 3)
    # Same seed: same stream; resumed at step 4: the same batches as steps 4 and 5.
    again = _first_batches(build(), 6)
    for (m1, p1), (m2, p2) in zip(batches, again):
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_array_equal(p1, p2)
    resumed = _first_batches(build(start_step=4), 2)
    for (m1, p1), (m2, p2) in zip(batches[4:], resumed):
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_array_equal(p1, p2)


def test_unpaired_epochs_cover_every_image_once(sample_dir):
    monet = data.load_domain(sample_dir, "monet", image_size=32)
    photo = data.load_domain(sample_dir, "photo", image_size=32)
    stream = data.unpaired(monet, photo, batch_size=4, seed=3, augment_monet=())
    originals = {image.tobytes() for image in monet.as_numpy_iterator()}
    # 8 paintings, batch 4: each run of 2 batches is one shuffled epoch holding each painting once.
    batches = [m for m, _ in _first_batches(stream, 4)]
    for epoch in (batches[:2], batches[2:]):
        seen = [image.tobytes() for image in np.concatenate(epoch)]
        assert sorted(seen) == sorted(originals)
    assert not np.array_equal(np.concatenate(batches[:2]), np.concatenate(batches[2:]))  # reshuffled
    with pytest.raises(ValueError, match="cache=\\('paintings',\\)"):
        data.unpaired(monet, photo, batch_size=4, cache=("paintings",))


def test_unpaired_distributes_over_two_replicas(sample_dir):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    monet = data.load_domain(sample_dir, "monet", image_size=32)
    photo = data.load_domain(sample_dir, "photo", image_size=32)
    dataset = data.unpaired(monet, photo, batch_size=4, seed=0)
    monet_batch, _ = next(iter(strategy.experimental_distribute_dataset(dataset)))
    parts = strategy.experimental_local_results(monet_batch)
    assert len(parts) == 2 and all(part.shape == (2, 32, 32, 3) for part in parts)


def test_to_uint8_round_trips_pixels():
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    np.testing.assert_array_equal(data.to_uint8(pixels / 127.5 - 1.0), pixels)
    assert data.to_uint8(np.array([-3.0, 3.0])).tolist() == [0, 255]
