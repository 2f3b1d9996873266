"""Generator and discriminator factories (Keras 3 functional models).

Map to the CycleGAN paper: G (photo -> Monet) and F (Monet -> photo) are generators built
here, D_Y and D_X are PatchGAN discriminators. Every factory returns a plain
`keras.Model` that saves to `.keras` and reloads with `keras.models.load_model(path)` in
safe mode (the custom layers below are registered; there are no Lambda layers).

- `build_unet_generator`: the Kaggle tutorial's U-Net (pix2pix generator).
- `build_resnet_generator`: the official CycleGAN generator (Johnson et al. ResNet).
- `build_patchgan_discriminator`: the 70x70 PatchGAN; outputs logits.
- `build_deep_generator`: the seed's deeper stage-2 generator, built on a trained
  stage-1 generator so that it starts as exactly the same function.

Conventions shared by all generators:
- Input `(image_size, image_size, 3)` float32 in [-1, 1]; output the same shape in
  [-1, 1], always float32 (a float32 `Activation("tanh", name="tanh")`), whatever `dtype`.
- The last convolution is named `"to_rgb"` and is the pre-tanh output; `"stack"` mode adds
  its correction there (adding after tanh would push values out of [-1, 1]).
- `dtype` is a per-model Keras dtype policy name ("float32" or "mixed_bfloat16"). No global
  policy is ever set: it would leak into every later model, test and saved file.
- Instance normalisation is `GroupNormalization(groups=-1)` (one group per channel) with
  epsilon 1e-5 by default: the paper's PyTorch `InstanceNorm2d` uses 1e-5, Keras' default
  of 1e-3 is large against the variance of small, low-contrast activations (a flat sky)
  and damps them. Norm layers compute in float32 even under mixed precision.
- Layers are named explicitly (`down3_conv`, `up2_norm`, `res4_conv1`, ...), so weights
  copy between models by layer name.

Shape comments are for image_size=256, filters=64, batch size bs.
"""

from __future__ import annotations

import math
import os
from typing import Optional

import keras
from keras import layers, ops

PACKAGE = "monet_utils"
GENERATOR_KINDS = ("unet", "resnet")
DEEP_MODES = ("deepen", "stack")
MIN_IMAGE_SIZE = 32
# pix2pix / CycleGAN initialisation: conv kernels ~ N(0, 0.02); norm scales ~ N(1, 0.02).
# (The Kaggle tutorial draws the instance-norm gamma from N(0, 0.02), which starts every
# normalised activation near zero; the papers' reference code uses mean 1.)
KERNEL_STDDEV = 0.02
LEAKY_SLOPE = 0.2  # pix2pix/CycleGAN; Keras' LeakyReLU default (0.3) is what the tutorial got
DROPOUT_RATE = 0.5
UNET_DROPOUT_BLOCKS = 3  # dropout in the first three up blocks (pix2pix)


# ---------------------------------------------------------------------------------------
# Custom layers (registered so saved models load in safe mode)
# ---------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package=PACKAGE)
class ReflectionPadding2D(layers.Layer):
    """Reflection padding of the two spatial axes (NHWC), as in the CycleGAN generator.

    Args:
        padding: pixels added on each side of height and width.
    """

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        pad = 2 * self.padding
        return (batch, None if height is None else height + pad,
                None if width is None else width + pad, channels)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReZero(layers.Layer):
    """`x + alpha * residual` with one learned scalar `alpha` that starts at 0 (ReZero).

    A new block behind this gate is the identity at the start, and stays close to it after
    an optimizer step: Adam moves the single scalar by about the learning rate. (A zero-
    initialised conv followed by instance norm would not do: the norm divides by
    sqrt(variance + eps), so the first update of the conv is blown up to unit scale.)

    Call with `[x, residual]` (same shape).
    """

    def __init__(self, initial_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_value = float(initial_value)

    def build(self, input_shape):
        self.alpha = self.add_weight(
            name="alpha", shape=(), initializer=keras.initializers.Constant(self.initial_value),
            trainable=True)

    def call(self, inputs):
        x, residual = inputs
        return x + ops.cast(self.alpha, residual.dtype) * residual

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "initial_value": self.initial_value}


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
def _kernel_init():
    return keras.initializers.RandomNormal(mean=0.0, stddev=KERNEL_STDDEV)


