"""DiffAugment: determinism, shapes, per-image parameters, each transform's effect, gradients, XLA."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from monet_utils.diffaugment import BRIGHTNESS_DELTA, diff_augment, parse_policy

POLICIES = [("color",), ("translation",), ("cutout",), ("color", "translation", "cutout")]
SEED = tf.constant([3, 7], tf.int32)
OTHER_SEED = tf.constant([3, 8], tf.int32)


@pytest.fixture(scope="module")
def images() -> tf.Tensor:
    """Four random images in [-1, 1], 32x24 (not square, so swapped axes would show)."""
    return tf.random.stateless_uniform([4, 32, 24, 3], seed=[0, 1], minval=-1.0, maxval=1.0)


def _ramp(batch: int, height: int, width: int) -> np.ndarray:
    """Identical images whose pixels are all distinct and positive (so shifts are identifiable)."""
    values = np.arange(1, height * width + 1, dtype=np.float32).reshape(height, width) / (height * width)
    return np.broadcast_to(values[None, :, :, None], (batch, height, width, 3)).copy()


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """out[i, j] = image[i + dy, j + dx], zero where that is outside the image."""
    height, width = image.shape[:2]
    out = np.zeros_like(image)
    rows = np.arange(height) + dy
    cols = np.arange(width) + dx
    valid_rows = (rows >= 0) & (rows < height)
    valid_cols = (cols >= 0) & (cols < width)
    out[np.ix_(valid_rows, valid_cols)] = image[np.ix_(rows[valid_rows], cols[valid_cols])]
    return out


def test_parse_policy_accepts_strings_and_sequences_and_rejects_unknown_names():
    assert parse_policy("color, translation") == ("color", "translation")
    assert parse_policy(["cutout", "color"]) == ("cutout", "color")
    assert parse_policy("") == ()
    assert parse_policy("none") == ()
    with pytest.raises(ValueError, match="'colour'.*color, translation, cutout"):
        parse_policy("colour,cutout")
    with pytest.raises(ValueError, match="'flip'"):
        diff_augment(tf.zeros([1, 8, 8, 3]), ["flip"], SEED)


def test_empty_policy_returns_input_unchanged(images):
    for policy in ("", (), "none"):
        out = diff_augment(images, policy, SEED)
        assert out is images or np.array_equal(out.numpy(), images.numpy())


@pytest.mark.parametrize("policy", POLICIES, ids=lambda policy: "+".join(policy))
def test_deterministic_per_seed_and_keeps_shape_and_dtype(images, policy):
    first = diff_augment(images, policy, SEED)
    again = diff_augment(images, policy, SEED)
    other = diff_augment(images, policy, OTHER_SEED)
    assert first.shape == images.shape and first.dtype == tf.float32
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert not np.array_equal(first.numpy(), other.numpy())
    assert not np.array_equal(first.numpy(), images.numpy())
    assert np.all(np.isfinite(first.numpy()))

    half = diff_augment(tf.cast(images, tf.bfloat16), policy, SEED)
    assert half.dtype == tf.bfloat16 and half.shape == images.shape
    # Same parameters whatever the input dtype; bfloat16 rounding only.
    np.testing.assert_allclose(tf.cast(half, tf.float32).numpy(), first.numpy(), atol=0.05)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda policy: "+".join(policy))
def test_identical_images_get_independent_parameters(policy):
    batch = 8
    out = diff_augment(tf.constant(_ramp(batch, 32, 24)), policy, SEED).numpy()
    distinct = {out[index].tobytes() for index in range(batch)}
    # Colour draws are continuous (all distinct); translation/cutout draw from a few
    # hundred positions, so allow a coincidence, but not one transform for the batch.
    minimum = batch if "color" in policy else batch - 2
    assert len(distinct) >= minimum, f"{len(distinct)} distinct augmentations of {batch} identical images"


def test_same_seed_and_batch_shape_give_the_same_parameters_per_position():
    ones = tf.ones([6, 32, 24, 3])
    real = diff_augment(ones, ["cutout", "translation"], SEED).numpy()
    fake = diff_augment(3.0 * ones, ["cutout", "translation"], SEED).numpy()
    np.testing.assert_array_equal(real == 0, fake == 0)


def test_translation_shifts_content_within_an_eighth_with_zero_padding():
    height, width, batch = 32, 24, 8
    ramp = _ramp(batch, height, width)
    out = diff_augment(tf.constant(ramp), ["translation"], SEED).numpy()
    limit_y, limit_x = height // 8, width // 8
    shifts = []
    for index in range(batch):
        matches = [(dy, dx) for dy in range(-limit_y, limit_y + 1) for dx in range(-limit_x, limit_x + 1)
                   if np.array_equal(out[index], _shifted(ramp[index], dy, dx))]
        assert len(matches) == 1, f"image {index} is not a zero-padded shift within ({limit_y}, {limit_x})"
        shifts.append(matches[0])
    assert any(dy != 0 for dy, _ in shifts) and any(dx != 0 for _, dx in shifts)
    # The zero border has the width of the shift, and nothing else is zero.
    dy, dx = next(shift for shift in shifts if shift[0] != 0 and shift[1] != 0)
    index = shifts.index((dy, dx))
    zeros = out[index, :, :, 0] == 0
    assert zeros.sum() == height * width - (height - abs(dy)) * (width - abs(dx))


def test_cutout_zeroes_one_half_size_square_per_image_clipped_only_by_the_border():
    height, width, batch = 32, 24, 16
    side_y, side_x = height // 2, width // 2
    out = diff_augment(tf.ones([batch, height, width, 3]), ["cutout"], SEED).numpy()
    assert set(np.unique(out)) <= {0.0, 1.0}
    full_squares = 0
    for index in range(batch):
        zeros = out[index] == 0
        assert np.array_equal(zeros, np.repeat(zeros[:, :, :1], 3, axis=2)), "cutout differs per channel"
        rows = np.flatnonzero(zeros[:, :, 0].any(axis=1))
        cols = np.flatnonzero(zeros[:, :, 0].any(axis=0))
        assert rows.size and cols.size, f"image {index} has no cutout"
        # One solid rectangle...
        assert zeros[:, :, 0].sum() == rows.size * cols.size
        assert rows.size == rows[-1] - rows[0] + 1 and cols.size == cols[-1] - cols[0] + 1
        # ...of the full side wherever it does not meet the border.
        assert rows.size <= side_y and cols.size <= side_x
        if 0 < rows[0] and rows[-1] < height - 1:
            assert rows.size == side_y
        if 0 < cols[0] and cols[-1] < width - 1:
            assert cols.size == side_x
        full_squares += zeros[:, :, 0].sum() == side_y * side_x
    assert full_squares >= 1


def test_color_on_a_flat_image_is_a_per_image_brightness_offset():
    flat = tf.fill([8, 16, 16, 3], 0.25)
    out = diff_augment(flat, ["color"], SEED).numpy()
    offsets = out - 0.25
    # Saturation and contrast scale distances from a mean: nothing to scale on a flat image.
    np.testing.assert_allclose(offsets, offsets[:, :1, :1, :1] * np.ones_like(offsets), atol=1e-6)
    assert np.all(np.abs(offsets) <= BRIGHTNESS_DELTA)
    assert len(np.unique(np.round(offsets[:, 0, 0, 0], 6))) == 8


def test_color_scales_colourfulness_and_contrast_separately_per_image(images):
    x = images.numpy().astype(np.float64)
    out = diff_augment(images, ["color"], SEED).numpy().astype(np.float64)
    assert np.all(np.isfinite(out))

    def split(batch):  # per-pixel grey level (channel mean) and colour (deviation from it)
        grey = batch.mean(axis=3, keepdims=True)
        return grey - grey.mean(axis=(1, 2, 3), keepdims=True), batch - grey

    grey_in, colour_in = split(x)
    grey_out, colour_out = split(out)
    # Contrast c scales the grey level; saturation s times contrast scales the colour.
    contrast = (grey_out * grey_in).sum(axis=(1, 2, 3)) / (grey_in**2).sum(axis=(1, 2, 3))
    colour_gain = (colour_out * colour_in).sum(axis=(1, 2, 3)) / (colour_in**2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(grey_out, contrast[:, None, None, None] * grey_in, atol=1e-5)
    np.testing.assert_allclose(colour_out, colour_gain[:, None, None, None] * colour_in, atol=1e-5)
    saturation = colour_gain / contrast
    assert np.all((contrast >= 0.5) & (contrast <= 1.5)), contrast
    assert np.all((saturation >= 0.0) & (saturation <= 2.0)), saturation
    assert np.ptp(saturation) > 0.05 and np.ptp(contrast) > 0.05  # drawn per image


@pytest.mark.parametrize("policy", POLICIES, ids=lambda policy: "+".join(policy))
def test_gradients_flow_to_the_images(images, policy):
    weights = tf.random.stateless_normal(images.shape, seed=[5, 5])
    with tf.GradientTape() as tape:
        tape.watch(images)
        loss = tf.reduce_sum(diff_augment(images, policy, SEED) * weights)
    gradient = tape.gradient(loss, images)
    assert gradient is not None and gradient.shape == images.shape
    assert np.all(np.isfinite(gradient.numpy()))
    assert np.count_nonzero(gradient.numpy()) > images.shape.num_elements() // 4


def test_compiles_with_xla_and_matches_eager(images):
    policy = ("color", "translation", "cutout")

    @tf.function(jit_compile=True)
    def augment_and_gradient(batch, seed):
        with tf.GradientTape() as tape:
            tape.watch(batch)
            out = diff_augment(batch, policy, seed)
            loss = tf.reduce_sum(out * out)
        return out, tape.gradient(loss, batch)

    compiled, gradient = augment_and_gradient(images, SEED)
    np.testing.assert_allclose(compiled.numpy(), diff_augment(images, policy, SEED).numpy(), atol=1e-5)
    assert np.count_nonzero(gradient.numpy()) > 0
    # The seed is an input (no retrace); negative and large seeds agree with eager too.
    odd_seed = tf.constant([-5, 2**31 - 1], tf.int32)
    other, _ = augment_and_gradient(images, odd_seed)
    np.testing.assert_allclose(other.numpy(), diff_augment(images, policy, odd_seed).numpy(), atol=1e-5)
    assert not np.array_equal(other.numpy(), compiled.numpy())


def test_runs_in_a_graph_with_an_unknown_batch_size(images):
    augment = tf.function(lambda batch, seed: diff_augment(batch, "color,translation,cutout", seed),
                          input_signature=[tf.TensorSpec([None, 32, 24, 3]), tf.TensorSpec([2], tf.int32)])
    np.testing.assert_allclose(augment(images, SEED).numpy(),
                               diff_augment(images, "color,translation,cutout", SEED).numpy(), atol=1e-6)
