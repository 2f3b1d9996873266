"""`train(config)`: builds the CycleGAN, fits it, checkpoints, resumes, writes the run dir.

Run directory (ARCHITECTURE.md):

    config.json         the TrainConfig used + library versions and device
    history.json        one object per completed epoch: {"epoch": n, <losses>, "step", "seconds"}
    checkpoints/        resumable state, at most `checkpoints_to_keep` (ckpt-<epoch>)
    samples/            epoch_NNN.png: fixed photos and paintings, translated
    generator_monet.keras  generator_photo.keras  discriminator_monet.keras
    discriminator_photo.keras  loss_curves.png   (written at the end)

Resume: re-running the same command continues from the last checkpoint. Each epoch ends
with one checkpoint (tf.train.CheckpointManager: data files first, then an atomic rename
of the `checkpoint` index) holding the four networks, both optimizers (iteration count,
Adam moments), the seed states, the epoch and the history; history.json is rewritten
from it. A SIGKILL at any moment therefore leaves either the previous or the new
checkpoint, and the resumed run repeats or loses no epoch. The data stream is a pure
function of (seed, step) (`data.unpaired(start_step=...)`), so it continues where it was.
The image pools are checkpointed on one replica; with several replicas each keeps its own
pool, which is not saved (it refills in `pool_size` steps).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
import time
from typing import Any, Optional

import keras
import numpy as np
import tensorflow as tf

from . import cyclegan, data, models, plots, runtime
from .config import TrainConfig, write_json_atomic

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
CHECKPOINT_DIR = "checkpoints"
SAMPLES_DIR = "samples"
LOSS_CURVES_FILE = "loss_curves.png"
# File stem -> CycleGAN attribute. Stage 2 (--init-from) reads the same names.
MODEL_FILES = {
    "generator_monet": "monet_generator",
    "generator_photo": "photo_generator",
    "discriminator_monet": "monet_discriminator",
    "discriminator_photo": "photo_discriminator",
}
# Fields that may differ when a run is resumed (budget, paths, outputs); any other
# difference means a different experiment and is refused.
RESUMABLE_CHANGES = frozenset({
    "epochs", "time_budget", "resume_from", "data_dir", "output_dir", "init_from",
    "sample_every", "checkpoints_to_keep", "mifid_every", "mifid_images", "mifid_weights",
    "jit_compile", "steps_per_execution",
})
SAMPLE_IMAGES = 4
# Checkpoint files are read and written by this host: on an older TPU node the TPU worker
# cannot reach a local path such as /kaggle/working.
CHECKPOINT_IO = tf.train.CheckpointOptions(experimental_io_device="/job:localhost")


class RunError(ValueError):
    """The run directory, `init_from` or `resume_from` cannot be used; the message says why."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or Inf; training stopped and the last good checkpoint was kept."""


