"""Recipes compared at an equal budget: every switch trains, results persist and read back.

One comparison of the five single recipes (32 px, 4 filters, 2 epochs of 1 step) is
shared by the module; the feature network (random weights) is built once.
"""

from __future__ import annotations

import json
import os

import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf

from monet_utils import cyclegan, mifid, models, plots, recipes, submission, train
from monet_utils.config import TrainConfig

SINGLE = ["baseline", "augment", "diffaugment", "official", "label_smoothing"]
NUM_IMAGES = 4


def tiny_base(data_dir: str) -> TrainConfig:
    # resnet_blocks=2 keeps the official recipe's trace short; the recipe does not touch it.
    return TrainConfig(data_dir=data_dir, output_dir="unused", image_size=32, filters=4,
                       discriminator_filters=4, resnet_blocks=2, epochs=2, steps_per_epoch=1,
                       batch_size=1, seed=7, sample_every=0)


@pytest.fixture(scope="module")
def extractor():
    return mifid.feature_extractor("random")


@pytest.fixture(scope="module")
def comparison(sample_dir, tmp_path_factory, extractor):
    output_dir = str(tmp_path_factory.mktemp("recipes") / "cmp")
    results = recipes.compare(tiny_base(sample_dir), ",".join(SINGLE), output_dir, weights=extractor,
                              num_images=NUM_IMAGES, progress=False,
                              strategy=tf.distribute.get_strategy(), grid_images=3)
    return output_dir, results


def stored_config(run_dir: str) -> dict:
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as handle:
        return json.load(handle)["config"]


def test_each_recipe_trains_its_switches_at_the_same_budget_and_seed(comparison):
    output_dir, results = comparison
    assert [result.recipe for result in results] == SINGLE
    configs = {name: stored_config(os.path.join(output_dir, name)) for name in SINGLE}

    assert configs["baseline"]["generator"] == "unet" and configs["baseline"]["gan_loss"] == "bce"
    assert configs["baseline"]["augment"] == "" and configs["baseline"]["diff_augment"] == ""
    assert configs["augment"]["augment"] == "jitter,flip,rot90"
    assert configs["diffaugment"]["diff_augment"] == "color,translation,cutout"
    official = configs["official"]
    assert (official["generator"], official["gan_loss"], official["pool_size"], official["lr_schedule"]) == \
        ("resnet", "lsgan", 50, "linear")
    assert configs["label_smoothing"]["label_smoothing"] == 0.1
    # The saved generators are of the kind each recipe asked for.
    kinds = {name: models.generator_kind(submission.load_generator(
        os.path.join(output_dir, name, "generator_monet.keras"))) for name in ("baseline", "official")}
    assert kinds == {"baseline": "unet", "official": "resnet"}

    budget_keys = ("epochs", "steps_per_epoch", "batch_size", "seed", "image_size", "filters",
                   "discriminator_filters")
    for name in SINGLE:
        assert {key: configs[name][key] for key in budget_keys} == \
            {key: configs["baseline"][key] for key in budget_keys}, name
        history = train.read_history(os.path.join(output_dir, name))
        assert [entry["step"] for entry in history] == [1, 2], name
        for entry in history:
            assert all(np.isfinite(entry[loss]) for loss in cyclegan.LOSS_NAMES), (name, entry)


def test_results_hold_metric_and_timing_and_read_back(comparison):
    output_dir, results = comparison
    for result in results:
        assert os.path.isfile(os.path.join(output_dir, result.recipe, "result.json"))
        assert result.steps == 2 and result.complete
        assert result.feature_level == "uncalibrated"
        assert result.generated_count == NUM_IMAGES and result.real_count == 8
        assert np.isfinite(result.mifid) and result.fid > 0 and np.isfinite(result.kid)
        # Two epochs: the second one (no tracing) gives the time per step.
        history = train.read_history(result.run_dir)
        assert result.seconds_per_step == pytest.approx(history[1]["seconds"])
        assert not result.seconds_per_step_includes_compile
    assert len({round(result.fid, 6) for result in results}) == len(results), "recipes measured identical"

    loaded = recipes.load_results(output_dir)
    assert [result.to_dict() for result in loaded] == [result.to_dict() for result in results]
    photos, translations = loaded[0].translations()
    assert photos.shape == translations.shape == (3, 32, 32, 3) and photos.dtype == np.uint8
    # Every recipe was measured on the same photos.
    for result in loaded[1:]:
        np.testing.assert_array_equal(result.translations()[0], photos)


