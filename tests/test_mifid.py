"""MiFID: exactness against straightforward references, Kaggle's rules, the feature
extractors (random weights, a synthetic calibrated graph), .npz caching, CLI, callback.

Small sizes throughout (64-d features, 32-px images); the 2048-d scipy comparison lives
in bench/mifid.py.
"""

from __future__ import annotations

import json
import os
import zipfile

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
from PIL import Image

from monet_utils import mifid
from monet_utils.__main__ import main

DIMS = 64
# Tolerance for FID against a reference, relative to the scale Tr S1 + Tr S2 (FID is a
# difference of terms of that size, so this is the round-off scale that matters).
TRACE_TOLERANCE = 1e-6


# ---------------------------------------------------------------- references
def reference_fid(features1, features2):
    """Kaggle's straightforward computation: np.cov and scipy sqrtm of S1 @ S2."""
    mu1, mu2 = features1.mean(axis=0), features2.mean(axis=0)
    sigma1, sigma2 = np.cov(features1, rowvar=False), np.cov(features2, rowvar=False)
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma1)) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    diff = mu1 - mu2
    fid = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean.real)
    return fid, np.trace(sigma1) + np.trace(sigma2)


def reference_memorization(generated, real):
    """Loop version of Kaggle's cosine distance (zero-sum rows dropped)."""
    generated = [g for g in generated if g.sum() != 0]
    real = [r for r in real if r.sum() != 0]
    minima = []
    for g in generated:
        minima.append(min(1 - abs(g @ r) / (np.linalg.norm(g) * np.linalg.norm(r)) for r in real))
    return float(np.mean(minima))


def inception_like(rng, count, shift=0.0, dims=DIMS):
    mixing = np.random.default_rng(99).standard_normal((dims, dims)) / np.sqrt(dims)
    return np.maximum(rng.standard_normal((count, dims)) @ mixing + shift, 0.0)


def write_images(folder, count, seed, size=32, extension=".png"):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for index in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        path = os.path.join(folder, f"{index:03d}{extension}")
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- shared (built once)
@pytest.fixture(scope="module")
def random_extractor():
    return mifid.feature_extractor("random")


@pytest.fixture(scope="module")
def synthetic_pb(tmp_path_factory):
    """A tiny GraphDef with the FID Inception graph's tensor names: DecodeJpeg -> Cast ->
    ExpandDims (static batch 1) -> Sub 128 -> Mul 1/128 -> ... -> pool_3 (b, 1, 1, 16)."""
    kernel = np.random.default_rng(1).standard_normal((1, 1, 3, 16)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="contents")])
    def graph(contents):
        image = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        pixels = tf.expand_dims(tf.cast(image, tf.float32, name="Cast"), 0, name="ExpandDims")
        scaled = tf.math.multiply(tf.math.subtract(pixels, 128.0, name="Sub"), 1 / 128, name="Mul")
        pooled = tf.reduce_mean(scaled, axis=[1, 2], keepdims=True, name="mean")
        return tf.nn.conv2d(pooled, kernel, strides=1, padding="VALID", name="pool_3")

    path = str(tmp_path_factory.mktemp("graph") / "synthetic_fid_inception.pb")
    with open(path, "wb") as handle:
        handle.write(graph.get_concrete_function().graph.as_graph_def().SerializeToString())
    return path, kernel[0, 0]


# ---------------------------------------------------------------- the math
@pytest.mark.parametrize("n1,n2", [(300, 200), (30, 200), (200, 30), (20, 40)])
def test_frechet_distance_matches_sqrtm_reference(n1, n2):
    rng = np.random.default_rng(n1 * 1000 + n2)
    features1, features2 = inception_like(rng, n1), inception_like(rng, n2, shift=0.1)
    expected, trace_scale = reference_fid(features1, features2)
    stats1, stats2 = mifid.FeatureStatistics(features1), mifid.FeatureStatistics(features2)
    # Every route: n x n form from features, covariances only, both.
    values = [
        mifid.frechet_distance(stats1.mean, None, stats2.mean, None, features1=features1, features2=features2),
        mifid.frechet_distance(stats1.mean, stats1.cov, stats2.mean, stats2.cov),
        mifid.frechet_distance(stats1.mean, stats1.cov, stats2.mean, stats2.cov,
                               features1=features1, features2=features2),
        mifid.mifid_from_features(features1, features2, kid=False).fid,
    ]
    for value in values:
        assert abs(value - expected) <= TRACE_TOLERANCE * trace_scale
        assert abs(value - expected) <= 1e-6 * expected