# --------------------------------------------------------------------------- public API
def train(config: TrainConfig, verbose: int | str = "auto",
          strategy: Optional[tf.distribute.Strategy] = None) -> str:
    """Trains a CycleGAN as `config` says and returns the run directory.

    Re-running with the same config continues an interrupted run from its last checkpoint
    (epochs, optimizer state, seeds and data position); `config.epochs` may be raised to
    train longer. Stops early, cleanly and saved, when `config.time_budget` would be
    exceeded.

    Args:
        config: the run's settings (`config.output_dir` is the run directory).
        verbose: Keras progress output (1 = a progress bar per epoch, 2 = a line per epoch,
            0 = silent).
        strategy: distribution strategy; default `runtime.strategy("auto")`.

    Raises:
        data.DataError: missing or broken images.
        RunError: the output directory holds a different run, or `init_from` /
            `resume_from` is unusable.
        TrainingDiverged: a loss became NaN/Inf (the last good checkpoint stays).
    """
    started = time.monotonic()
    quiet = verbose == 0
    run_dir = os.path.abspath(config.output_dir)
    _prepare_run_dir(config, run_dir, quiet)
    dist = strategy or runtime.strategy("auto", verbose=not quiet)
    if config.batch_size % dist.num_replicas_in_sync:
        raise RunError(f"batch_size={config.batch_size} must be a multiple of the "
                       f"{dist.num_replicas_in_sync} replicas (the global batch is split evenly)")
    runtime.set_seeds(config.seed)

    monet = data.load_domain(config.data_dir, "monet", config.data_source, image_size=config.image_size)
    photo = data.load_domain(config.data_dir, "photo", config.data_source, image_size=config.image_size)
    steps_per_epoch = epoch_steps(config, int(monet.cardinality()))

    with dist.scope():
        model = build_cyclegan(config, dist, steps_per_epoch)
    state = RunState(run_dir, model, config.checkpoints_to_keep)
    start_epoch, history = state.restore()
    if start_epoch and not quiet:
        print(f"[monet_utils] resuming {run_dir} after epoch {start_epoch} "
              f"(step {int(model.generator_optimizer.iterations.numpy())})", flush=True)
    config.to_json(os.path.join(run_dir, CONFIG_FILE), extra={
        **runtime.environment_info(), "replicas": dist.num_replicas_in_sync,
        "steps_per_epoch": steps_per_epoch, "jit_compile": bool(model.jit_compile),
        "compute_dtype": runtime.compute_dtype(config.mixed_precision, dist),
        "resumed_after_epoch": start_epoch})
    write_json_atomic(os.path.join(run_dir, HISTORY_FILE), history)

    # The data stream continues at the restored optimizer step (a pure function of seed and step).
    augment = config.augmentations
    dataset = data.unpaired(monet, photo, config.batch_size, config.seed, augment_monet=augment,
                            augment_photo=augment if config.augment_photos else (), cache=("monet",),
                            start_step=int(model.generator_optimizer.iterations.numpy()))
    budget = TimeBudget(config.time_budget, started, steps_per_epoch, quiet) if config.time_budget else None
    callbacks: list[keras.callbacks.Callback] = [StopOnNonFinite(state)]
    if config.mifid_every:
        callbacks.append(_mifid_callback(config, photo, monet, run_dir, verbose=not quiet))
    if config.sample_every:
        callbacks.append(SampleGrid(photo, monet, config.sample_every,
                                    os.path.join(run_dir, SAMPLES_DIR), dist.num_replicas_in_sync))
    # After the callbacks that add to the logs (MiFID), so their values reach history.json.
    callbacks.append(EpochCheckpoint(state, steps_per_epoch, history, budget))
    if budget:
        callbacks.append(budget)

    if start_epoch < config.epochs:
        model.fit(dataset, epochs=config.epochs, initial_epoch=start_epoch,
                  steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose,
                  shuffle=False)
    elif not quiet:
        print(f"[monet_utils] {run_dir}: all {config.epochs} epochs already done", flush=True)

    if history and int(model.generator_optimizer.iterations.numpy()) != history[-1]["step"]:
        # Stopped mid-epoch (time budget): save the last completed epoch, the state a resumed
        # run continues from, so the .keras files never run ahead of history.json.
        state.restore()
    save_models(model, run_dir)
    if history:
        figure = plots.loss_curves(history, keys=list(cyclegan.LOSS_NAMES),
                                   title=os.path.basename(run_dir),
                                   path=os.path.join(run_dir, LOSS_CURVES_FILE))
        import matplotlib.pyplot as plt

        plt.close(figure)
    if not quiet:
        done = history[-1]["epoch"] if history else 0
        print(f"[monet_utils] {run_dir}: {done}/{config.epochs} epochs, "
              f"{time.monotonic() - started:.0f} s", flush=True)
    return run_dir


def epoch_steps(config: TrainConfig, monet_count: int) -> int:
    """Steps per epoch: as configured, or one pass over the paintings (ceil(#monet / batch)).

    A multiple of `steps_per_execution` (Keras runs whole executions, so an epoch of 3
    steps at 2 per execution would silently be 4): a derived count is rounded up, a
    configured one must already be a multiple.
    """
    chunk = config.steps_per_execution
    if config.steps_per_epoch:
        if config.steps_per_epoch % chunk:
            raise RunError(f"steps_per_epoch={config.steps_per_epoch} must be a multiple of "
                           f"steps_per_execution={chunk}")
        return config.steps_per_epoch
    return math.ceil(math.ceil(monet_count / config.batch_size) / chunk) * chunk