def test_rerunning_skips_finished_recipes_and_remeasures_only_when_asked(comparison, extractor, sample_dir):
    output_dir, results = comparison
    watched = [os.path.join(output_dir, name, file) for name in SINGLE[:2]
               for file in ("generator_monet.keras", "history.json", "result.json")]
    before = {path: os.stat(path).st_mtime_ns for path in watched}

    again = recipes.compare(tiny_base(sample_dir), SINGLE[:2], output_dir, weights=extractor,
                            num_images=NUM_IMAGES, progress=False, grid_images=3)
    assert [result.to_dict() for result in again] == [result.to_dict() for result in results[:2]]
    assert {path: os.stat(path).st_mtime_ns for path in watched} == before

    # Another image count: measured again, not trained again.
    remeasured = recipes.compare(tiny_base(sample_dir), ["baseline"], output_dir, weights=extractor,
                                 num_images=NUM_IMAGES - 1, progress=False, grid_images=3)
    assert remeasured[0].generated_count == NUM_IMAGES - 1
    generator = os.path.join(output_dir, "baseline", "generator_monet.keras")
    assert os.stat(generator).st_mtime_ns == before[generator]
    assert recipes.load_results(output_dir)[0].generated_count == NUM_IMAGES - 1
    # Put the shared comparison back as it was for the other tests.
    recipes.compare(tiny_base(sample_dir), ["baseline"], output_dir, weights=extractor,
                    num_images=NUM_IMAGES, progress=False, grid_images=3)


def test_figures_from_loaded_results(comparison, tmp_path):
    output_dir, _ = comparison
    loaded = recipes.load_results(output_dir)
    figure = plots.recipe_comparison(loaded, path=str(tmp_path / "comparison.png"))
    bars = [axis for axis in figure.axes if axis.patches]
    assert len(bars) == 3 and all(len(axis.patches) == len(SINGLE) for axis in bars)
    assert [tick.get_text() for tick in bars[0].get_xticklabels()] == SINGLE
    assert [patch.get_height() for patch in bars[0].patches] == pytest.approx([r.mifid for r in loaded])
    assert "UNCALIBRATED" in figure._suptitle.get_text()
    assert (tmp_path / "comparison.png").stat().st_size > 0

    grid = plots.recipe_translations(loaded, path=str(tmp_path / "translations.png"))
    assert len(grid.axes) == (1 + len(SINGLE)) * 3
    assert (tmp_path / "translations.png").stat().st_size > 0
    plt.close("all")

    table = recipes.format_table(loaded)
    assert all(name in table for name in SINGLE) and "uncalibrated" in table
    assert recipes.versus(loaded, "baseline", "augment").startswith("augment vs baseline: MiFID ")


def test_unknown_recipe_names_list_the_known_ones(sample_dir, tmp_path):
    with pytest.raises(recipes.RecipeError, match="unknown recipe 'fancy'.*baseline, augment, diffaugment"):
        recipes.compare(tiny_base(sample_dir), "baseline,fancy", str(tmp_path), progress=False)
    assert not os.listdir(tmp_path), "nothing is trained before the names are checked"
    with pytest.raises(recipes.RecipeError, match="unknown recipe 'nope' in 'augment\\+nope'"):
        recipes.recipe_overrides("augment+nope")
    with pytest.raises(recipes.RecipeError, match="no <recipe>/result.json here"):
        recipes.load_results(str(tmp_path))


