"""DiffAugment: differentiable augmentation of the discriminator's inputs.

Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training": the same
family of random transforms is applied to real AND generated images before every
discriminator call (in the discriminator's loss and in the generator's adversarial loss),
so the discriminator cannot memorise the ~300 paintings, and the generator still gets
gradients through the transforms.

Transforms (names as in `config.DIFF_AUGMENTATIONS`):
- "color": random brightness, then saturation (x[0, 2]), then contrast (x[0.5, 1.5]).
  Brightness adds U(-0.5, 0.5) (`BRIGHTNESS_DELTA`) to our [-1, 1] images, as the official
  DiffAugment_tf.py does to the [-1, 1] images of its StyleGAN2 code (the setting the paper
  tuned). Saturation and contrast scale distances from a mean, so they read the same on
  either scale.
- "translation": shift by up to 1/8 of the height/width (independently per axis, whole
  pixels), filling with zeros.
- "cutout": zero one square of half the image size whose centre is uniform over the
  image; as in the reference code, a square near the border is clipped by it.

Everything is built from fixed-shape, stateless ops (`tf.random.stateless_uniform`,
`tf.gather` with `batch_dims`, comparison masks), so it compiles with XLA
(`tf.function(jit_compile=True)`) and runs on TPU. The random parameters are a pure
function of `seed` and are drawn independently for each image in the batch.
"""

from __future__ import annotations

from typing import Sequence, Union

import tensorflow as tf

from monet_utils.config import DIFF_AUGMENTATIONS

# Brightness offset range on the [-1, 1] scale: the paper's +-0.5 on [0, 1], doubled.
BRIGHTNESS_DELTA = 0.5
SATURATION_RANGE = (0.0, 2.0)
CONTRAST_RANGE = (0.5, 1.5)
# Largest translation, as a fraction of the height/width.
TRANSLATION_RATIO = 0.125
# Side of the cutout square, as a fraction of the height/width.
CUTOUT_RATIO = 0.5

PolicyLike = Union[str, Sequence[str]]


def parse_policy(policy: PolicyLike) -> tuple[str, ...]:
    """Turns "color,translation" (or a sequence of names) into ("color", "translation").

    Empty strings and "none" mean no augmentation. Order is kept (it is the order the
    transforms are applied in).

    Raises:
        ValueError: a name is not one of "color", "translation", "cutout".
    """
    if isinstance(policy, str):
        names = [part.strip() for part in policy.split(",")]
    else:
        names = [str(part).strip() for part in policy]
    names = [name for name in names if name and name != "none"]
    unknown = [name for name in names if name not in DIFF_AUGMENTATIONS]
    if unknown:
        raise ValueError(
            f"DiffAugment policy {policy!r}: unknown transform(s) {unknown}; "
            f"expected a comma list of {', '.join(DIFF_AUGMENTATIONS)}")
    return tuple(names)


def diff_augment(images: tf.Tensor, policy: PolicyLike, seed: tf.Tensor) -> tf.Tensor:
    """Applies the DiffAugment `policy` to a batch of images.

    The function draws independent random parameters for every image in the batch
    (one transform per position, never one shared by the whole batch), as the paper
    does. Hence:
    - real and fake in one call: concatenate them (`tf.concat([real, fake], 0)`) and
      split the result; every image, real or fake, gets its own parameters (one traced
      op instead of two);
    - the identical transform on a real and a fake image: call twice with the SAME
      seed on batches of the same shape; position i gets the same parameters in both.
    Use a fresh seed every step (e.g. `tf.stack([seed, step])`).

    Args:
        images: [batch, height, width, channels] float tensor in [-1, 1] (float32,
            bfloat16 or float16); height, width and channels must be static.
        policy: names from "color", "translation", "cutout" (or a comma string), applied
            in order. Empty: `images` is returned unchanged.
        seed: int tensor of shape [2] (stateless RNG seed). Under a distribution
            strategy, fold in the replica id (e.g. `seed + [0, replica_id]`), otherwise
            all replicas draw the same parameters.

    Returns:
        The augmented images, same shape and dtype as `images`. Differentiable w.r.t.
        `images`. Colour changes may leave [-1, 1] (as in the paper; no clipping).
    """
    names = parse_policy(policy)
    images = tf.convert_to_tensor(images)
    if not names:
        return images
    if images.shape.rank != 4 or None in images.shape[1:]:
        raise ValueError(f"diff_augment: expected images [batch, height, width, channels] with static "
                         f"height/width/channels, got shape {images.shape}")
    if not images.dtype.is_floating:
        raise ValueError(f"diff_augment: expected float images in [-1, 1], got dtype {images.dtype.name}")
    input_dtype = images.dtype
    # Means over low-precision (bfloat16) tensors are coarse; augment in float32.
    x = tf.cast(images, tf.float32)
    seeds = _split_seed(_to_uint32_range(tf.cast(seed, tf.int64)), len(names))
    for index, name in enumerate(names):
        x = _TRANSFORMS[name](x, seeds[index])
    return tf.cast(x, input_dtype)