def build_cyclegan(config: TrainConfig, strategy: tf.distribute.Strategy,
                   steps_per_epoch: int) -> cyclegan.CycleGAN:
    """The compiled CycleGAN for `config` (call inside `strategy.scope()`).

    Stage 1 builds fresh networks; `config.init_from` starts from a trained run's four
    networks, and with `generator="deep"` wraps its generators into deep ones
    (`models.build_deep_generator`; discriminators unchanged).
    """
    dtype = runtime.compute_dtype(config.mixed_precision, strategy)
    if config.init_from:
        networks = load_run_models(config.init_from, config.image_size)
        kind = models.generator_kind(networks["generator_monet"])
        # Training a run's networks on ("the honest control" of stage 2) keeps them as they
        # are; a stage-2 (stacked or deepened) generator is trained on as it is too.
        if config.generator != "deep" and kind in ("unet", "resnet") and kind != config.generator:
            raise RunError(f"init_from={config.init_from!r} holds {kind} generators, not "
                           f"{config.generator}: use --generator {kind} to train them on, or "
                           "--generator deep to deepen them")
        if config.generator == "deep":
            for stem in ("generator_monet", "generator_photo"):
                try:
                    networks[stem] = models.build_deep_generator(
                        networks[stem], mode=config.deep_mode, blocks=config.deep_blocks, name=stem)
                except ValueError as error:  # e.g. "deepen" on a ResNet: name the run and the way out
                    raise RunError(f"init_from={config.init_from!r}: {error}") from None
        if dtype != "float32":
            networks = {stem: models.with_dtype(model, dtype) for stem, model in networks.items()}
    else:
        networks = {}
        for stem in ("generator_monet", "generator_photo"):
            networks[stem] = models.build_generator(
                config.generator, config.image_size, config.filters,
                residual_blocks=config.resnet_blocks, resize_conv=config.resize_conv,
                norm_epsilon=config.norm_epsilon, dtype=dtype, name=stem)
        for stem in ("discriminator_monet", "discriminator_photo"):
            networks[stem] = models.build_patchgan_discriminator(
                config.image_size, config.discriminator_filters, norm_epsilon=config.norm_epsilon,
                dtype=dtype, name=stem)
    model = cyclegan.CycleGAN(
        **{MODEL_FILES[stem]: network for stem, network in networks.items()},
        gan_loss=config.gan_loss, cycle_weight=config.cycle_weight,
        identity_weight=config.identity_weight, pool_size=config.pool_size,
        label_smoothing=config.label_smoothing, diff_augment=config.diff_augmentations,
        seed=config.seed)
    rate = cyclegan.learning_rate(config.learning_rate, config.lr_schedule,
                                  config.epochs * steps_per_epoch, config.decay_start)
    model.compile(learning_rate=rate, beta_1=config.beta_1, jit_compile=config.jit_compile,
                  steps_per_execution=config.steps_per_execution)
    return model


def load_run_models(run_dir: str, image_size: Optional[int] = None) -> dict[str, keras.Model]:
    """The four networks a finished run saved, loaded in safe mode, by file stem.

    Raises:
        RunError: a file is missing or the run's image size is not `image_size`.
    """
    missing = [f"{stem}.keras" for stem in MODEL_FILES
               if not os.path.isfile(os.path.join(run_dir, f"{stem}.keras"))]
    if missing:
        raise RunError(f"init_from={run_dir!r}: missing {', '.join(missing)} (a run writes them "
                       "when it finishes; train stage 1 to the end first)")
    networks = {stem: keras.models.load_model(os.path.join(run_dir, f"{stem}.keras"), compile=False)
                for stem in MODEL_FILES}
    found = networks["generator_monet"].input_shape[1]
    if image_size is not None and found != image_size:
        raise RunError(f"init_from={run_dir!r} was trained at image_size={found}, this run uses "
                       f"image_size={image_size}; use --image-size {found}")
    return networks