def _gamma_init():
    return keras.initializers.RandomNormal(mean=1.0, stddev=KERNEL_STDDEV)


def _instance_norm(name: str, epsilon: float, dtype: str) -> layers.Layer:
    # groups=-1: one group per channel, i.e. instance normalisation.
    return layers.GroupNormalization(groups=-1, epsilon=epsilon, gamma_initializer=_gamma_init(),
                                     name=name, dtype=dtype)


def check_image_size(image_size: int, what: str = "image_size") -> int:
    """Returns `image_size` if it is a power of two >= 32, else raises a ValueError."""
    ok = (isinstance(image_size, int) and not isinstance(image_size, bool)
          and image_size >= MIN_IMAGE_SIZE and image_size & (image_size - 1) == 0)
    if not ok:
        raise ValueError(f"{what}={image_size!r}: expected a power of two >= {MIN_IMAGE_SIZE} "
                         "(e.g. 32, 64, 128, 256)")
    return image_size


def _check_positive(value: int, what: str, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{what}={value!r}: expected an integer >= {minimum}")
    return value


def _check_dtype(dtype: str) -> str:
    name = getattr(dtype, "name", dtype)
    if name not in ("float32", "mixed_bfloat16", "mixed_float16", "bfloat16"):
        raise ValueError(f"dtype={dtype!r}: expected a Keras dtype policy name such as "
                         "'float32' or 'mixed_bfloat16'")
    return name


def _image_input(image_size: int, name: str = "input_image") -> keras.KerasTensor:
    return keras.Input(shape=(image_size, image_size, 3), dtype="float32", name=name)


def _tanh_output(x, name: str = "tanh"):
    # float32 whatever the model's policy: the losses, the image pool and the saved
    # generator all see float32 images.
    return layers.Activation("tanh", dtype="float32", name=name)(x)


def _residual_block(x, channels: int, prefix: str, epsilon: float, dtype: str,
                    gated: bool = False):
    """CycleGAN residual block: [reflect-pad, conv3x3, IN, ReLU] x2 (no ReLU last), + x.

    With `gated=True` the branch goes through a `ReZero` gate starting at 0 (identity block).
    """
    y = ReflectionPadding2D(1, name=f"{prefix}_pad1", dtype=dtype)(x)
    y = layers.Conv2D(channels, 3, use_bias=False, kernel_initializer=_kernel_init(),
                      name=f"{prefix}_conv1", dtype=dtype)(y)
    y = _instance_norm(f"{prefix}_norm1", epsilon, dtype)(y)
    y = layers.ReLU(name=f"{prefix}_act1", dtype=dtype)(y)
    y = ReflectionPadding2D(1, name=f"{prefix}_pad2", dtype=dtype)(y)
    y = layers.Conv2D(channels, 3, use_bias=False, kernel_initializer=_kernel_init(),
                      name=f"{prefix}_conv2", dtype=dtype)(y)
    y = _instance_norm(f"{prefix}_norm2", epsilon, dtype)(y)
    if gated:
        return ReZero(name=f"{prefix}_gate", dtype=dtype)([x, y])
    return layers.Add(name=f"{prefix}_add", dtype=dtype)([x, y])


def count_conv_layers(model: keras.Model) -> int:
    """Number of convolution layers (Conv and ConvTranspose, any rank), nested models included."""
    conv_types = (layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.Conv1DTranspose,
                  layers.Conv2DTranspose, layers.Conv3DTranspose, layers.DepthwiseConv2D,
                  layers.SeparableConv2D)
    count = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            count += count_conv_layers(layer)
        elif isinstance(layer, conv_types):
            count += 1
    return count


# ---------------------------------------------------------------------------------------
# U-Net generator (Kaggle tutorial / pix2pix)
# ---------------------------------------------------------------------------------------
def unet_widths(image_size: int, filters: int) -> list[int]:
    """Channels of the U-Net's down blocks: filters * 2^i capped at filters * 8.

    One down block per halving down to 1x1, i.e. log2(image_size) blocks
    (256 px, filters 64: 64, 128, 256, 512, 512, 512, 512, 512).
    """
    depth = int(math.log2(check_image_size(image_size)))
    return [min(filters * 2 ** i, filters * 8) for i in range(depth)]


def build_unet_generator(image_size: int = 256, filters: int = 64, norm_epsilon: float = 1e-5,
                         dtype: str = "float32", name: str = "unet_generator",
                         residual_blocks: int = 0) -> keras.Model:
    """The Kaggle tutorial's U-Net generator (pix2pix), any power-of-two size.

    Encoder: log2(image_size) stride-2 4x4 convs (instance norm except on the first and
    on the innermost, LeakyReLU 0.2) down to 1x1. Decoder: stride-2 4x4 transposed convs
    (instance norm, dropout 0.5 in the first three, ReLU), each concatenated with the
    encoder output of the same size; a last transposed conv to 3 channels ("to_rgb"), tanh.

    The tutorial also normalises the innermost 1x1 activation; instance norm over one pixel
    returns beta whatever the input, which cuts the bottleneck off (no signal, no gradient),
    so it is left out here as in pix2pix's reference code.

    Args:
        image_size: height = width of input and output; a power of two >= 32.
        filters: width of the first layer; the others are filters * 2^i, capped at 8x.
        norm_epsilon: instance-norm epsilon (paper 1e-5; Keras default 1e-3).
        dtype: per-model dtype policy name ("float32" or "mixed_bfloat16").
        name: model name.
        residual_blocks: extra residual blocks after each up block larger than 2x2, each
            behind a `ReZero` gate (identity at start); used by `build_deep_generator`.

    Returns:
        A `keras.Model` mapping (bs, S, S, 3) float32 in [-1, 1] to the same.
    """
    widths = unet_widths(image_size, _check_positive(filters, "filters"))
    _check_positive(residual_blocks, "residual_blocks", minimum=0)
    dtype = _check_dtype(dtype)
    depth = len(widths)

    inputs = _image_input(image_size)
    x = inputs

    # Downsampling: (bs, 128, 128, 64) (bs, 64, 64, 128) (bs, 32, 32, 256)
    # (bs, 16, 16, 512) (bs, 8, 8, 512) (bs, 4, 4, 512) (bs, 2, 2, 512) (bs, 1, 1, 512)
    skips = []
    for index, width in enumerate(widths, start=1):
        x = layers.Conv2D(width, 4, strides=2, padding="same", use_bias=False,
                          kernel_initializer=_kernel_init(), name=f"down{index}_conv",
                          dtype=dtype)(x)
        if 1 < index < depth:  # not on the first (pix2pix) nor on the 1x1 innermost
            x = _instance_norm(f"down{index}_norm", norm_epsilon, dtype)(x)
        x = layers.LeakyReLU(LEAKY_SLOPE, name=f"down{index}_act", dtype=dtype)(x)
        skips.append(x)

    # Upsampling with skips: (bs, 2, 2, 1024) (bs, 4, 4, 1024) (bs, 8, 8, 1024)
    # (bs, 16, 16, 1024) (bs, 32, 32, 512) (bs, 64, 64, 256) (bs, 128, 128, 128)
    up_widths = widths[-2::-1]
    for index, (width, skip) in enumerate(zip(up_widths, reversed(skips[:-1])), start=1):
        x = layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=_kernel_init(), name=f"up{index}_conv",
                                   dtype=dtype)(x)
        x = _instance_norm(f"up{index}_norm", norm_epsilon, dtype)(x)
        if index <= UNET_DROPOUT_BLOCKS:
            x = layers.Dropout(DROPOUT_RATE, name=f"up{index}_dropout", dtype=dtype)(x)
        x = layers.ReLU(name=f"up{index}_act", dtype=dtype)(x)
        # Deeper variant: identity-at-start residual blocks, only above 2x2 (instance norm
        # over very few pixels has next to no signal and no useful gradient).
        if 2 ** index > 2:  # up block `index` outputs 2^index x 2^index
            for block in range(1, residual_blocks + 1):
                x = _residual_block(x, width, f"up{index}_res{block}", norm_epsilon, dtype,
                                    gated=True)
        x = layers.Concatenate(name=f"up{index}_skip", dtype=dtype)([x, skip])

    # (bs, 256, 256, 3): pre-tanh "to_rgb", then a float32 tanh.
    x = layers.Conv2DTranspose(3, 4, strides=2, padding="same", kernel_initializer=_kernel_init(),
                               name="to_rgb", dtype=dtype)(x)
    outputs = _tanh_output(x)
    return keras.Model(inputs, outputs, name=name)


