"""Model factories: shapes, ranges, validation, the deep generator's start, saving, dtypes.

Tiny models (32-64 px, 4-8 filters) shared through module-scoped fixtures; one optimizer
step is taken eagerly (no tf.function tracing).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from monet_utils import models

SIZE = 32
FILTERS = 8


def _images(size: int, batch: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)).astype("float32")


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    return _images(SIZE)


@pytest.fixture(scope="module")
def unet() -> keras.Model:
    keras.utils.set_random_seed(1)
    return models.build_unet_generator(SIZE, FILTERS)


@pytest.fixture(scope="module")
def resnet() -> keras.Model:
    keras.utils.set_random_seed(2)
    return models.build_resnet_generator(SIZE, FILTERS, residual_blocks=3)


@pytest.fixture(scope="module")
def deep_models(unet, resnet) -> dict:
    """Deep generators on the shared stage-1 models, keyed by a test id."""
    keras.utils.set_random_seed(3)
    return {
        "unet-deepen": (unet, models.build_deep_generator(unet, "deepen")),
        "unet-stack": (unet, models.build_deep_generator(unet, "stack")),
        "resnet-stack": (resnet, models.build_deep_generator(resnet, "stack")),
    }


DEEP_IDS = ["unet-deepen", "unet-stack", "resnet-stack"]


# ---------------------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [32, 64])
def test_generators_map_images_to_images(size):
    x = _images(size)
    for model in (models.build_unet_generator(size, 4),
                  models.build_resnet_generator(size, 4, residual_blocks=2),
                  models.build_resnet_generator(size, 4, residual_blocks=2, resize_conv=True)):
        y = model(x, training=False)
        assert y.shape == x.shape and y.dtype == tf.float32, model.name
        y = np.asarray(y)
        assert np.all(np.abs(y) <= 1.0), model.name
        assert y.std() > 1e-3, f"{model.name}: constant output"
        # Different photos give different outputs (the input reaches the output).
        assert np.abs(y[0] - y[1]).mean() > 1e-4, model.name
        assert model.get_layer("to_rgb").output.shape[-1] == 3


@pytest.mark.parametrize("size", [32, 64])
def test_discriminator_outputs_patch_logits(size):
    x = _images(size)
    model = models.build_patchgan_discriminator(size, 4)
    logits = np.asarray(model(x, training=False))
    # k4 s2 x3 ('same'), then pad-1 + k4 s1 twice: S/8 - 2 patches per side.
    assert logits.shape == (2, size // 8 - 2, size // 8 - 2, 1)
    assert model.outputs[0].dtype == "float32"
    # Logits, not probabilities: nothing squashes them into [0, 1].
    assert model.get_layer("logits").get_config()["activation"] == "linear"


def test_architectures_at_kaggle_size():
    """At 256 px: the tutorial's U-Net depth, the paper's ResNet, a 30x30 PatchGAN."""
    unet = models.build_unet_generator(256, 2)
    assert [unet.get_layer(f"down{i}_conv").filters for i in range(1, 9)] == \
        [2, 4, 8, 16, 16, 16, 16, 16]  # 64-128-256-512x5 scaled by filters/64
    assert unet.get_layer("down8_act").output.shape[1:3] == (1, 1)
    assert [unet.get_layer(f"up{i}_dropout").rate for i in (1, 2, 3)] == [0.5] * 3
    with pytest.raises(ValueError):
        unet.get_layer("up4_dropout")
    assert models.count_conv_layers(unet) == 16  # 8 down + 7 up + to_rgb

    resnet = models.build_resnet_generator(256, 2)
    assert models.count_conv_layers(resnet) == 24  # c7s1, d, d, 9 x R (2), u, u, c7s1-3
    assert resnet.get_layer("res9_add").output.shape[1:] == (64, 64, 8)

    discriminator = models.build_patchgan_discriminator(256, 2)
    assert discriminator.output_shape == (None, 30, 30, 1)


def test_patchgan_receptive_field_is_70_pixels():
    # From the conv stack (instance norm couples all pixels through its statistics, so
    # gradients would not show the patch): r += (k - 1) * jump, jump *= stride.
    model = models.build_patchgan_discriminator(256, 2)
    receptive, jump = 1, 1
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            receptive += (layer.kernel_size[0] - 1) * jump
            jump *= layer.strides[0]
    assert receptive == 70


def test_unet_width_scales_with_filters_and_caps_at_8x():
    assert models.unet_widths(32, 8) == [8, 16, 32, 64, 64]
    assert models.unet_widths(256, 64) == [64, 128, 256, 512, 512, 512, 512, 512]


@pytest.mark.parametrize("bad", [48, 16, 0, -32, 256.0, "256", True])
def test_bad_image_size_is_a_clear_error(bad):
    for factory in (models.build_unet_generator, models.build_resnet_generator,
                    models.build_patchgan_discriminator):
        with pytest.raises(ValueError, match=r"image_size=.*power of two >= 32"):
            factory(image_size=bad, filters=4)


def test_other_bad_arguments_are_clear_errors(unet, resnet):
    with pytest.raises(ValueError, match="filters=0"):
        models.build_unet_generator(32, 0)
    with pytest.raises(ValueError, match="dtype='float64'"):
        models.build_unet_generator(32, 4, dtype="float64")
    with pytest.raises(ValueError, match="kind='vae'"):
        models.build_generator("vae", 32, 4)
    with pytest.raises(ValueError, match="mode='wider'"):
        models.build_deep_generator(unet, "wider")
    with pytest.raises(ValueError, match="deepen.*U-Net.*resnet"):
        models.build_deep_generator(resnet, "deepen")
    with pytest.raises(ValueError, match="blocks=0"):
        models.build_deep_generator(unet, "stack", blocks=0)


def test_build_generator_dispatches(unet):
    built = models.build_generator("unet", SIZE, FILTERS)
    assert [layer.name for layer in built.layers] == [layer.name for layer in unet.layers]
    resnet = models.build_generator("resnet", SIZE, 4, residual_blocks=2, resize_conv=True)
    assert models.generator_kind(resnet) == "resnet"
    assert resnet.get_layer("up1_resize") is not None
    assert models.count_conv_layers(resnet) == 10


def test_dropout_is_active_only_in_training(unet, photos):
    eval_a, eval_b = unet(photos, training=False), unet(photos, training=False)
    np.testing.assert_array_equal(eval_a, eval_b)
    train_a, train_b = unet(photos, training=True), unet(photos, training=True)
    assert np.abs(np.asarray(train_a) - np.asarray(train_b)).max() > 1e-4


def test_instance_norm_normalises_each_image_and_channel(unet):
    layer = unet.get_layer("up2_norm")
    assert layer.epsilon == 1e-5
    norm = layer.__class__.from_config({**layer.get_config(), "groups": -1,
                                            "gamma_initializer": "ones"})
    x = np.random.default_rng(0).normal(3.0, 5.0, (2, 8, 8, 4)).astype("float32")
    x[1] *= 10.0  # another scale for the second image: normalised separately
    y = np.asarray(norm(x))
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-3)


def test_reflection_padding_matches_numpy():
    x = np.arange(2 * 5 * 6 * 3, dtype="float32").reshape(2, 5, 6, 3)
    layer = models.ReflectionPadding2D(2)
    expected = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(np.asarray(layer(x)), expected)
    assert layer.compute_output_shape((None, 5, 6, 3)) == (None, 9, 10, 3)


# ---------------------------------------------------------------------------------------
# The deep generator
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", DEEP_IDS)
def test_deep_generator_starts_as_the_pretrained_function(deep_models, photos, key):
    pretrained, deep = deep_models[key]
    np.testing.assert_allclose(deep(photos, training=False), pretrained(photos, training=False),
                               atol=1e-5, rtol=0)
    assert deep.input_shape == pretrained.input_shape
    assert deep.output_shape == pretrained.output_shape


@pytest.mark.parametrize("key", DEEP_IDS)
def test_deep_generator_is_substantially_deeper(deep_models, key):
    pretrained, deep = deep_models[key]
    assert models.count_conv_layers(deep) >= 1.5 * models.count_conv_layers(pretrained)


def test_deep_generator_depth_at_kaggle_size():
    unet = models.build_unet_generator(256, 2)
    deepen = models.build_deep_generator(unet, "deepen")
    stack = models.build_deep_generator(unet, "stack")
    resnet_stack = models.build_deep_generator(models.build_resnet_generator(256, 2), "stack")
    assert (models.count_conv_layers(deepen), models.count_conv_layers(stack),
            models.count_conv_layers(resnet_stack)) == (28, 28, 36)
    # New blocks only above 2x2 (instance norm over <= 4 pixels has no useful gradient):
    # at 4, 8, 16, 32, 64, 128 px.
    gates = [layer for layer in deepen.layers if isinstance(layer, models.ReZero)]
    assert sorted(gate.output.shape[1] for gate in gates) == [4, 8, 16, 32, 64, 128]


def test_deepen_twice_adds_blocks_on_top(deep_models, photos):
    unet, deepened = deep_models["unet-deepen"]
    again = models.build_deep_generator(deepened, "deepen")
    assert models.count_conv_layers(again) == models.count_conv_layers(deepened) + 6
    assert again.get_layer("up3_res2_gate") is not None
    np.testing.assert_allclose(again(photos, training=False), unet(photos, training=False),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("key", DEEP_IDS)
def test_deep_generator_copies_weights_by_name(deep_models, key):
    pretrained, deep = deep_models[key]
    weighted = [layer for layer in pretrained.layers if layer.weights]
    assert len(weighted) >= 8
    for layer in weighted:
        copy = deep.get_layer(layer.name)
        assert copy is not layer, "the deep generator must not share stage 1's layers"
        for ours, theirs in zip(copy.get_weights(), layer.get_weights(), strict=True):
            np.testing.assert_array_equal(ours, theirs, err_msg=layer.name)


def _one_adam_step(model, photos, target, variables=None):
    optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    variables = model.trainable_variables if variables is None else variables
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.abs(model(photos, training=True) - target))
    optimizer.apply(tape.gradient(loss, variables), variables)


def _drift(model, photos, reference) -> float:
    return float(np.abs(np.asarray(model(photos, training=False)) - reference).mean())


def _new_variables(deep, pretrained):
    old = {layer.name for layer in pretrained.layers}
    return [v for layer in deep.layers if layer.name not in old for v in layer.trainable_weights]


@pytest.mark.parametrize("mode", ["deepen", "stack"])
def test_deep_generator_stays_close_after_one_step(unet, photos, mode):
    """One Adam step moves the deep generator about as much as it moves stage 1 alone."""
    keras.utils.set_random_seed(4)
    target = _images(SIZE, seed=5)
    before = np.asarray(unet(photos, training=False))
    pretrained_weights = unet.get_weights()

    stage1 = models.with_dtype(unet, "float32")  # a copy to train as the control
    _one_adam_step(stage1, photos, target)
    control = _drift(stage1, photos, before)

    deep = models.build_deep_generator(unet, mode)
    _one_adam_step(deep, photos, target)
    drift = _drift(deep, photos, before)
    assert 0 < drift <= 1.5 * control, (drift, control)
    gates = [layer.alpha for layer in deep.layers if isinstance(layer, models.ReZero)]
    assert gates and all(float(alpha) != 0.0 for alpha in gates), "gates did not move"
    for ours, theirs in zip(unet.get_weights(), pretrained_weights, strict=True):
        np.testing.assert_array_equal(ours, theirs)  # `pretrained` itself is untouched

    # The new blocks alone (stage-1 weights held): a small but real change.
    fresh = models.build_deep_generator(unet, mode)
    _one_adam_step(fresh, photos, target, _new_variables(fresh, unet))
    assert 0 < _drift(fresh, photos, before) < 0.1 * control


def test_zero_conv_before_instance_norm_would_fail_the_drift_bound(unet, photos):
    """The counter-example the gates avoid: zero last conv, open gate, then instance norm."""
    keras.utils.set_random_seed(4)
    target = _images(SIZE, seed=5)
    before = np.asarray(unet(photos, training=False))
    naive = models.build_deep_generator(unet, "deepen")
    for layer in naive.layers:
        if isinstance(layer, models.ReZero):
            layer.alpha.assign(1.0)
        elif layer.name.endswith("_conv2"):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    assert _drift(naive, photos, before) < 1e-6  # identical at step 0 ...
    _one_adam_step(naive, photos, target, _new_variables(naive, unet))
    stage1 = models.with_dtype(unet, "float32")
    _one_adam_step(stage1, photos, target)
    # ... but one step on the new blocks alone moves it more than a whole stage-1 step.
    assert _drift(naive, photos, before) > _drift(stage1, photos, before)


# ---------------------------------------------------------------------------------------
# Saving and dtypes
# ---------------------------------------------------------------------------------------
def test_models_reload_in_safe_mode(deep_models, photos, tmp_path):
    to_save = [deep for _, deep in deep_models.values()]
    to_save.append(models.build_resnet_generator(SIZE, 4, residual_blocks=1, resize_conv=True))
    to_save.append(models.build_patchgan_discriminator(SIZE, 4))
    for index, model in enumerate(to_save):
        path = tmp_path / f"model{index}.keras"
        model.save(path)
        loaded = keras.models.load_model(path)  # safe_mode=True by default
        np.testing.assert_array_equal(loaded(photos, training=False), model(photos, training=False),
                                      err_msg=model.name)
        assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
        assert models.count_conv_layers(loaded) == models.count_conv_layers(model)


def test_mixed_bfloat16_models_output_float32(photos, unet):
    generator = models.build_unet_generator(SIZE, FILTERS, dtype="mixed_bfloat16")
    discriminator = models.build_patchgan_discriminator(SIZE, 4, dtype="mixed_bfloat16")
    stack = models.build_deep_generator(unet, "stack", dtype="mixed_bfloat16")
    for model in (generator, discriminator, stack):
        assert model(photos, training=False).dtype == tf.float32, model.name
        assert all(v.dtype == "float32" for v in model.weights), "variables stay float32"
    assert generator.get_layer("down2_conv").compute_dtype == "bfloat16"
    assert stack.get_layer("refine_res1_conv1").compute_dtype == "bfloat16"
    # bf16 stage 2 on a float32 stage 1 still starts (up to bf16 rounding) as stage 1.
    np.testing.assert_allclose(stack(photos, training=False), unet(photos, training=False),
                               atol=0.05)
    # Back to float32 (what gets saved): same weights, float32 compute everywhere.
    exported = models.with_dtype(generator, "float32", name="exported")
    assert exported.name == "exported"
    assert {layer.compute_dtype for layer in exported.layers if layer.weights} == {"float32"}
    for ours, theirs in zip(exported.get_weights(), generator.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(exported(photos, training=False),
                               generator(photos, training=False), atol=0.05)
    assert keras.config.dtype_policy().name == "float32", "a global policy leaked"


def test_count_conv_layers_counts_nested_models(unet):
    inputs = keras.Input((SIZE, SIZE, 3))
    outer = keras.Model(inputs, keras.layers.Conv2D(2, 1)(unet(inputs)))
    assert models.count_conv_layers(outer) == models.count_conv_layers(unet) + 1