def save_models(model: cyclegan.CycleGAN, run_dir: str) -> list[str]:
    """Saves the four networks as float32 `.keras` files (atomically); returns the paths."""
    return [models.save_float32(getattr(model, attribute), os.path.join(run_dir, f"{stem}.keras"))
            for stem, attribute in MODEL_FILES.items()]


# --------------------------------------------------------------------------- run state
class RunState:
    """The run's checkpoint: networks, optimizers, seed states, epoch and history."""

    def __init__(self, run_dir: str, model: cyclegan.CycleGAN, keep: int):
        self.run_dir = run_dir
        self.model = model
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.history_json = tf.Variable("[]", dtype=tf.string, trainable=False, name="history")
        # The image pools (one replica): without them a resumed run with --pool-size would
        # show D other old fakes than an uninterrupted one. Per-replica pools are not saved.
        pools = {}
        if model.distribute_strategy.num_replicas_in_sync == 1:
            for name, pool in (("monet_pool", model.monet_pool), ("photo_pool", model.photo_pool)):
                if pool is not None:
                    pools.update({f"{name}_images": pool.images, f"{name}_count": pool.count})
        self.checkpoint = tf.train.Checkpoint(**pools,
            monet_generator=model.monet_generator, photo_generator=model.photo_generator,
            monet_discriminator=model.monet_discriminator,
            photo_discriminator=model.photo_discriminator,
            generator_optimizer=model.generator_optimizer,
            discriminator_optimizer=model.discriminator_optimizer,
            seed=model.seed_generator.state,
            # Dropout masks' seed states (Keras keeps them out of the models' checkpoints).
            dropout_seeds=list(model.dropout_seed_states()),
            epoch=self.epoch, history=self.history_json)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, os.path.join(run_dir, CHECKPOINT_DIR), max_to_keep=keep,
            checkpoint_name="ckpt")

    @property
    def latest(self) -> Optional[str]:
        return self.manager.latest_checkpoint

    def restore(self) -> tuple[int, list[dict[str, Any]]]:
        """Restores the latest checkpoint if any; returns (completed epochs, history)."""
        if not self.latest:
            return 0, []
        self.checkpoint.restore(self.latest, options=CHECKPOINT_IO).assert_existing_objects_matched()
        history = json.loads(self.history_json.numpy().decode("utf-8"))
        return int(self.epoch.numpy()), history

    def save(self, epoch: int, history: list[dict[str, Any]]) -> str:
        """Writes the checkpoint for a completed epoch, then history.json from it."""
        self.epoch.assign(epoch)
        self.history_json.assign(json.dumps(history))
        path = self.manager.save(checkpoint_number=epoch, options=CHECKPOINT_IO)
        write_json_atomic(os.path.join(self.run_dir, HISTORY_FILE), history)
        return path


def _prepare_run_dir(config: TrainConfig, run_dir: str, quiet: bool) -> None:
    """Creates the run dir, copies `resume_from` in, and refuses to mix two runs."""
    config_path = os.path.join(run_dir, CONFIG_FILE)
    if os.path.isdir(run_dir) and os.listdir(run_dir) and not os.path.isfile(config_path):
        raise RunError(f"output_dir={config.output_dir!r} is not empty and holds no {CONFIG_FILE}: "
                       "not a run directory; choose a new --output-dir")
    has_checkpoint = tf.train.latest_checkpoint(os.path.join(run_dir, CHECKPOINT_DIR)) is not None
    if config.resume_from and not has_checkpoint:
        source = os.path.abspath(config.resume_from)
        if tf.train.latest_checkpoint(os.path.join(source, CHECKPOINT_DIR)) is None:
            raise RunError(f"resume_from={config.resume_from!r}: no checkpoint in "
                           f"{os.path.join(source, CHECKPOINT_DIR)} (expected a run directory)")
        if source != run_dir:
            copy_run(source, run_dir)
            has_checkpoint = True
            if not quiet:
                print(f"[monet_utils] copied {source} to {run_dir}", flush=True)
    elif config.resume_from and not quiet:
        print(f"[monet_utils] {run_dir} has its own checkpoint; resume_from is not copied", flush=True)

    if has_checkpoint and os.path.isfile(config_path):
        stored = TrainConfig.from_json(config_path).to_dict()
        wanted = config.to_dict()
        changed = [f"{name}: {stored[name]!r} (stored) vs {wanted[name]!r} (now)"
                   for name in wanted if name not in RESUMABLE_CHANGES and stored.get(name) != wanted[name]]
        if changed:
            raise RunError(f"{run_dir} holds a run with other settings; use a new --output-dir or "
                           "the stored settings to resume. Differences: " + "; ".join(changed))
    os.makedirs(run_dir, exist_ok=True)