# ---------------------------------------------------------------------------------------
# ResNet generator (official CycleGAN)
# ---------------------------------------------------------------------------------------
def _resnet_encoder(x, filters: int, prefix: str, norm_epsilon: float, dtype: str):
    """The official ResNet generator's c7s1-f, d2f, d4f: (bs, s, s, c) -> (bs, s/4, s/4, 4f).

    Layer names start with `prefix` (the stack refinement reuses this with "refine_").
    """
    # c7s1-64: (bs, 256, 256, 64)
    x = ReflectionPadding2D(3, name=f"{prefix}stem_pad", dtype=dtype)(x)
    x = layers.Conv2D(filters, 7, use_bias=False, kernel_initializer=_kernel_init(),
                      name=f"{prefix}stem_conv", dtype=dtype)(x)
    x = _instance_norm(f"{prefix}stem_norm", norm_epsilon, dtype)(x)
    x = layers.ReLU(name=f"{prefix}stem_act", dtype=dtype)(x)

    # d128, d256: (bs, 128, 128, 128) (bs, 64, 64, 256). Zero padding 1 + valid 3x3
    # stride 2, as PyTorch's Conv2d(padding=1) (Keras' "same" pads only after).
    for index, width in enumerate((filters * 2, filters * 4), start=1):
        x = layers.ZeroPadding2D(1, name=f"{prefix}down{index}_pad", dtype=dtype)(x)
        x = layers.Conv2D(width, 3, strides=2, use_bias=False, kernel_initializer=_kernel_init(),
                          name=f"{prefix}down{index}_conv", dtype=dtype)(x)
        x = _instance_norm(f"{prefix}down{index}_norm", norm_epsilon, dtype)(x)
        x = layers.ReLU(name=f"{prefix}down{index}_act", dtype=dtype)(x)
    return x