@pytest.mark.parametrize("n1,n2", [(10, 200), (200, 12), (9, 14), (3, 2)])
def test_frechet_distance_exact_for_known_spectrum(n1, n2):
    """Rank-deficient covariances with a shared eigenbasis, where Tr sqrt(S1 S2) is known
    exactly (sqrtm itself is inaccurate for singular products)."""
    rng = np.random.default_rng(7)
    basis, _ = np.linalg.qr(rng.standard_normal((DIMS, DIMS)))
    sides = []
    for n in (n1, n2):
        rank = min(n - 1, DIMS)
        # Orthonormal columns orthogonal to the ones vector -> centred, exact covariance.
        q, _ = np.linalg.qr(np.column_stack([np.ones(n), rng.standard_normal((n, rank))]))
        scales = rng.uniform(0.5, 3.0, rank)
        features = q[:, 1:rank + 1] * scales @ basis[:, :rank].T + rng.standard_normal(DIMS)
        sides.append((features, scales ** 2 / (n - 1)))
    (features1, eigen1), (features2, eigen2) = sides
    shared = min(len(eigen1), len(eigen2))
    diff = features1.mean(axis=0) - features2.mean(axis=0)
    exact = diff @ diff + eigen1.sum() + eigen2.sum() - 2 * np.sqrt(eigen1[:shared] * eigen2[:shared]).sum()
    ours = mifid.mifid_from_features(features1, features2, kid=False).fid
    assert ours == pytest.approx(exact, abs=1e-9 * (eigen1.sum() + eigen2.sum()))
    stats1, stats2 = mifid.FeatureStatistics(features1), mifid.FeatureStatistics(features2)
    covariances_only = mifid.frechet_distance(stats1.mean, stats1.cov, stats2.mean, stats2.cov)
    assert covariances_only == pytest.approx(exact, abs=1e-7 * (eigen1.sum() + eigen2.sum()))


@pytest.mark.parametrize("count", [20, 300])
def test_fid_of_a_set_with_itself_is_zero(count):
    features = inception_like(np.random.default_rng(count), count)
    result = mifid.mifid_from_features(features, features, kid=False)
    trace = np.trace(np.cov(features, rowvar=False))
    assert 0.0 <= result.fid <= 1e-9 * trace
    assert result.distance == pytest.approx(0.0, abs=1e-12)  # every image is its own copy
    assert result.mifid == result.fid / (result.distance + 1e-15)


def test_memorization_distance_near_copies_are_penalised():
    rng = np.random.default_rng(3)
    real = inception_like(rng, 60)
    copies = real[rng.integers(0, 60, 80)] * (1 + 0.01 * rng.standard_normal((80, DIMS)))
    fresh = inception_like(rng, 80, shift=0.3)

    copied = mifid.mifid_from_features(copies, real)
    assert copied.distance == pytest.approx(reference_memorization(copies, real), rel=1e-12)
    assert copied.distance < 0.1
    assert copied.thresholded_distance == copied.distance
    assert copied.mifid == pytest.approx(copied.fid / copied.distance)
    assert copied.mifid > 10 * copied.fid

    independent = mifid.mifid_from_features(fresh, real)
    assert independent.distance == pytest.approx(reference_memorization(fresh, real), rel=1e-12)
    assert independent.distance >= 0.1
    assert independent.thresholded_distance == 1.0
    assert independent.mifid == pytest.approx(independent.fid / (1.0 + 1e-15))
    assert mifid.threshold_distance(0.0999) == 0.0999 and mifid.threshold_distance(0.1) == 1.0