def test_combinations_merge_overrides_and_refuse_contradictions(monkeypatch):
    assert recipes.recipe_overrides("augment+diffaugment") == {
        "augment": "jitter,flip,rot90", "diff_augment": "color,translation,cutout"}
    config = recipes.recipe_config(TrainConfig(augment="jitter,flip", pool_size=3), "official+augment", "out")
    assert (config.generator, config.pool_size, config.augment, config.output_dir) == \
        ("resnet", 50, "jitter,flip,rot90", os.path.join("out", "official+augment"))
    assert recipes.recipe_config(TrainConfig(augment="jitter,flip"), "baseline", "out").augment == ""
    assert recipes.parse_names("all") == list(recipes.ALL_RECIPES)
    assert recipes.parse_names("baseline, augment,baseline") == ["baseline", "augment"]
    assert "--diff-augment color,translation,cutout" in recipes.cli_flags("diffaugment")

    monkeypatch.setitem(recipes.RECIPES, "bce_again", {"description": "x", "overrides": {"gan_loss": "bce"}})
    with pytest.raises(recipes.RecipeError, match="'official' sets gan_loss='lsgan' but 'bce_again'"):
        recipes.recipe_overrides("official+bce_again")


def test_step_timing_leaves_out_traced_epochs():
    history = [{"epoch": 1, "step": 10, "seconds": 30.0}, {"epoch": 2, "step": 20, "seconds": 2.0},
               {"epoch": 3, "step": 30, "seconds": 9.0}, {"epoch": 4, "step": 40, "seconds": 3.0}]
    assert recipes.step_timing(history) == (pytest.approx(14.0 / 30), False)
    # Resumed after epoch 2: epoch 3 traced again.
    assert recipes.step_timing(history, resumed_after_epoch=2) == (pytest.approx(5.0 / 20), False)
    assert recipes.step_timing(history[:1]) == (pytest.approx(3.0), True)
    assert recipes.step_timing([]) == (None, False)


def test_continue_from_an_earlier_comparison_copies_and_skips_finished_recipes(comparison, extractor,
                                                                                  sample_dir, tmp_path):
    earlier, _ = comparison
    results = recipes.load_results(earlier)  # as stored now (an earlier test re-measured baseline)
    new_dir = str(tmp_path / "next_session")
    again = recipes.compare(tiny_base(sample_dir), ["baseline"], new_dir, weights=extractor,
                            num_images=NUM_IMAGES, progress=False, grid_images=3, continue_from=earlier)
    assert again[0].run_dir == os.path.join(new_dir, "baseline")
    assert {k: v for k, v in again[0].to_dict().items() if k != "run_dir"} == \
        {k: v for k, v in results[0].to_dict().items() if k != "run_dir"}
    # Not trained again: the copied history and checkpoints are the earlier ones.
    assert train.read_history(again[0].run_dir) == train.read_history(results[0].run_dir)
    assert sorted(os.listdir(os.path.join(new_dir, "baseline", "checkpoints"))) == \
        sorted(os.listdir(os.path.join(earlier, "baseline", "checkpoints")))
    with pytest.raises(recipes.RecipeError, match="continue_from='/nonexistent'"):
        recipes.compare(tiny_base(sample_dir), ["baseline"], new_dir, weights=extractor,
                        progress=False, continue_from="/nonexistent")


def test_a_spent_time_budget_trains_nothing(sample_dir, tmp_path, extractor, capsys):
    # A minute per recipe is kept for measuring, so one second leaves nothing to train.
    results = recipes.compare(tiny_base(sample_dir), ["baseline", "augment"], str(tmp_path), weights=extractor,
                              num_images=NUM_IMAGES, time_budget=1.0)
    assert results == []
    assert sorted(os.listdir(tmp_path)) == ["comparison.json"]
    assert capsys.readouterr().out.count("no time left in the budget") == 2
