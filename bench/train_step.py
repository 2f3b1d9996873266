"""Benchmark: our CycleGAN training step against the Kaggle tutorial's, side by side.

The reference is the tutorial's `CycleGan(keras.Model).train_step` written its way: one
persistent tape, four gradient calls (each generator's total loss holds the whole cycle
loss), four Adam optimizers, G and F each called three times (translate, cycle, identity)
and each discriminator twice (real, fake). Ours (`monet_utils.cyclegan.CycleGAN`): summed
generator loss, two gradient calls, two optimizers, each generator called twice and each
discriminator once (batched calls). Both get the same architecture (the project's U-Net
and PatchGAN), the same initial weights and the same data, and train with `fit()`.

Printed for each: time to the first step in `fit()` (tracing, graph optimisation and one
step, after a warm-up at 32 px so one-time process costs fall on neither), the time to
trace the step alone (Python side) and the op count of the traced step, and steady-state
steps/s. Steady state alternates short `fit()` runs of the
two models, so a busy shared CPU affects both alike; per-step times come from a callback
(fit's own overhead excluded) and the median is reported.

    .venv/bin/python bench/train_step.py [--image-size 128] [--filters 32] [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from monet_utils import cyclegan, models  # noqa: E402

LAMBDA = 10.0


class TutorialCycleGan(keras.Model):
    """The Kaggle "Monet CycleGAN Tutorial" step (Keras 3 spelling), as the reference."""

    def __init__(self, monet_generator, photo_generator, monet_discriminator, photo_discriminator):
        super().__init__()
        self.m_gen, self.p_gen = monet_generator, photo_generator
        self.m_disc, self.p_disc = monet_discriminator, photo_discriminator
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.built = True

    def compile(self, **kwargs):
        adam = lambda: keras.optimizers.Adam(2e-4, beta_1=0.5)  # noqa: E731
        self.m_gen_optimizer, self.p_gen_optimizer = adam(), adam()
        self.m_disc_optimizer, self.p_disc_optimizer = adam(), adam()
        super().compile(**kwargs)

    def discriminator_loss(self, real, generated):
        real_loss = self.bce(tf.ones_like(real), real)
        generated_loss = self.bce(tf.zeros_like(generated), generated)
        return (real_loss + generated_loss) * 0.5

    def generator_loss(self, generated):
        return self.bce(tf.ones_like(generated), generated)

    @staticmethod
    def calc_cycle_loss(real_image, cycled_image):
        return LAMBDA * tf.reduce_mean(tf.abs(real_image - cycled_image))

    @staticmethod
    def identity_loss(real_image, same_image):
        return LAMBDA * 0.5 * tf.reduce_mean(tf.abs(real_image - same_image))

    def train_step(self, batch_data):
        real_monet, real_photo = batch_data
        with tf.GradientTape(persistent=True) as tape:
            # photo to monet back to photo
            fake_monet = self.m_gen(real_photo, training=True)
            cycled_photo = self.p_gen(fake_monet, training=True)
            # monet to photo back to monet
            fake_photo = self.p_gen(real_monet, training=True)
            cycled_monet = self.m_gen(fake_photo, training=True)
            # generating itself
            same_monet = self.m_gen(real_monet, training=True)
            same_photo = self.p_gen(real_photo, training=True)
            # discriminator used to check, inputing real images
            disc_real_monet = self.m_disc(real_monet, training=True)
            disc_real_photo = self.p_disc(real_photo, training=True)
            # discriminator used to check, inputing fake images
            disc_fake_monet = self.m_disc(fake_monet, training=True)
            disc_fake_photo = self.p_disc(fake_photo, training=True)
            # evaluates generator loss
            monet_gen_loss = self.generator_loss(disc_fake_monet)
            photo_gen_loss = self.generator_loss(disc_fake_photo)
            # evaluates total cycle consistency loss
            total_cycle_loss = (self.calc_cycle_loss(real_monet, cycled_monet)
                                + self.calc_cycle_loss(real_photo, cycled_photo))
            # evaluates total generator loss
            total_monet_gen_loss = monet_gen_loss + total_cycle_loss + self.identity_loss(real_monet, same_monet)
            total_photo_gen_loss = photo_gen_loss + total_cycle_loss + self.identity_loss(real_photo, same_photo)
            # evaluates discriminator loss
            monet_disc_loss = self.discriminator_loss(disc_real_monet, disc_fake_monet)
            photo_disc_loss = self.discriminator_loss(disc_real_photo, disc_fake_photo)
        # Calculate the gradients for generator and discriminator
        monet_generator_gradients = tape.gradient(total_monet_gen_loss, self.m_gen.trainable_variables)
        photo_generator_gradients = tape.gradient(total_photo_gen_loss, self.p_gen.trainable_variables)
        monet_discriminator_gradients = tape.gradient(monet_disc_loss, self.m_disc.trainable_variables)
        photo_discriminator_gradients = tape.gradient(photo_disc_loss, self.p_disc.trainable_variables)
        # Apply the gradients to the optimizer
        self.m_gen_optimizer.apply_gradients(zip(monet_generator_gradients, self.m_gen.trainable_variables))
        self.p_gen_optimizer.apply_gradients(zip(photo_generator_gradients, self.p_gen.trainable_variables))
        self.m_disc_optimizer.apply_gradients(zip(monet_discriminator_gradients, self.m_disc.trainable_variables))
        self.p_disc_optimizer.apply_gradients(zip(photo_discriminator_gradients, self.p_disc.trainable_variables))
        return {"monet_gen_loss": total_monet_gen_loss, "photo_gen_loss": total_photo_gen_loss,
                "monet_disc_loss": monet_disc_loss, "photo_disc_loss": photo_disc_loss}


class StepTimes(keras.callbacks.Callback):
    """Wall time of each training batch (fit's per-epoch overhead excluded)."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []
        self._start = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        # The logs are tensors; reading one waits for the step to finish.
        float(next(iter(logs.values())))
        self.times.append(time.perf_counter() - self._start)


def networks(image_size: int, filters: int, disc_filters: int, seed: int) -> list[keras.Model]:
    keras.utils.set_random_seed(seed)
    return [models.build_unet_generator(image_size, filters, name="G"),
            models.build_unet_generator(image_size, filters, name="F"),
            models.build_patchgan_discriminator(image_size, disc_filters, name="D_Y"),
            models.build_patchgan_discriminator(image_size, disc_filters, name="D_X")]


def both_models(image_size: int, filters: int, disc_filters: int) -> dict[str, keras.Model]:
    """Ours and the reference, compiled, with the same initial weights."""
    base = networks(image_size, filters, disc_filters, seed=0)
    copies = networks(image_size, filters, disc_filters, seed=1)
    for target, source in zip(copies, base):
        target.set_weights(source.get_weights())
    ours = cyclegan.CycleGAN(*base)
    ours.compile(jit_compile=False)
    reference = TutorialCycleGan(*copies)
    reference.compile(jit_compile=False)
    return {"ours": ours, "reference": reference}


def random_data(image_size: int, batch_size: int) -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    shape = (batch_size, image_size, image_size, 3)
    batch = (rng.uniform(-1, 1, shape).astype("float32"), rng.uniform(-1, 1, shape).astype("float32"))
    return tf.data.Dataset.from_tensors(batch).repeat()


def trace(model: keras.Model, dataset: tf.data.Dataset) -> tuple[float, int]:
    """Seconds to trace `train_step` into a graph (Python side only), and its op count."""
    spec = dataset.element_spec
    start = time.perf_counter()
    graph = tf.function(model.train_step).get_concrete_function(spec).graph
    seconds = time.perf_counter() - start
    return seconds, len(graph.get_operations())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--filters", type=int, default=32, help="U-Net width (64 in the tutorial)")
    parser.add_argument("--disc-filters", type=int, default=32, help="PatchGAN width (64 in the tutorial)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=4, help="alternating fit() runs per model")
    parser.add_argument("--steps", type=int, default=3, help="steps per fit() run")
    args = parser.parse_args(argv)

    print(f"settings: U-Net generators + PatchGAN discriminators, {args.image_size}x{args.image_size} px, "
          f"generator filters {args.filters}, discriminator filters {args.disc_filters}, batch "
          f"{args.batch_size}, jit_compile off (CPU), {args.rounds} x {args.steps} timed steps each; "
          f"TF {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs", flush=True)

    # Warm-up at 32 px (not reported): TensorFlow's and Keras' one-time costs of the first
    # trace in a process would otherwise fall on whichever model goes first.
    warm = random_data(32, 1)
    for model in both_models(32, 2, 2).values():
        model.fit(warm, steps_per_epoch=1, verbose=0, shuffle=False)

    dataset = random_data(args.image_size, args.batch_size)
    compiled = both_models(args.image_size, args.filters, args.disc_filters)
    params = sum(int(np.prod(v.shape)) for v in compiled["ours"].trainable_variables)
    print(f"trainable parameters (4 networks): {params:,}", flush=True)

    results = {}
    for name, model in compiled.items():
        # As a notebook runs it: the first fit() step traces, optimises the graph, runs one step
        # (the tutorial's four optimizers build their slots inside that first trace).
        start = time.perf_counter()
        model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
        first_step = time.perf_counter() - start
        trace_seconds, ops = trace(model, dataset)
        results[name] = {"trace": trace_seconds, "ops": ops, "first": first_step, "steps": []}
        print(f"{name:>9}: first fit() step {first_step:.1f} s; train_step traced in "
              f"{trace_seconds:.1f} s, {ops:,} ops", flush=True)

    for _ in range(args.rounds):
        for name, model in compiled.items():
            timer = StepTimes()
            model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0, callbacks=[timer],
                      shuffle=False)
            results[name]["steps"].extend(timer.times)

    print(f"\n{'':>10}{'steps/s':>10}{'s/step':>10}{'first step s':>14}{'trace s':>10}{'ops':>10}")
    for name in ("ours", "reference"):
        r = results[name]
        median = statistics.median(r["steps"])
        r["rate"] = 1.0 / median
        print(f"{name:>10}{r['rate']:>10.3f}{median:>10.3f}{r['first']:>14.1f}{r['trace']:>10.1f}{r['ops']:>10,}")
    ours, ref = results["ours"], results["reference"]
    print(f"\nours / reference: {ours['rate'] / ref['rate']:.2f}x the steps/s, "
          f"first step {ref['first'] / ours['first']:.2f}x sooner, "
          f"tracing {ref['trace'] / ours['trace']:.2f}x faster, {ours['ops'] / ref['ops']:.2f}x the ops")
    return 0 if ours["rate"] > ref["rate"] else 1


if __name__ == "__main__":
    sys.exit(main())