def copy_run(source: str, target: str) -> None:
    """Copies a (possibly read-only, e.g. Kaggle input) run dir to `target`, writable.

    The copy is made beside `target` and renamed into place, so an interrupted copy never
    leaves a checkpoint index without its data files. `target` may exist only as a run
    that has no checkpoint yet (it is replaced).
    """
    target = os.path.abspath(target)
    staging = f"{target}.copying"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    for root, dirs, files in os.walk(staging):
        for name in dirs + files:
            path = os.path.join(root, name)
            os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)
    os.chmod(staging, os.stat(staging).st_mode | stat.S_IWUSR)
    if os.path.isdir(target):
        shutil.rmtree(target)
    os.replace(staging, target)


# --------------------------------------------------------------------------- callbacks
class StopOnNonFinite(keras.callbacks.Callback):
    """Raises `TrainingDiverged` as soon as a loss is NaN or Inf (nothing more is saved)."""

    def __init__(self, state: RunState):
        super().__init__()
        self.state = state
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = {key: float(value) for key, value in (logs or {}).items()
               if key in cyclegan.LOSS_NAMES and not math.isfinite(float(value))}
        if bad:
            latest = self.state.latest
            kept = (f"the last good checkpoint {os.path.relpath(latest, self.state.run_dir)} is kept"
                    if latest else "no checkpoint was written yet")
            raise TrainingDiverged(
                f"non-finite loss in epoch {self.epoch + 1}, step {batch + 1}: "
                + ", ".join(f"{key}={value}" for key, value in bad.items())
                + f"; training stopped, {kept} in {self.state.run_dir}. Try a lower "
                  "--learning-rate, or check the data.")


class EpochCheckpoint(keras.callbacks.Callback):
    """At each completed epoch: history entry, checkpoint, history.json (in that order)."""

    def __init__(self, state: RunState, steps_per_epoch: int, history: list[dict[str, Any]],
                 budget: Optional["TimeBudget"] = None):
        super().__init__()
        self.state = state
        self.steps_per_epoch = steps_per_epoch
        self.history = history
        self.budget = budget
        self.steps = 0
        self.epoch_started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.steps = 0
        self.epoch_started = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        self.steps = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        if self.steps < self.steps_per_epoch:
            return  # stopped mid-epoch (time budget): not a completed epoch, not checkpointed
        entry = {"epoch": epoch + 1}
        for key, value in (logs or {}).items():
            entry[key] = _plain(value)
        entry["step"] = int(self.model.generator_optimizer.iterations.numpy())
        entry["seconds"] = round(time.monotonic() - self.epoch_started, 3)
        self.history.append(entry)
        saving = time.monotonic()
        self.state.save(epoch + 1, self.history)
        if self.budget:
            self.budget.save_seconds = max(self.budget.save_seconds, time.monotonic() - saving)


class _Longest:
    """The longest duration seen, ignoring the first (tracing) once others are known."""

    def __init__(self):
        self.first: Optional[float] = None
        self.rest = 0.0

    def add(self, seconds: float) -> float:
        if self.first is None:
            self.first = seconds
        else:
            self.rest = max(self.rest, seconds)
        return self.rest or self.first