def test_zero_rows_are_dropped_from_the_memorization_distance():
    rng = np.random.default_rng(4)
    generated, real = inception_like(rng, 30), inception_like(rng, 20)
    expected = mifid.memorization_distance(generated, real)
    zeros = np.zeros((3, DIMS))
    assert mifid.memorization_distance(np.vstack([zeros, generated]), np.vstack([real, zeros])) == expected
    with pytest.raises(mifid.MifidError, match="every real feature row is all zeros"):
        mifid.memorization_distance(generated, np.zeros((4, DIMS)))


def test_kid_is_the_unbiased_mmd_and_separates_distributions():
    rng = np.random.default_rng(5)
    x, y = inception_like(rng, 40), inception_like(rng, 40)
    # One subset of all images = the full unbiased estimate, by the textbook formula.
    kernel = lambda a, b: (a @ b / DIMS + 1.0) ** 3  # noqa: E731
    n = len(x)
    within = sum(kernel(x[i], x[j]) + kernel(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    across = sum(kernel(x[i], y[j]) for i in range(n) for j in range(n))
    expected = within / (n * (n - 1)) - 2 * across / n ** 2
    kid, spread = mifid.kernel_inception_distance(x, y, num_subsets=1)
    assert kid == pytest.approx(expected, rel=1e-10) and spread == 0.0

    same, _ = mifid.kernel_inception_distance(inception_like(rng, 200), inception_like(rng, 200), 20, 100)
    shifted, _ = mifid.kernel_inception_distance(inception_like(rng, 200, 0.3), inception_like(rng, 200), 20, 100)
    assert abs(same) < 0.05 * shifted


def test_bad_inputs_get_clear_errors():
    rng = np.random.default_rng(6)
    good = inception_like(rng, 10)
    with pytest.raises(mifid.MifidError, match="feature sizes differ.*64.*32"):
        mifid.mifid_from_features(good, good[:, :32])
    with pytest.raises(mifid.MifidError, match="1 image.*at least 2"):
        mifid.mifid_from_features(good[:1], good)
    broken = good.copy()
    broken[4, 7] = np.nan
    with pytest.raises(mifid.MifidError, match="NaN.*row 4"):
        mifid.mifid_from_features(good, broken)
    with pytest.raises(mifid.MifidError, match="2-D"):
        mifid.mifid_from_features(good[0], good)
    with pytest.raises(mifid.MifidError, match="sigma1: expected shape"):
        mifid.frechet_distance(good.mean(0), np.eye(3), good.mean(0), np.eye(DIMS))
    stats = mifid.FeatureStatistics(good, "uncalibrated")
    with pytest.raises(mifid.MifidError, match="same network"):
        mifid.mifid_from_features(stats, mifid.FeatureStatistics(good, "approximate"))


def test_statistics_npz_round_trip(tmp_path):
    features = inception_like(np.random.default_rng(8), 12).astype(np.float32)
    stats = mifid.FeatureStatistics(features, "uncalibrated", "random (seed 0)", "paintings/")
    path = stats.save(tmp_path / "real.npz")
    assert os.listdir(tmp_path) == ["real.npz"]  # no temporary left behind
    loaded = mifid.FeatureStatistics.load(path)
    np.testing.assert_array_equal(loaded.features, stats.features)
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.cov, stats.cov)
    assert (loaded.feature_level, loaded.feature_source, loaded.image_source) == \
        ("uncalibrated", "random (seed 0)", "paintings/")
    assert mifid.mifid_from_features(features[::-1], path).fid == \
        pytest.approx(mifid.mifid_from_features(features[::-1], features).fid, rel=1e-12)

    np.savez(tmp_path / "partial.npz", mean=stats.mean, cov=stats.cov)
    with pytest.raises(mifid.MifidError, match="partial.npz: missing features"):
        mifid.FeatureStatistics.load(tmp_path / "partial.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(mifid.MifidError, match="junk.npz: not a statistics .npz"):
        mifid.FeatureStatistics.load(tmp_path / "junk.npz")


# ---------------------------------------------------------------- feature extractors
def test_random_extractor_end_to_end(random_extractor, tmp_path):
    assert random_extractor.level == "uncalibrated" and random_extractor.dims == 2048
    real_paths = write_images(tmp_path / "real", 5, seed=10)
    rng = np.random.default_rng(11)
    generated = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    dataset = tf.data.Dataset.from_tensor_slices(generated.astype(np.float32) / 127.5 - 1.0)

    with pytest.warns(UserWarning, match="UNCALIBRATED"):
        result = mifid.evaluate(dataset, str(tmp_path / "real"), weights=random_extractor, batch_size=4,
                                kid_subsets=5, progress=False)
    assert (result.generated_count, result.real_count) == (6, 5)
    assert result.feature_level == "uncalibrated" and result.fid > 0

    # The same numbers by hand: features of the JPEG round trip vs the files as stored.
    real_features = random_extractor(np.stack([np.asarray(Image.open(p)) for p in real_paths]))
    generated_features = random_extractor(mifid.jpeg_round_trip(generated, mifid.JPEG_QUALITY))
    by_hand = mifid.mifid_from_features(generated_features, real_features, kid_subsets=5)
    assert result.fid == pytest.approx(by_hand.fid, rel=1e-5)
    assert result.distance == pytest.approx(by_hand.distance, rel=1e-5)
    assert not np.array_equal(generated_features, random_extractor(generated))  # the round trip matters

    # Every output says "uncalibrated" in words.
    assert "UNCALIBRATED" in result.to_dict()["warning"]
    assert str(result).startswith("*** UNCALIBRATED")
    assert "RANDOM weights" in result._repr_html_()


def test_image_sources_take_first_images_in_file_order(tmp_path, sample_dir):
    paths = write_images(tmp_path / "folder", 5, seed=12)
    batches = mifid.image_batches(str(tmp_path / "folder"), batch_size=2, limit=3)
    images = np.concatenate(list(batches.batches))
    assert batches.encoded and batches.count == 3
    np.testing.assert_array_equal(images, np.stack([np.asarray(Image.open(p)) for p in paths[:3]]))

    monet = mifid.image_batches(sample_dir, batch_size=4)  # a Kaggle data dir -> its paintings
    assert sum(len(batch) for batch in monet.batches) == 8 and "monet" in monet.description
    first = [image for image in mifid.first_photos(sample_dir, 3, image_size=32).as_numpy_iterator()]
    assert len(first) == 3

    with pytest.raises(mifid.MifidError, match=r"must be in \[-1, 1\]"):
        list(mifid.image_batches(tf.data.Dataset.from_tensor_slices(np.full((2, 8, 8, 3), 200.0))).batches)


def test_calibrated_graph_wiring(synthetic_pb, tmp_path):
    path, kernel = synthetic_pb
    extractor = mifid.feature_extractor(path)
    assert extractor.level == "calibrated" and extractor.dims == 16
    # Batch of 5 through a graph whose ExpandDims has static batch 1; raw 0-255 pixels in.
    images = np.random.default_rng(13).integers(0, 256, (5, 24, 24, 3), dtype=np.uint8)
    expected = ((images.astype(np.float64) - 128.0) / 128.0).mean(axis=(1, 2)) @ kernel
    np.testing.assert_allclose(extractor(images), expected, rtol=1e-5, atol=1e-6)

    write_images(tmp_path / "real", 4, seed=14)
    result = mifid.evaluate(images, str(tmp_path / "real"), weights=extractor, progress=False, kid_subsets=3)
    assert result.feature_level == "calibrated" and "warning" not in result.to_dict()

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
    def wrong(images):
        return tf.reduce_mean(images, name="logits")

    other = tmp_path / "other.pb"
    other.write_bytes(wrong.get_concrete_function().graph.as_graph_def().SerializeToString())
    with pytest.raises(mifid.MifidError, match="other.pb: graph has no ExpandDims:0 or pool_3:0"):
        mifid.feature_extractor(str(other))
    (tmp_path / "junk.pb").write_bytes(b"\xff\xfe not a protobuf")
    with pytest.raises(mifid.MifidError, match="junk.pb: not a TensorFlow GraphDef"):
        mifid.feature_extractor(str(tmp_path / "junk.pb"))
    with pytest.raises(mifid.MifidError, match="missing.h5.*no such file"):
        mifid.feature_extractor(str(tmp_path / "missing.h5"))


# ---------------------------------------------------------------- CLI
def test_cli_on_zip_and_folder_with_random_weights(tmp_path, capsys):
    write_images(tmp_path / "real", 5, seed=20)
    generated = write_images(tmp_path / "generated", 6, seed=21, extension=".jpg")
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in generated:
            handle.write(path, os.path.basename(path))
    stats = tmp_path / "real_stats.npz"

    status = main(["mifid", "--generated", str(archive), "--real", str(tmp_path / "real"), "--weights", "random",
                   "--save-real-stats", str(stats), "--kid-subsets", "4", "--no-progress"])
    captured = capsys.readouterr()
    assert status == 0
    report = json.loads(captured.out)
    assert report["feature_level"] == "uncalibrated"
    assert report["warning"].startswith("UNCALIBRATED") and "UNCALIBRATED" in captured.err
    assert (report["generated_count"], report["real_count"]) == (6, 5)
    for key in ("fid", "distance", "thresholded_distance", "mifid", "kid"):
        assert np.isfinite(report[key])
    assert report["mifid"] == pytest.approx(report["fid"] / (report["thresholded_distance"] + 1e-15))

    # Cached real statistics give the same numbers (folder of JPEGs as generated this time).
    status = main(["mifid", "--generated", str(tmp_path / "generated"), "--real", str(stats),
                   "--weights", "random", "--kid-subsets", "4", "--no-progress"])
    again = json.loads(capsys.readouterr().out)
    assert status == 0 and again["fid"] == pytest.approx(report["fid"], rel=1e-6)


def test_cli_bad_inputs_name_the_problem(tmp_path, capsys):
    write_images(tmp_path / "real", 3, seed=22)
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("000.jpg", b"")
        handle.writestr("notes.txt", "hello")
    status = main(["mifid", "--generated", str(archive), "--real", str(tmp_path / "real"), "--weights", "random"])
    assert status == 2
    assert "1 entry is not .jpg/.jpeg/.png images: 'notes.txt'" in capsys.readouterr().err

    status = main(["mifid", "--generated", str(tmp_path / "nowhere.zip"), "--real", str(tmp_path / "real"),
                   "--weights", "random"])
    assert status == 2 and "nowhere.zip: does not exist" in capsys.readouterr().err
    status = main(["mifid", "--generated", str(tmp_path / "real"), "--real", str(tmp_path / "real"),
                   "--weights", str(tmp_path / "nope.h5")])
    assert status == 2 and "nope.h5" in capsys.readouterr().err


# ---------------------------------------------------------------- training callback
class TinyCycleGAN(keras.Model):
    """Stands in for cyclegan.CycleGAN: a `monet_generator` and one training step."""

    def __init__(self):
        super().__init__()
        inputs = keras.Input((32, 32, 3))
        self.monet_generator = keras.Model(
            inputs, keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(inputs), name="tiny_generator")

    def call(self, inputs):
        return self.monet_generator(inputs)

    def train_step(self, photos):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self.monet_generator(photos) - 0.5))
        variables = self.monet_generator.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return {"loss": loss}


