"""train(): the run directory, stage 2, resume after SIGKILL, NaN stop, bad settings, CLI.

All runs are tiny (32 px, 4 filters, batch 2, 2 steps per epoch) on the session's sample
set. One stage-1 run is shared by the module; every other test traces at most one step.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from monet_utils import cyclegan, data, models, train as training
from monet_utils.__main__ import main as cli
from monet_utils.config import ConfigError, TrainConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(image_size=32, filters=4, discriminator_filters=4, batch_size=2, steps_per_epoch=2, seed=1)
STAGE1_EPOCHS = 3


def tiny_config(data_dir: str, output_dir, **changes) -> TrainConfig:
    return TrainConfig(data_dir=data_dir, output_dir=str(output_dir), **{**TINY, **changes})


def run_train(config: TrainConfig) -> str:
    return training.train(config, verbose=0, strategy=tf.distribute.get_strategy())


def checkpoint_tensors(path: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


@pytest.fixture(scope="module")
def stage1_run(sample_dir, tmp_path_factory) -> str:
    """A finished stage-1 run: U-Net generators, 3 epochs of 2 steps, samples every epoch."""
    config = tiny_config(sample_dir, tmp_path_factory.mktemp("runs") / "stage1",
                         epochs=STAGE1_EPOCHS, sample_every=1)
    return run_train(config)


def test_run_directory_holds_what_architecture_md_lists(stage1_run):
    names = set(os.listdir(stage1_run))
    assert {"config.json", "history.json", "checkpoints", "samples", "loss_curves.png",
            *[f"{stem}.keras" for stem in training.MODEL_FILES]} <= names
    assert not [name for name in names if "partial" in name]

    stored = json.load(open(os.path.join(stage1_run, "config.json")))
    assert stored["config"]["image_size"] == 32 and stored["config"]["epochs"] == STAGE1_EPOCHS
    assert stored["versions"]["tensorflow"] == tf.__version__
    assert stored["steps_per_epoch"] == 2 and stored["jit_compile"] is False

    history = training.read_history(stage1_run)
    assert [entry["epoch"] for entry in history] == [1, 2, 3]
    assert [entry["step"] for entry in history] == [2, 4, 6]
    for entry in history:
        assert all(np.isfinite(entry[name]) for name in cyclegan.LOSS_NAMES)

    # At most checkpoints_to_keep (2) checkpoints: the last two epochs.
    indexes = sorted(name for name in os.listdir(os.path.join(stage1_run, "checkpoints"))
                     if name.endswith(".index"))
    assert indexes == ["ckpt-2.index", "ckpt-3.index"]
    assert sorted(os.listdir(os.path.join(stage1_run, "samples"))) == [
        "epoch_001.png", "epoch_002.png", "epoch_003.png"]


def test_saved_networks_reload_in_safe_mode_and_match_the_last_checkpoint(stage1_run):
    config = TrainConfig.from_json(os.path.join(stage1_run, "config.json"))
    model = training.build_cyclegan(config, tf.distribute.get_strategy(), steps_per_epoch=2)
    epoch, history = training.RunState(stage1_run, model, keep=2).restore()
    assert epoch == STAGE1_EPOCHS and len(history) == STAGE1_EPOCHS

    photos = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    for stem, attribute in training.MODEL_FILES.items():
        loaded = keras.models.load_model(os.path.join(stage1_run, f"{stem}.keras"), safe_mode=True)
        assert {layer.dtype_policy.name for layer in loaded.layers} == {"float32"}
        np.testing.assert_allclose(loaded(photos, training=False),
                                   getattr(model, attribute)(photos, training=False), atol=1e-6)


def test_stage2_deepens_stage1_and_stops_within_its_time_budget(stage1_run, sample_dir, tmp_path):
    config = tiny_config(sample_dir, tmp_path / "stage2", generator="deep", init_from=stage1_run,
                         deep_mode="deepen", epochs=1000, time_budget=6.0, sample_every=0)
    stage1 = training.load_run_models(stage1_run)

    # At the start: deeper generators computing the same function, discriminators unchanged.
    model = training.build_cyclegan(config, tf.distribute.get_strategy(), steps_per_epoch=2)
    photos = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    for stem in ("generator_monet", "generator_photo"):
        deep = getattr(model, training.MODEL_FILES[stem])
        assert models.count_conv_layers(deep) >= 1.5 * models.count_conv_layers(stage1[stem])
        np.testing.assert_allclose(deep(photos, training=False), stage1[stem](photos, training=False),
                                   atol=1e-5)
    for stem in ("discriminator_monet", "discriminator_photo"):
        for a, b in zip(getattr(model, training.MODEL_FILES[stem]).get_weights(), stage1[stem].get_weights()):
            np.testing.assert_array_equal(a, b)

    run_dir = run_train(config)

    history = training.read_history(run_dir)
    assert len(history) < 1000  # stopped by the budget, cleanly: every epoch recorded is complete
    assert [entry["epoch"] for entry in history] == list(range(1, len(history) + 1))
    latest = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    assert (latest is None) == (not history)
    saved = keras.models.load_model(os.path.join(run_dir, "generator_monet.keras"))
    assert models.count_conv_layers(saved) == models.count_conv_layers(model.monet_generator)


def test_resume_after_sigkill_continues_exactly(sample_dir, tmp_path):
    """The CLI, killed with SIGKILL mid-run, then re-run with the same command."""
    run_dir = str(tmp_path / "killed")
    command = [sys.executable, "-m", "monet_utils", "train", "--data-dir", sample_dir,
               "--output-dir", run_dir, "--image-size", "32", "--filters", "4",
               "--discriminator-filters", "4", "--batch-size", "2", "--steps-per-epoch", "2",
               "--epochs", "30", "--lr-schedule", "linear", "--pool-size", "0", "--seed", "5",
               "--sample-every", "0", "--verbose", "0", "--strategy", "default"]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    checkpoints = os.path.join(run_dir, "checkpoints")
    deadline = time.monotonic() + 240
    while tf.train.latest_checkpoint(checkpoints) is None:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint within 240 s"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    process.stderr.close()

    # The state a resume starts from: restoring and writing it again changes nothing
    # (weights, both optimizers' iteration counts and Adam moments, seeds, epoch, history).
    latest = tf.train.latest_checkpoint(checkpoints)
    saved = checkpoint_tensors(latest)
    config = TrainConfig.from_json(os.path.join(run_dir, "config.json"))
    model = training.build_cyclegan(config, tf.distribute.get_strategy(), steps_per_epoch=2)
    state = training.RunState(run_dir, model, keep=2)
    epoch, history = state.restore()
    assert 1 <= epoch < 30 and [entry["epoch"] for entry in history] == list(range(1, epoch + 1))
    for optimizer in (model.generator_optimizer, model.discriminator_optimizer):
        assert int(optimizer.iterations.numpy()) == 2 * epoch
    moments = [v for v in model.generator_optimizer.variables if len(v.shape) == 4]  # conv kernels
    assert moments and all(np.abs(np.asarray(v)).max() > 0 for v in moments)
    rewritten = checkpoint_tensors(state.checkpoint.write(str(tmp_path / "rewritten" / "ckpt")))
    assert saved.keys() == rewritten.keys()
    for name, value in saved.items():
        np.testing.assert_array_equal(value, rewritten[name], err_msg=name)

    finished = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    assert summary["run_dir"] == run_dir and summary["epochs"] == 30

    resumed = training.read_history(run_dir)
    assert [entry["epoch"] for entry in resumed] == list(range(1, 31))  # none repeated or lost
    assert [entry["step"] for entry in resumed] == [2 * e for e in range(1, 31)]
    assert resumed[:epoch] == history
    assert json.load(open(os.path.join(run_dir, "config.json")))["resumed_after_epoch"] == epoch

    # Exact: the same run without the kill gives the same losses and weights.
    uninterrupted = run_train(config.replace(output_dir=str(tmp_path / "uninterrupted")))
    for ours, theirs in zip(resumed, training.read_history(uninterrupted)):
        for name in cyclegan.LOSS_NAMES:
            assert ours[name] == pytest.approx(theirs[name], rel=1e-4), (ours["epoch"], name)
    for stem in ("generator_monet", "discriminator_photo"):
        a, b = (keras.models.load_model(os.path.join(d, f"{stem}.keras")) for d in (run_dir, uninterrupted))
        for x, y in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_allclose(x, y, atol=1e-5)


def test_a_copied_read_only_run_resumes_with_mifid_in_its_history(stage1_run, sample_dir, tmp_path):
    """--resume-from: a read-only run (a Kaggle input) is copied, then continued; the
    continuation also estimates MiFID each epoch (uncalibrated features: offline)."""
    read_only = tmp_path / "input" / "stage1"
    shutil.copytree(stage1_run, read_only)
    for root, dirs, files in os.walk(read_only):
        for name in files:
            os.chmod(os.path.join(root, name), stat.S_IRUSR)
    config = TrainConfig.from_json(os.path.join(stage1_run, "config.json")).replace(
        output_dir=str(tmp_path / "continued"), resume_from=str(read_only),
        epochs=STAGE1_EPOCHS + 1, sample_every=0, mifid_every=1, mifid_images=4, mifid_weights="random")

    with pytest.warns(UserWarning, match="UNCALIBRATED"):
        run_dir = run_train(config)

    history = training.read_history(run_dir)
    assert [entry["epoch"] for entry in history] == [1, 2, 3, 4]
    assert history[:3] == training.read_history(stage1_run)
    assert history[3]["step"] == 8
    assert history[3]["mifid"] > 0 and np.isfinite(history[3]["kid"])
    assert os.path.isfile(os.path.join(run_dir, "generator_monet_best.keras"))
    indexes = sorted(n for n in os.listdir(os.path.join(run_dir, "checkpoints")) if n.endswith(".index"))
    assert indexes == ["ckpt-3.index", "ckpt-4.index"]


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(sample_dir, tmp_path, monkeypatch):
    unpaired = data.unpaired

    def poisoned(*args, **kwargs):
        """Photos turn NaN from the third step (epoch 2) on."""
        batches = unpaired(*args, **kwargs).enumerate(kwargs.get("start_step", 0))
        return batches.map(lambda step, pair: (pair[0], tf.where(step >= 2, np.nan, pair[1])))

    monkeypatch.setattr(data, "unpaired", poisoned)
    config = tiny_config(sample_dir, tmp_path / "nan", epochs=3, sample_every=0)

    with pytest.raises(training.TrainingDiverged, match=r"non-finite loss in epoch 2, step 1: .*nan"):
        run_train(config)

    run_dir = str(tmp_path / "nan")
    assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")).endswith("ckpt-1")
    assert [entry["epoch"] for entry in training.read_history(run_dir)] == [1]
    assert not os.path.exists(os.path.join(run_dir, "generator_monet.keras"))


def test_bad_settings_get_clear_errors(stage1_run, sample_dir, tmp_path, capsys):
    with pytest.raises(ConfigError, match="image_size=48: expected a power of two"):
        tiny_config(sample_dir, tmp_path / "x", image_size=48)

    # The CLI: exit status 2 and the message, no traceback.
    base = ["train", "--data-dir", sample_dir, "--output-dir", str(tmp_path / "cli")]
    assert cli(base + ["--image-size", "48"]) == 2
    assert "image_size=48: expected a power of two" in capsys.readouterr().err
    assert cli(base + ["--generator", "deep"]) == 2
    assert "init_from" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{not json")
    assert cli(base + ["--config", str(tmp_path / "bad.json")]) == 2
    assert "bad.json: not valid JSON" in capsys.readouterr().err
    assert cli(["train", "--data-dir", str(tmp_path / "nowhere"), "--output-dir", str(tmp_path / "cli2"),
                "--image-size", "32"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli(base + ["--image-size", "32", "--strategy", "tpu"]) == 2
    assert "no TPU found" in capsys.readouterr().err

    # Another experiment in an existing run directory.
    with pytest.raises(training.RunError, match=r"filters: 4 \(stored\) vs 8 \(now\)"):
        run_train(tiny_config(sample_dir, stage1_run, filters=8))
    # A folder that is not a run directory.
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(training.RunError, match="not a run directory"):
        run_train(tiny_config(sample_dir, tmp_path / "notes"))
    # Stage 2 from something that is not a finished stage-1 run, or at another size.
    with pytest.raises(training.RunError, match="missing generator_monet.keras"):
        run_train(tiny_config(sample_dir, tmp_path / "s2", generator="deep",
                              init_from=str(tmp_path / "notes")))
    with pytest.raises(training.RunError, match="image_size=32, this run uses image_size=64"):
        run_train(tiny_config(sample_dir, tmp_path / "s2b", generator="deep", init_from=stage1_run,
                              image_size=64))
    with pytest.raises(training.RunError, match="steps_per_epoch=3 must be a multiple of steps_per_exec"):
        run_train(tiny_config(sample_dir, tmp_path / "s4", steps_per_epoch=3, steps_per_execution=2))
    with pytest.raises(training.RunError, match="resume_from=.*no checkpoint"):
        run_train(tiny_config(sample_dir, tmp_path / "s3", resume_from=str(tmp_path / "notes")))


def test_epoch_length_is_one_pass_over_the_paintings_in_whole_executions():
    assert training.epoch_steps(TrainConfig(batch_size=4), monet_count=300) == 75
    assert training.epoch_steps(TrainConfig(batch_size=4, steps_per_execution=16), monet_count=300) == 80
    assert training.epoch_steps(TrainConfig(steps_per_epoch=32, steps_per_execution=16), monet_count=300) == 32


def test_an_interrupted_copy_leaves_no_half_run(stage1_run, tmp_path, monkeypatch):
    """copy_run stages the copy beside the target: a failure midway leaves no target at all."""
    target = str(tmp_path / "copy")
    copied = []
    real_copyfile = shutil.copyfile

    def failing_copyfile(source, destination, **kwargs):
        if len(copied) == 3:
            raise OSError("disk full (simulated)")
        copied.append(source)
        return real_copyfile(source, destination, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", failing_copyfile)
    with pytest.raises(OSError, match="simulated"):
        training.copy_run(stage1_run, target)
    assert not os.path.exists(target)
    monkeypatch.setattr(shutil, "copyfile", real_copyfile)
    training.copy_run(stage1_run, target)
    assert tf.train.latest_checkpoint(os.path.join(target, "checkpoints"))
    assert not os.path.exists(target + ".copying")


def test_resume_is_exact_with_the_image_pool_on(sample_dir, tmp_path):
    """Pool contents are checkpointed: 1 epoch + resume to 3 == 3 epochs straight."""
    settings = dict(pool_size=3, epochs=3, sample_every=0)
    straight = run_train(tiny_config(sample_dir, tmp_path / "straight", **settings))
    resumed_dir = str(tmp_path / "resumed")
    run_train(tiny_config(sample_dir, resumed_dir, **{**settings, "epochs": 1}))
    resumed = run_train(tiny_config(sample_dir, resumed_dir, **settings))
    ours, theirs = training.read_history(resumed), training.read_history(straight)
    assert [entry["epoch"] for entry in ours] == [1, 2, 3]
    for mine, other in zip(ours, theirs):
        for name in cyclegan.LOSS_NAMES:
            assert mine[name] == pytest.approx(other[name], rel=1e-4), (mine["epoch"], name)