class TimeBudget(keras.callbacks.Callback):
    """Stops training so that the run ends, saved, before `seconds` after `started`.

    At an epoch end it stops if another epoch, as long as the longest so far, would not
    fit; mid-epoch (an epoch longer than the budget) it stops before a step would overrun.
    The first step and epoch of a fit, which include tracing, count only until others
    are measured. A reserve of twice the longest checkpoint save is kept for the final
    saving.
    """

    def __init__(self, seconds: float, started: float, steps_per_epoch: int, quiet: bool = False):
        super().__init__()
        self.deadline = started + seconds
        self.steps_per_epoch = steps_per_epoch
        self.quiet = quiet
        self.save_seconds = 1.0
        self.step_time, self.epoch_time = _Longest(), _Longest()
        self.epoch_started = self.step_started = 0.0

    def _reserve(self) -> float:
        return 2.0 * self.save_seconds + 1.0

    def _stop(self, why: str) -> None:
        self.model.stop_training = True
        if not self.quiet:
            print(f"\n[monet_utils] time budget: {why}; stopping and saving", flush=True)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.monotonic()

    def on_train_batch_begin(self, batch, logs=None):
        self.step_started = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        next_step = self.step_time.add(now - self.step_started)
        if batch + 1 < self.steps_per_epoch and now + next_step + self._reserve() > self.deadline:
            self._stop(f"step {batch + 1} of {self.steps_per_epoch}: the next step would overrun")

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        next_epoch = self.epoch_time.add(now - self.epoch_started)
        if not self.model.stop_training and now + next_epoch + self._reserve() > self.deadline:
            self._stop(f"epoch {epoch + 2} would not finish in time")


class SampleGrid(keras.callbacks.Callback):
    """Every `every` epochs: samples/epoch_NNN.png with fixed photos and paintings, translated."""

    def __init__(self, photos: tf.data.Dataset, paintings: tf.data.Dataset, every: int,
                 directory: str, replicas: int = 1):
        super().__init__()
        count = max(SAMPLE_IMAGES, replicas)
        self.photos = np.stack(list(photos.take(count).as_numpy_iterator()))
        self.paintings = np.stack(list(paintings.take(count).as_numpy_iterator()))
        self.every = every
        self.directory = directory

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        to_monet = self.model.monet_generator(self.photos, training=False)
        to_photo = self.model.photo_generator(self.paintings, training=False)
        figure = plots.image_grid(
            [list(self.photos), list(np.asarray(to_monet)), list(self.paintings), list(np.asarray(to_photo))],
            row_titles=["photo", "G(photo)", "Monet", "F(Monet)"], title=f"epoch {epoch + 1}",
            path=os.path.join(self.directory, f"epoch_{epoch + 1:03d}.png"))
        import matplotlib.pyplot as plt

        plt.close(figure)


def _mifid_callback(config: TrainConfig, photos: tf.data.Dataset, paintings: tf.data.Dataset,
                    run_dir: str, verbose: bool) -> keras.callbacks.Callback:
    try:
        from . import mifid
    except ImportError as error:
        raise RunError(f"mifid_every={config.mifid_every} needs monet_utils.mifid, which failed "
                       f"to import ({error}); set --mifid-every 0") from error
    if not hasattr(mifid, "MifidCallback"):
        raise RunError(f"mifid_every={config.mifid_every}: monet_utils.mifid has no MifidCallback "
                       "yet; set --mifid-every 0")
    return mifid.MifidCallback(photos, paintings, every=config.mifid_every,
                               num_images=config.mifid_images, weights=config.mifid_weights,
                               run_dir=run_dir, verbose=verbose)


def _plain(value: Any) -> Any:
    """Logs values (tensors, numpy scalars) as plain JSON numbers."""
    array = np.asarray(value)
    if array.ndim == 0:
        return float(array) if array.dtype.kind == "f" else array.item()
    return array.tolist()


def read_history(run_dir: str) -> list[dict[str, Any]]:
    """A run's history.json (a list, one entry per completed epoch)."""
    with open(os.path.join(run_dir, HISTORY_FILE), encoding="utf-8") as handle:
        return json.load(handle)


__all__ = ["train", "build_cyclegan", "copy_run", "epoch_steps", "load_run_models", "save_models",
           "read_history", "RunState", "RunError", "TrainingDiverged", "MODEL_FILES"]