def build_resnet_generator(image_size: int = 256, filters: int = 64, residual_blocks: int = 9,
                           resize_conv: bool = False, norm_epsilon: float = 1e-5,
                           dtype: str = "float32", name: str = "resnet_generator") -> keras.Model:
    """The official CycleGAN generator: c7s1-64, d128, d256, R256 x n, u128, u64, c7s1-3.

    Reflection padding before every 7x7 and 3x3 "same-size" conv, instance norm and ReLU
    after every conv but the last, tanh on the output. The paper uses 9 residual blocks at
    256 px and 6 at 128 px.

    Args:
        image_size: height = width; a power of two >= 32.
        filters: width of the first layer (64 in the paper); the others are 2x and 4x.
        residual_blocks: residual blocks at 1/4 resolution.
        resize_conv: upsample with nearest-neighbour resize + 3x3 conv instead of a
            stride-2 transposed conv; avoids checkerboard artefacts (Odena et al. 2016).
        norm_epsilon: instance-norm epsilon (paper 1e-5; Keras default 1e-3).
        dtype: per-model dtype policy name ("float32" or "mixed_bfloat16").
        name: model name.
    """
    check_image_size(image_size)
    _check_positive(filters, "filters")
    _check_positive(residual_blocks, "residual_blocks", minimum=0)
    dtype = _check_dtype(dtype)

    inputs = _image_input(image_size)

    # c7s1-64, d128, d256: (bs, 64, 64, 256)
    x = _resnet_encoder(inputs, filters, "", norm_epsilon, dtype)

    # R256 x n: (bs, 64, 64, 256)
    for block in range(1, residual_blocks + 1):
        x = _residual_block(x, filters * 4, f"res{block}", norm_epsilon, dtype)

    # u128, u64: (bs, 128, 128, 128) (bs, 256, 256, 64)
    for index, width in enumerate((filters * 2, filters), start=1):
        if resize_conv:
            x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{index}_resize",
                                    dtype=dtype)(x)
            x = ReflectionPadding2D(1, name=f"up{index}_pad", dtype=dtype)(x)
            x = layers.Conv2D(width, 3, use_bias=False, kernel_initializer=_kernel_init(),
                              name=f"up{index}_conv", dtype=dtype)(x)
        else:
            x = layers.Conv2DTranspose(width, 3, strides=2, padding="same", use_bias=False,
                                       kernel_initializer=_kernel_init(), name=f"up{index}_conv",
                                       dtype=dtype)(x)
        x = _instance_norm(f"up{index}_norm", norm_epsilon, dtype)(x)
        x = layers.ReLU(name=f"up{index}_act", dtype=dtype)(x)

    # c7s1-3: (bs, 256, 256, 3), pre-tanh "to_rgb", then a float32 tanh.
    x = ReflectionPadding2D(3, name="out_pad", dtype=dtype)(x)
    x = layers.Conv2D(3, 7, kernel_initializer=_kernel_init(), name="to_rgb", dtype=dtype)(x)
    outputs = _tanh_output(x)
    return keras.Model(inputs, outputs, name=name)