class RecordLogs(keras.callbacks.Callback):
    """Like train.py's history writer: placed after MifidCallback, records the logs."""

    def __init__(self):
        super().__init__()
        self.records = []

    def on_epoch_end(self, epoch, logs=None):
        self.records.append({"epoch": epoch + 1, **logs})


def test_callback_logs_mifid_and_keeps_the_best_generator(random_extractor, tmp_path):
    photos = tf.data.Dataset.from_tensor_slices(
        np.random.default_rng(30).uniform(-1, 1, (6, 32, 32, 3)).astype(np.float32))
    real = np.random.default_rng(31).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    model = TinyCycleGAN()
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    callback = mifid.MifidCallback(photos, real, every=1, num_images=4, weights=random_extractor,
                                   run_dir=str(tmp_path), batch_size=4, kid_subsets=3, verbose=False)
    recorder = RecordLogs()
    with pytest.warns(UserWarning, match="MifidCallback: UNCALIBRATED"):
        model.fit(photos.batch(3).repeat(), epochs=3, steps_per_epoch=1, callbacks=[callback, recorder],
                  verbose=2, shuffle=False)

    assert [record["epoch"] for record in recorder.records] == [1, 2, 3]
    for record in recorder.records:
        assert {"mifid", "fid", "kid", "mifid_distance", "mifid_features"} <= set(record)
        assert record["mifid_features"] == mifid.LEVEL_CODES["uncalibrated"]
    assert callback.feature_level == "uncalibrated" and callback.real_stats.count == 5
    scores = [record["mifid"] for record in recorder.records]
    best = json.loads((tmp_path / "generator_monet_best.json").read_text())
    assert best["mifid"] == pytest.approx(min(scores)) and best["epoch"] == 1 + int(np.argmin(scores))
    assert best["feature_level"] == "uncalibrated" and "UNCALIBRATED" in best["warning"]
    assert best["num_images"] == 4
    saved = keras.models.load_model(tmp_path / "generator_monet_best.keras")
    assert saved.output_shape == (None, 32, 32, 3)
    assert not [name for name in os.listdir(tmp_path) if "partial" in name]

    # every=2: nothing after epoch 1, numbers after epoch 2.
    sparse = mifid.MifidCallback(photos, callback.real_stats, every=2, num_images=4, weights=random_extractor,
                                 kid_subsets=2, verbose=False)
    sparse.set_model(model)
    logs_1, logs_2 = {}, {}
    sparse.on_epoch_end(0, logs_1)
    with pytest.warns(UserWarning, match="UNCALIBRATED"):
        sparse.on_epoch_end(1, logs_2)
    assert logs_1 == {} and logs_2["fid"] > 0

    stray = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    lonely = mifid.MifidCallback(photos, real, weights=random_extractor)
    lonely.set_model(stray)
    with pytest.raises(mifid.MifidError, match="no `monet_generator`"):
        lonely.on_train_begin()