def _to_uint32_range(seed: tf.Tensor) -> tf.Tensor:
    """Keeps the low 32 bits of each seed element (as int64).

    XLA's stateless RNG reads only those bits while the eager kernels read all 64, so
    seeds outside [0, 2**32) would give different draws compiled and eager.
    """
    return tf.bitwise.bitwise_and(seed, tf.constant(0xFFFFFFFF, tf.int64))


def _split_seed(seed: tf.Tensor, count: int) -> tf.Tensor:
    """`count` independent seeds, shape [count, 2], each in the range XLA and eager agree on."""
    return _to_uint32_range(tf.random.experimental.stateless_split(seed, count))


def _per_image_uniform(x: tf.Tensor, seed: tf.Tensor, low: float, high: float) -> tf.Tensor:
    """One uniform draw in [low, high) per image, shaped [batch, 1, 1, 1]."""
    # Built from integer draws: XLA turns random bits into floats differently from the
    # eager kernels, while integer draws agree, so compiled and eager runs match.
    steps = 1 << 24  # float32 represents every multiple of 2**-24 in [0, 1) exactly
    draws = tf.random.stateless_uniform([tf.shape(x)[0], 1, 1, 1], seed=seed, minval=0, maxval=steps,
                                        dtype=tf.int32)
    return low + (high - low) * (tf.cast(draws, tf.float32) / steps)


def _color(x: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    brightness_seed, saturation_seed, contrast_seed = tf.unstack(_split_seed(seed, 3))
    x = x + _per_image_uniform(x, brightness_seed, -BRIGHTNESS_DELTA, BRIGHTNESS_DELTA)
    channel_mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - channel_mean) * _per_image_uniform(x, saturation_seed, *SATURATION_RANGE) + channel_mean
    image_mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = (x - image_mean) * _per_image_uniform(x, contrast_seed, *CONTRAST_RANGE) + image_mean
    return x


def _shift_axis(x: tf.Tensor, shift: tf.Tensor, axis: int) -> tf.Tensor:
    """out[b, ..., i, ...] = x[b, ..., i + shift[b], ...] along `axis` (1 or 2), zero outside."""
    size = x.shape[axis]
    padding = [[0, 0]] * 4
    padding[axis] = [1, 1]
    # Padded index i + 1 is the original i; indices 0 and size + 1 are zero rows/columns,
    # and clipping maps every out-of-range source onto one of them.
    padded = tf.pad(x, padding)
    source = tf.range(size, dtype=tf.int32)[tf.newaxis, :] + shift[:, tf.newaxis] + 1
    source = tf.clip_by_value(source, 0, size + 1)
    return tf.gather(padded, source, axis=axis, batch_dims=1)


def _translation(x: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    batch = tf.shape(x)[0]
    height_seed, width_seed = tf.unstack(_split_seed(seed, 2))
    for axis, axis_seed in ((1, height_seed), (2, width_seed)):
        limit = int(x.shape[axis] * TRANSLATION_RATIO + 0.5)
        shift = tf.random.stateless_uniform([batch], seed=axis_seed, minval=-limit, maxval=limit + 1,
                                            dtype=tf.int32)
        x = _shift_axis(x, shift, axis)
    return x


def _cutout(x: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    batch = tf.shape(x)[0]
    row_seed, column_seed = tf.unstack(_split_seed(seed, 2))
    keep = []
    for axis, axis_seed in ((1, row_seed), (2, column_seed)):
        size = x.shape[axis]
        side = int(size * CUTOUT_RATIO + 0.5)
        # Centre uniform over the image (reference: offset in [0, size + 1 - side % 2)).
        centre = tf.random.stateless_uniform([batch, 1], seed=axis_seed, minval=0,
                                             maxval=size + 1 - side % 2, dtype=tf.int32)
        start = centre - side // 2
        positions = tf.range(size, dtype=tf.int32)[tf.newaxis, :]
        keep.append((positions < start) | (positions >= start + side))  # [batch, size]
    # A pixel survives unless it is inside the square on both axes.
    mask = keep[0][:, :, tf.newaxis] | keep[1][:, tf.newaxis, :]
    return x * tf.cast(mask, x.dtype)[..., tf.newaxis]


_TRANSFORMS = {"color": _color, "translation": _translation, "cutout": _cutout}