def build_generator(kind: str = "unet", image_size: int = 256, filters: int = 64, *,
                    residual_blocks: int = 9, resize_conv: bool = False,
                    norm_epsilon: float = 1e-5, dtype: str = "float32",
                    name: Optional[str] = None) -> keras.Model:
    """`build_unet_generator` or `build_resnet_generator` by `kind` ("unet" | "resnet").

    `residual_blocks` and `resize_conv` apply to "resnet" only.
    """
    if kind == "unet":
        return build_unet_generator(image_size, filters, norm_epsilon=norm_epsilon, dtype=dtype,
                                    name=name or "unet_generator")
    if kind == "resnet":
        return build_resnet_generator(image_size, filters, residual_blocks=residual_blocks,
                                      resize_conv=resize_conv, norm_epsilon=norm_epsilon,
                                      dtype=dtype, name=name or "resnet_generator")
    raise ValueError(f"kind={kind!r}: expected one of {GENERATOR_KINDS} "
                     "(the deep generator is built from a trained one by build_deep_generator)")


# ---------------------------------------------------------------------------------------
# PatchGAN discriminator
# ---------------------------------------------------------------------------------------
def build_patchgan_discriminator(image_size: int = 256, filters: int = 64,
                                 norm_epsilon: float = 1e-5, dtype: str = "float32",
                                 name: str = "patchgan_discriminator") -> keras.Model:
    """The 70x70 PatchGAN: C64-C128-C256-C512 then a 1-channel conv; logits, no sigmoid.

    Each output pixel judges a 70x70 patch of the input (30x30 patches at 256 px). The
    output is float32 whatever `dtype`; losses apply the sigmoid (BCE from logits) or not
    (LSGAN).
    """
    check_image_size(image_size)
    _check_positive(filters, "filters")
    dtype = _check_dtype(dtype)

    inputs = _image_input(image_size)
    x = inputs
    # C64 (no norm), C128, C256: (bs, 128, 128, 64) (bs, 64, 64, 128) (bs, 32, 32, 256)
    for index, width in enumerate((filters, filters * 2, filters * 4), start=1):
        x = layers.Conv2D(width, 4, strides=2, padding="same", use_bias=False,
                          kernel_initializer=_kernel_init(), name=f"down{index}_conv",
                          dtype=dtype)(x)
        if index > 1:
            x = _instance_norm(f"down{index}_norm", norm_epsilon, dtype)(x)
        x = layers.LeakyReLU(LEAKY_SLOPE, name=f"down{index}_act", dtype=dtype)(x)

    # C512, stride 1: (bs, 34, 34, 256) -> (bs, 31, 31, 512)
    x = layers.ZeroPadding2D(1, name="conv4_pad", dtype=dtype)(x)
    x = layers.Conv2D(filters * 8, 4, use_bias=False, kernel_initializer=_kernel_init(),
                      name="conv4_conv", dtype=dtype)(x)
    x = _instance_norm("conv4_norm", norm_epsilon, dtype)(x)
    x = layers.LeakyReLU(LEAKY_SLOPE, name="conv4_act", dtype=dtype)(x)

    # Logits: (bs, 33, 33, 512) -> (bs, 30, 30, 1), computed in float32.
    x = layers.ZeroPadding2D(1, name="logits_pad", dtype=dtype)(x)
    outputs = layers.Conv2D(1, 4, kernel_initializer=_kernel_init(), name="logits",
                            dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


# ---------------------------------------------------------------------------------------
# The deep (stage-2) generator
# ---------------------------------------------------------------------------------------
def generator_kind(model: keras.Model) -> str:
    """What built `model`, from its layer names.

    "unet" (`build_unet_generator`, also after "deepen"), "resnet"
    (`build_resnet_generator`), "stacked" (`build_deep_generator(..., "stack")`) or "other".
    """
    names = {layer.name for layer in model.layers}
    if "refine_gate" in names:
        return "stacked"
    if "stem_conv" in names and "to_rgb" in names:
        return "resnet"
    if "down1_conv" in names and "up1_skip" in names and "to_rgb" in names:
        return "unet"
    return "other"


def _unet_settings(model: keras.Model) -> dict:
    """The `build_unet_generator` arguments that rebuild `model`'s architecture."""
    image_size = model.input_shape[1]
    filters = model.get_layer("down1_conv").filters
    norms = [layer for layer in model.layers if isinstance(layer, layers.GroupNormalization)]
    # Residual blocks per scale of an already deepened U-Net (counted at 4x4, up block 2).
    blocks = sum(1 for layer in model.layers
                 if layer.name.startswith("up2_res") and layer.name.endswith("_gate"))
    return dict(image_size=image_size, filters=filters,
                norm_epsilon=norms[0].epsilon if norms else 1e-5,
                dtype=model.get_layer("down1_conv").dtype_policy.name, residual_blocks=blocks)


def copy_weights_by_name(source: keras.Model, target: keras.Model) -> list[str]:
    """Copies every weighted layer of `source` into the layer of the same name in `target`.

    Raises a ValueError naming the layer when `target` lacks it or its shapes differ.
    Returns the names of the layers copied.
    """
    copied = []
    for layer in source.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        try:
            destination = target.get_layer(layer.name)
        except ValueError as error:
            raise ValueError(f"cannot copy weights: {target.name!r} has no layer named "
                             f"{layer.name!r} (from {source.name!r})") from error
        shapes = [w.shape for w in destination.get_weights()]
        if shapes != [w.shape for w in weights]:
            raise ValueError(f"cannot copy weights of layer {layer.name!r}: shapes "
                             f"{[w.shape for w in weights]} in {source.name!r} vs {shapes} "
                             f"in {target.name!r}")
        destination.set_weights(weights)
        copied.append(layer.name)
    return copied


def with_dtype(model: keras.Model, dtype: str, name: Optional[str] = None) -> keras.Model:
    """A copy of `model` (same layer names and weights) under another dtype policy.

    Every layer gets `dtype` except the output layers (tanh, logits), which stay float32.
    Use it to save a generator trained in "mixed_bfloat16" as a float32 one (loads and
    runs anywhere), or to train a float32 stage 1 in bf16. The copy shares no variables
    with `model`; build it inside a `tf.distribute` strategy's scope when one is used.
    """
    dtype = _check_dtype(dtype)
    output_layers = {tensor._keras_history[0].name for tensor in model.outputs}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            raise ValueError(f"{model.name!r}: with_dtype needs a flat model; layer "
                             f"{layer.name!r} is a nested model")

    def clone(layer):
        config = layer.get_config()
        config["dtype"] = "float32" if layer.name in output_layers else dtype
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    if name:
        copy = keras.Model(copy.input, copy.output, name=name)
    copy_weights_by_name(model, copy)
    return copy


def save_float32(model: keras.Model, path: str) -> str:
    """Saves `model` as a float32 `.keras` file, atomically (temp file, then rename).

    A model trained in bf16 is converted first (`with_dtype`), so the file loads and runs
    anywhere; the write never leaves a half-written file in place of a good one.
    """
    if any(layer.dtype_policy.name != "float32" for layer in model.layers):
        model = with_dtype(model, "float32")
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name[:-len('.keras')]}.partial.keras")  # Keras wants .keras
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _pre_tanh_layer(model: keras.Model) -> layers.Layer:
    """The layer whose output feeds the generator's final tanh."""
    final = model.outputs[0]._keras_history[0]
    if not (isinstance(final, layers.Activation)
            and getattr(final.activation, "__name__", "") == "tanh"):
        raise ValueError(f"{model.name!r}: expected a generator whose output layer is a tanh "
                         f"Activation (got {type(final).__name__} {final.name!r})")
    return final.input._keras_history[0]