def test_evaluate_generators_scores_every_generator_on_the_same_photos(random_extractor, sample_dir):
    """An identity 'generator' scored against the photos it copies beats one that paints black."""
    import keras

    photos_in = keras.Input((32, 32, 3))
    identity = keras.Model(photos_in, keras.layers.Activation("linear")(photos_in))
    black = keras.Model(photos_in, keras.layers.Lambda(lambda x: x * 0.0 - 1.0)(photos_in))
    real = mifid.first_photos(sample_dir, 8, 32)
    results = mifid.evaluate_generators({"identity": identity, "black": black}, sample_dir, num_images=8,
                                        weights=random_extractor, real=real, progress=False)
    assert list(results) == ["identity", "black"]
    for result in results.values():
        assert result.generated_count == 8 and result.real_count == 8
        assert result.feature_level == "uncalibrated" and result.warning
    assert results["identity"].fid < 0.1 * results["black"].fid
    default_real = mifid.evaluate_generators({"identity": identity}, sample_dir, num_images=4,
                                             weights=random_extractor, progress=False)["identity"]
    assert default_real.real_count == 8  # all the sample set's paintings, at the generator's size
    with pytest.raises(mifid.MifidError, match="no generators"):
        mifid.evaluate_generators({}, sample_dir, weights=random_extractor)


def test_cached_statistics_from_other_weights_warn(random_extractor):
    features = np.random.default_rng(3).random((5, random_extractor.dims)).astype(np.float32)
    other = mifid.FeatureStatistics(features, "uncalibrated", "random (seed 1)", "old.npz")
    with pytest.warns(UserWarning, match="random \\(seed 1\\).*only meaningful if both are the same network"):
        mifid.statistics(other, random_extractor)
    same = mifid.FeatureStatistics(features, "uncalibrated", random_extractor.source, "old.npz")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mifid.statistics(same, random_extractor) is same
