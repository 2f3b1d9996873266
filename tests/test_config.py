"""TrainConfig: validation, JSON round trip, generated CLI flags."""

from __future__ import annotations

import argparse
import json

import pytest

from monet_utils.config import ConfigError, TrainConfig


def test_defaults_are_the_tutorial_recipe():
    config = TrainConfig()
    assert (config.image_size, config.learning_rate, config.beta_1) == (256, 2e-4, 0.5)
    assert (config.cycle_weight, config.identity_weight, config.gan_loss) == (10.0, 0.5, "bce")
    assert config.augmentations == ("jitter", "flip") and config.diff_augmentations == ()


@pytest.mark.parametrize("field,value,expected", [
    ("image_size", 48, "power of two"),
    ("image_size", 16, "power of two"),
    ("generator", "vae", "one of"),
    ("batch_size", 0, ">= 1"),
    ("label_smoothing", 0.7, "[0, 0.5)"),
    ("augment", "jitter,blur", "unknown: ['blur']"),
    ("diff_augment", "colour", "unknown: ['colour']"),
    ("steps_per_epoch", 0, "None or an integer >= 1"),
])
def test_bad_values_name_the_field(field, value, expected):
    with pytest.raises(ConfigError) as error:
        TrainConfig(**{field: value})
    assert f"TrainConfig.{field}={value!r}" in str(error.value) and expected in str(error.value)


def test_deep_generator_needs_a_stage_one_run():
    with pytest.raises(ConfigError, match="init_from"):
        TrainConfig(generator="deep")
    assert TrainConfig(generator="deep", init_from="runs/stage1").deep_mode == "deepen"


def test_json_round_trip_with_extra_facts(tmp_path):
    config = TrainConfig(image_size=64, filters=8, time_budget=3600.0, diff_augment="color,cutout")
    path = tmp_path / "run" / "config.json"
    config.to_json(path, extra={"device": "CPU"})
    payload = json.loads(path.read_text())
    assert payload["device"] == "CPU" and payload["config"]["filters"] == 8
    assert TrainConfig.from_json(path) == config
    assert not list(tmp_path.glob("run/*.partial"))


def test_unknown_keys_and_bad_json_are_reported(tmp_path):
    with pytest.raises(ConfigError, match="unknown TrainConfig fields: \\['lr'\\]"):
        TrainConfig.from_dict({"lr": 0.1})
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="config.json: not valid JSON"):
        TrainConfig.from_json(bad)


def test_cli_flags_are_generated_from_fields():
    parser = argparse.ArgumentParser()
    TrainConfig.add_arguments(parser)
    args = parser.parse_args(["--image-size", "64", "--augment-photos", "true", "--time-budget", "90",
                              "--init-from", "runs/a", "--generator", "deep"])
    config = TrainConfig.from_args(args)
    assert config.image_size == 64 and config.augment_photos is True and config.time_budget == 90.0
    assert config.generator == "deep" and config.init_from == "runs/a"
    # Flags not given keep the base config's values.
    base = TrainConfig(filters=16, seed=7)
    merged = TrainConfig.from_args(parser.parse_args(["--seed", "3"]), base=base)
    assert (merged.filters, merged.seed) == (16, 3)
    help_text = parser.format_help()
    assert "power of two >= 32" in help_text  # field comments become the help
    with pytest.raises(SystemExit):
        parser.parse_args(["--augment-photos", "maybe"])


def test_atomic_file_keeps_the_old_file_when_a_write_fails(tmp_path):
    from monet_utils.config import atomic_file, write_json_atomic

    path = tmp_path / "history.json"
    write_json_atomic(path, [{"epoch": 1}])
    with pytest.raises(RuntimeError, match="crash"):
        with atomic_file(path) as handle:
            handle.write('[{"epoch": 1}, {"epo')
            raise RuntimeError("crash mid-write")
    assert json.loads(path.read_text()) == [{"epoch": 1}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json"]  # no temp file left


def test_values_from_config_files_are_coerced_or_named():
    # PyYAML reads 2e-4 as the string "2e-4"; JSON gives 5.0 for a whole number.
    config = TrainConfig.from_dict({"learning_rate": "2e-4", "epochs": 5.0, "augment_photos": "true"})
    assert (config.learning_rate, config.epochs, config.augment_photos) == (2e-4, 5, True)
    assert isinstance(config.epochs, int)
    for field, value, expected in (("epochs", 2.5, "a whole number"), ("learning_rate", "fast", "float"),
                                   ("augment_photos", 3, "bool"), ("generator", 5, "str")):
        with pytest.raises(ConfigError, match=f"TrainConfig.{field}=.*expected {expected}"):
            TrainConfig.from_dict({field: value})