def build_deep_generator(pretrained: keras.Model, mode: str = "deepen", blocks: int = 1,
                         filters: Optional[int] = None, dtype: Optional[str] = None,
                         name: Optional[str] = None) -> keras.Model:
    """A deeper generator that starts as the same function as a trained `pretrained` one.

    The seed's stage 2: train a small generator first (stage 1), then go deeper without
    losing what it learned. New blocks sit behind `ReZero` gates (a scalar starting at 0),
    so the output equals `pretrained`'s at the start (`training=False`) and moves away
    gently: one Adam step changes each gate by about the learning rate. `pretrained`
    itself is not modified (its weights are copied, by layer name).

    Args:
        pretrained: a generator from `build_unet_generator` ("deepen" or "stack") or
            `build_resnet_generator` ("stack").
        mode: "deepen": the same U-Net with `blocks` extra residual blocks after each up
            block larger than 2x2 (3x3 convs at the up block's width).
            "stack": `pretrained` as the first stage, then a refinement network that sees
            concat(photo, stage-1 output) and adds a gated correction to stage 1's pre-tanh
            output ("to_rgb"). The refinement is a CycleGAN ResNet (c7s1, two stride-2
            downs, 3 x `blocks` residual blocks, two resize-conv ups, c7s1-3).
        blocks: residual blocks per scale ("deepen"), or units of three residual blocks in
            the refinement trunk ("stack").
        filters: refinement width ("stack"); default: `pretrained`'s first layer width.
        dtype: dtype policy name of the deep model; default: `pretrained`'s (e.g. stage 1
            saved in float32, stage 2 trained in "mixed_bfloat16" on a TPU).
        name: model name (default "deep_<mode>_generator").

    Returns:
        A `keras.Model` with the same input and output as `pretrained`; use
        `count_conv_layers` to compare depths.
    """
    if mode not in DEEP_MODES:
        raise ValueError(f"mode={mode!r}: expected one of {DEEP_MODES}")
    _check_positive(blocks, "blocks")
    kind = generator_kind(pretrained)
    name = name or f"deep_{mode}_generator"

    if mode == "deepen":
        if kind != "unet":
            raise ValueError(
                f"mode='deepen' needs a U-Net from build_unet_generator; {pretrained.name!r} is "
                f"a {kind} generator. Use mode='stack' (any generator with a final tanh), or a "
                "ResNet generator with more residual_blocks.")
        settings = _unet_settings(pretrained)
        settings["residual_blocks"] += blocks  # on top of any from an earlier "deepen"
        if dtype is not None:
            settings["dtype"] = dtype
        deep = build_unet_generator(**settings, name=name)
        copy_weights_by_name(pretrained, deep)
        return deep

    return _build_stacked_generator(pretrained, blocks, filters, dtype, name)


def _build_stacked_generator(pretrained: keras.Model, blocks: int, filters: Optional[int],
                             dtype: Optional[str], name: str) -> keras.Model:
    if generator_kind(pretrained) == "stacked":
        raise ValueError(f"{pretrained.name!r} is already a stacked generator (it has "
                         "'refine_*' layers); stack on its first stage instead")
    # A private copy of stage 1 (same layer names, weights copied), so training the deep
    # generator leaves the caller's `pretrained` untouched.
    dtype = _check_dtype(dtype or _pre_tanh_layer(pretrained).dtype_policy.name)
    stage1 = with_dtype(pretrained, dtype)
    pre_tanh = _pre_tanh_layer(stage1).output
    stage1_output = stage1.outputs[0]
    photo = stage1.inputs[0]
    epsilon = next((layer.epsilon for layer in stage1.layers
                    if isinstance(layer, layers.GroupNormalization)), 1e-5)
    if filters is None:
        first_conv = next(layer for layer in stage1.layers
                          if isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)))
        filters = first_conv.filters
    _check_positive(filters, "filters")
    image_size = photo.shape[1]
    check_image_size(image_size, "pretrained input size")

    # Refinement input: the photo and stage 1's translation, (bs, 256, 256, 6).
    x = layers.Concatenate(name="refine_input", dtype=dtype)([photo, stage1_output])

    # c7s1-64, d128, d256: (bs, 64, 64, 256)
    x = _resnet_encoder(x, filters, "refine_", epsilon, dtype)

    # R256 x 3*blocks: (bs, 64, 64, 256) (at least 8x8 since image_size >= 32)
    for block in range(1, 3 * blocks + 1):
        x = _residual_block(x, filters * 4, f"refine_res{block}", epsilon, dtype)

    # Resize-conv ups (no checkerboard in the correction): (bs, 128, 128, 128) (bs, 256, 256, 64)
    for index, width in enumerate((filters * 2, filters), start=1):
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"refine_up{index}_resize",
                                dtype=dtype)(x)
        x = ReflectionPadding2D(1, name=f"refine_up{index}_pad", dtype=dtype)(x)
        x = layers.Conv2D(width, 3, use_bias=False, kernel_initializer=_kernel_init(),
                          name=f"refine_up{index}_conv", dtype=dtype)(x)
        x = _instance_norm(f"refine_up{index}_norm", epsilon, dtype)(x)
        x = layers.ReLU(name=f"refine_up{index}_act", dtype=dtype)(x)

    # Correction: (bs, 256, 256, 3), added to stage 1's pre-tanh through a gate at 0.
    x = ReflectionPadding2D(3, name="refine_out_pad", dtype=dtype)(x)
    correction = layers.Conv2D(3, 7, kernel_initializer=_kernel_init(), name="refine_to_rgb",
                               dtype=dtype)(x)
    x = ReZero(name="refine_gate", dtype=dtype)([pre_tanh, correction])
    outputs = _tanh_output(x, name="refine_tanh")
    return keras.Model(photo, outputs, name=name)


__all__ = [
    "ReflectionPadding2D", "ReZero", "build_unet_generator", "build_resnet_generator",
    "build_generator", "build_patchgan_discriminator", "build_deep_generator",
    "count_conv_layers", "copy_weights_by_name", "with_dtype", "save_float32", "generator_kind", "check_image_size",
    "unet_widths",
]
