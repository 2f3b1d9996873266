"""Extra approaches as named recipes, compared at an equal budget.

A recipe is a set of `TrainConfig` overrides on top of the Kaggle tutorial baseline
(U-Net, BCE, no augmentation, constant learning rate): `RECIPES["official"]` switches
to the CycleGAN paper's ResNet generator, LSGAN, image pool and linear decay. Names
joined with "+" merge their overrides ("augment+diffaugment").

`compare(base, names, output_dir)` trains each recipe with the same budget (epochs x
steps per epoch, batch size), image size, widths and seed as `base`, in
`output_dir/<recipe>/` (an ordinary run dir: re-running resumes or skips it), then
measures every recipe's Monet generator on the same fixed photos against the same real
statistics (computed once) and writes `output_dir/<recipe>/result.json` plus the first
few translations (`translations.npz`) for the comparison grid. `load_results` reads a
comparison back, e.g. the output of a Kaggle TPU run downloaded next to this repo.

Time per step comes from the run's history.json: the wall time of the completed epochs
after the first one (the first holds graph tracing and XLA compilation; so does the
first epoch after a resume), divided by their steps. It includes the per-epoch sample
grid (`sample_every`) but not checkpoint writing. With only one epoch, that epoch is all
there is and the result says its time includes compilation.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from .config import TrainConfig, write_json_atomic

# The tutorial baseline's value of every switch a recipe may change. Each recipe starts
# from these (not from `base`), so "baseline" means the same thing whatever `base` says.
BASELINE_SWITCHES: dict[str, Any] = {
    "generator": "unet",
    "gan_loss": "bce",
    "pool_size": 0,
    "lr_schedule": "constant",
    "label_smoothing": 0.0,
    "augment": "",
    "augment_photos": False,
    "diff_augment": "",
}

RECIPES: dict[str, dict] = {
    "baseline": {
        "description": "Kaggle tutorial: U-Net generator, BCE loss, no augmentation, constant learning rate",
        "overrides": {},
    },
    "augment": {
        "description": "the paintings randomly jittered (resize + crop), flipped and rotated by 90 degrees",
        "overrides": {"augment": "jitter,flip,rot90"},
    },
    "diffaugment": {
        "description": "DiffAugment (colour, translation, cutout) on real and fake images in D and G losses",
        "overrides": {"diff_augment": "color,translation,cutout"},
    },
    "official": {
        "description": "CycleGAN paper: ResNet generator, LSGAN, image pool of 50, linear decay",
        "overrides": {"generator": "resnet", "gan_loss": "lsgan", "pool_size": 50, "lr_schedule": "linear"},
    },
    "label_smoothing": {
        "description": "one-sided label smoothing: real labels 0.9 in the discriminators' loss",
        "overrides": {"label_smoothing": 0.1},
    },
}
# Combinations run by `names="all"` after the single recipes.
COMBINATIONS = ("augment+diffaugment", "official+augment+diffaugment")
ALL_RECIPES = (*RECIPES, *COMBINATIONS)

RESULT_FILE = "result.json"
TRANSLATIONS_FILE = "translations.npz"
COMPARISON_FILE = "comparison.json"
GRID_IMAGES = 6
# Config fields that may differ between a stored result and a new request without making
# it a different experiment (paths, outputs, run-time limits).
_NOT_COMPARED = frozenset({
    "data_dir", "output_dir", "resume_from", "init_from", "time_budget", "sample_every",
    "checkpoints_to_keep", "jit_compile", "mifid_every", "mifid_images", "mifid_weights",
})


class RecipeError(ValueError):
    """An unknown or contradictory recipe, or no results to read; the message says which."""


# --------------------------------------------------------------------------- registry
def parse_names(names: str | Iterable[str]) -> list[str]:
    """Recipe names from "baseline,augment", "all", or a list; validated, duplicates dropped.

    Raises:
        RecipeError: an unknown name (the message lists the known ones) or an empty list.
    """
    if isinstance(names, str):
        names = [part.strip() for part in names.split(",")]
    chosen: list[str] = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        for expanded in (ALL_RECIPES if name == "all" else (name,)):
            recipe_overrides(expanded)  # validates
            if expanded not in chosen:
                chosen.append(expanded)
    if not chosen:
        raise RecipeError(f"no recipe given; choose from {', '.join(ALL_RECIPES)} (or 'all')")
    return chosen


def recipe_overrides(name: str) -> dict[str, Any]:
    """The `TrainConfig` fields a recipe changes from the baseline ("a+b" merges a and b).

    Raises:
        RecipeError: an unknown part (listing the known recipes) or two parts that set one
            field to different values.
    """
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for part in name.split("+"):
        part = part.strip()
        if part not in RECIPES:
            raise RecipeError(f"unknown recipe {part!r}" + (f" in {name!r}" if part != name else "")
                              + f"; known recipes: {', '.join(RECIPES)} (combine with '+', e.g. "
                              f"'augment+diffaugment'), or 'all'")
        for key, value in RECIPES[part]["overrides"].items():
            if key in merged and merged[key] != value:
                raise RecipeError(f"recipe {name!r}: {origin[key]!r} sets {key}={merged[key]!r} but "
                                  f"{part!r} sets {key}={value!r}")
            merged[key] = value
            origin[key] = part
    return merged


def describe(name: str) -> str:
    """One line for a recipe; combinations join their parts' descriptions."""
    recipe_overrides(name)
    return " + ".join(RECIPES[part.strip()]["description"] for part in name.split("+"))


def describe_recipes(names: str | Iterable[str]) -> str:
    """A text list of recipes: name, description and the `train` CLI flags it sets."""
    lines = []
    for name in parse_names(names):
        lines.append(f"{name:<30} {describe(name)}")
        lines.append(f"{'':<30} flags: {cli_flags(name)}")
    return "\n".join(lines)


def cli_flags(name: str) -> str:
    """The `python -m monet_utils train` flags that train one recipe (all switches spelled out)."""
    values = {**BASELINE_SWITCHES, **recipe_overrides(name)}
    parts = []
    for key, value in values.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        parts.append(f"--{key.replace('_', '-')} {text if text else chr(34) * 2}")
    return " ".join(parts)


def recipe_config(base: TrainConfig, name: str, output_dir: str) -> TrainConfig:
    """`base` with the baseline switches, then the recipe's overrides, run in `output_dir/<name>`.

    Budget, sizes, widths, seed and data come from `base`; the in-training MiFID callback is
    off (`compare` measures every recipe once, at the end, on the same photos).
    """
    switches = {**BASELINE_SWITCHES, **recipe_overrides(name)}
    return base.replace(**switches, output_dir=os.path.join(output_dir, name), mifid_every=0)


# --------------------------------------------------------------------------- results
@dataclass
class RecipeResult:
    """One recipe's outcome (what `result.json` holds).

    Attributes:
        recipe, description, overrides: what was trained.
        run_dir: the run directory (on reading back: the folder result.json was found in).
        steps: optimizer steps trained; epochs: completed epochs; complete: all
            `config.epochs` done (False when a time budget stopped it early).
        seconds_per_step: see the module docstring; seconds_per_step_includes_compile says
            whether only the first (tracing) epoch was available.
        train_seconds: sum of the epochs' wall times (compilation included).
        mifid, fid, kid, kid_std, distance: the metric on `generated_count` photos vs
            `real_count` paintings, all at `image_size`.
        feature_level: "calibrated", "approximate" or "uncalibrated"; feature_source: which
            weights; mifid_weights: as requested.
        config: the full TrainConfig; device, replicas: where it trained.
    """

    recipe: str
    description: str
    overrides: dict
    run_dir: str
    steps: int
    epochs: int
    complete: bool
    seconds_per_step: Optional[float]
    seconds_per_step_includes_compile: bool
    train_seconds: float
    mifid: float
    fid: float
    kid: Optional[float]
    kid_std: Optional[float]
    distance: float
    feature_level: Optional[str]
    feature_source: Optional[str]
    mifid_weights: Optional[str]
    generated_count: int
    real_count: int
    image_size: int
    batch_size: int
    seed: int
    config: dict = field(default_factory=dict)
    device: Optional[str] = None
    replicas: Optional[int] = None
    evaluated_at: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], run_dir: Optional[str] = None) -> "RecipeResult":
        """From a result.json dict (unknown keys ignored); `run_dir` replaces the stored path."""
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.name not in values and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise RecipeError(f"{run_dir or 'result'}: {RESULT_FILE} lacks {', '.join(missing)}")
        result = cls(**{key: value for key, value in values.items() if key in names})
        if run_dir is not None:
            result.run_dir = run_dir
        return result

    @property
    def translations_path(self) -> str:
        return os.path.join(self.run_dir, TRANSLATIONS_FILE)

    def translations(self) -> tuple[np.ndarray, np.ndarray]:
        """(photos, their translations) as uint8 arrays: the first photos of the fixed subset."""
        if not os.path.isfile(self.translations_path):
            raise RecipeError(f"{self.translations_path}: missing (written by compare with the result)")
        with np.load(self.translations_path, allow_pickle=False) as archive:
            return archive["photos"], archive["translations"]

    def _matches(self, config: TrainConfig, weights: Optional[str], num_images: int) -> bool:
        """Same experiment (config apart from paths/outputs) and the same measurement."""
        wanted = {key: value for key, value in config.to_dict().items() if key not in _NOT_COMPARED}
        stored = {key: self.config.get(key) for key in wanted}
        return stored == wanted and self.mifid_weights == weights and self.generated_count == num_images


def load_results(output_dir: str) -> list[RecipeResult]:
    """The results of a comparison: `output_dir/<recipe>/result.json`, in the order run.

    Works on a copy (e.g. a Kaggle output folder): each result's `run_dir` becomes the folder
    its result.json is in.

    Raises:
        RecipeError: the folder holds no result.json.
    """
    if not os.path.isdir(output_dir):
        raise RecipeError(f"{output_dir}: no such folder (expected a comparison written by "
                          f"recipes.compare, with <recipe>/{RESULT_FILE} inside)")
    found = {}
    for entry in sorted(os.listdir(output_dir)):
        path = os.path.join(output_dir, entry, RESULT_FILE)
        if os.path.isfile(path):
            found[entry] = _read_result(os.path.join(output_dir, entry))
    if not found:
        raise RecipeError(f"{output_dir}: no <recipe>/{RESULT_FILE} here; run the comparison first "
                          f"(recipes.compare or notebook 05), or point at the folder that holds its "
                          f"recipe folders")
    order = []
    index_path = os.path.join(output_dir, COMPARISON_FILE)
    if os.path.isfile(index_path):
        with open(index_path, encoding="utf-8") as handle:
            order = [name for name in json.load(handle).get("recipes", []) if name in found]
    rest = sorted(set(found) - set(order), key=lambda name: (name != "baseline", name))
    return [found[name] for name in order + rest]


def _read_result(run_dir: str) -> RecipeResult:
    path = os.path.join(run_dir, RESULT_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            values = json.load(handle)
    except json.JSONDecodeError as error:
        raise RecipeError(f"{path}: not valid JSON ({error})") from None
    return RecipeResult.from_dict(values, run_dir=os.path.abspath(run_dir))


def format_table(results: Sequence[RecipeResult]) -> str:
    """A fixed-width text table: steps, time per step, MiFID, FID, KID, distance, features."""
    header = (f"{'recipe':<30} {'steps':>6} {'s/step':>8} {'MiFID':>9} {'FID':>9} {'KID':>9} "
              f"{'distance':>8}  features")
    lines = [header, "-" * len(header)]
    for result in results:
        timing = "-" if result.seconds_per_step is None else f"{result.seconds_per_step:.3f}"
        if result.seconds_per_step_includes_compile:
            timing += "*"
        kid = "-" if result.kid is None else f"{result.kid:.4f}"
        steps = f"{result.steps}" + ("" if result.complete else "!")
        lines.append(f"{result.recipe:<30} {steps:>6} {timing:>8} {result.mifid:>9.2f} {result.fid:>9.2f} "
                     f"{kid:>9} {result.distance:>8.4f}  {result.feature_level}")
    notes = []
    if any(r.seconds_per_step_includes_compile for r in results):
        notes.append("* one epoch only: its time includes tracing/compilation")
    if any(not r.complete for r in results):
        notes.append("! stopped early by the time budget: fewer steps than the others")
    sizes = sorted({(r.generated_count, r.real_count, r.image_size) for r in results})
    notes.append("measured on " + "; ".join(f"{g} translated photos vs {n} paintings at {s} px"
                                            for g, n, s in sizes))
    if any(r.feature_level == "uncalibrated" for r in results):
        notes.append("UNCALIBRATED features (random Inception weights): ranks runs roughly, "
                     "not comparable with Kaggle's MiFID")
    return "\n".join(lines + notes)


def versus(results: Sequence[RecipeResult], reference: str = "baseline", other: str = "augment") -> str:
    """One sentence: how `other` changed MiFID and KID relative to `reference`."""
    by_name = {result.recipe: result for result in results}
    missing = [name for name in (reference, other) if name not in by_name]
    if missing:
        return (f"{' and '.join(missing)} not in this comparison (it has {', '.join(by_name) or 'nothing'}); "
                f"add {' and '.join(missing)} to the recipes to see this effect")
    ref, new = by_name[reference], by_name[other]

    def change(before: Optional[float], after: Optional[float], digits: int) -> str:
        if before is None or after is None:
            return "n/a"
        relative = f" ({(after - before) / abs(before) * 100:+.0f}%)" if before else ""
        return f"{before:.{digits}f} -> {after:.{digits}f}{relative}"

    verdict = "better" if new.mifid < ref.mifid else "worse" if new.mifid > ref.mifid else "equal"
    return (f"{other} vs {reference}: MiFID {change(ref.mifid, new.mifid, 2)}, KID "
            f"{change(ref.kid, new.kid, 4)} ({verdict} by MiFID; lower is better), both after "
            f"{new.steps} vs {ref.steps} steps, seed {new.seed}, {new.feature_level} features")


# --------------------------------------------------------------------------- comparison
def compare(base: TrainConfig, names: str | Iterable[str], output_dir: str, weights: Any = None,
            num_images: Optional[int] = None, progress: bool = True, strategy: Any = None,
            time_budget: Optional[float] = None, grid_images: int = GRID_IMAGES,
            continue_from: Optional[str] = None) -> list[RecipeResult]:
    """Trains each recipe at `base`'s budget and seed, measures all the same way, saves results.

    Re-running continues unfinished recipes (train's resume) and skips finished ones whose
    result.json matches the request; a finished run measured differently (other weights or
    image count) is measured again without training.

    Args:
        base: budget (epochs, steps_per_epoch, batch_size), sizes, widths, seed, data_dir.
            Its switches (generator, losses, augmentation, ...) are replaced by each recipe's.
        names: recipe names ("baseline,augment", a list, or "all"); see `RECIPES`.
        output_dir: the comparison folder: `<recipe>/` run dirs with result.json.
        weights: Inception weights for MiFID/KID (see `mifid.feature_extractor`: a .pb,
            "imagenet", a weights file, "random", or a built extractor); None: base.mifid_weights,
            else "imagenet".
        num_images: photos translated for the metric (the first N, the same for every
            recipe); None: base.mifid_images.
        progress: print what happens (and Keras' one line per epoch).
        strategy: tf.distribute strategy for training; None: `runtime.strategy()`.
        time_budget: seconds for the whole comparison (e.g. a Kaggle session); the time left
            is shared among the recipes still to train, and a recipe stopped early is
            recorded with `complete=False` and fewer steps (re-run to continue it).
        grid_images: translations kept per recipe for `plots.recipe_translations`.
        continue_from: an earlier comparison folder (e.g. a previous Kaggle session's output,
            read-only): each of its recipe folders missing from `output_dir` is copied in
            first, so finished recipes are skipped and unfinished ones resume.

    Returns:
        One `RecipeResult` per name, in order.

    Raises:
        RecipeError: unknown recipe names.
        train.RunError: a recipe folder holds a run with other settings.
    """
    from . import mifid, runtime, train

    started = time.monotonic()
    names = parse_names(names)
    weights = base.mifid_weights if weights is None else weights
    weights = "imagenet" if weights is None else weights
    weights_label = weights.source if isinstance(weights, mifid.FeatureExtractor) else os.fspath(weights)
    num_images = num_images or base.mifid_images
    output_dir = os.path.abspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    # The order for load_results: recipes of earlier calls first, so a re-run of a subset
    # does not reorder the comparison.
    index_path = os.path.join(output_dir, COMPARISON_FILE)
    order = []
    if os.path.isfile(index_path):
        with open(index_path, encoding="utf-8") as handle:
            order = list(json.load(handle).get("recipes", []))
    write_json_atomic(index_path, {
        "recipes": order + [name for name in names if name not in order], "base": base.to_dict(),
        "mifid_weights": weights_label, "num_images": num_images})
    configs = {name: recipe_config(base, name, output_dir) for name in names}
    if continue_from:
        _copy_earlier(continue_from, configs, progress)
    measure = _Measurement(base, weights, num_images, grid_images, progress)

    results = []
    for index, name in enumerate(names):
        config = configs[name]
        label = f"[recipes] {index + 1}/{len(names)} {name}"
        existing = _read_result(config.output_dir) if os.path.isfile(
            os.path.join(config.output_dir, RESULT_FILE)) else None
        if existing and existing.complete and existing._matches(config, weights_label, len(measure.photos())):
            _say(progress, f"{label}: done earlier (MiFID {existing.mifid:.2f}); skipped")
            results.append(existing)
            continue
        if not _finished(config):
            if time_budget is not None:
                still = [n for n in names[index:] if not _finished(configs[n])]
                share = (started + time_budget - time.monotonic() - measure.reserve(len(names) - index)) / len(still)
                if share <= 0:
                    _say(progress, f"{label}: no time left in the budget; not trained (re-run to continue)")
                    continue
                config = config.replace(time_budget=share)
            _say(progress, f"{label}: training ({describe(name)})")
            if strategy is None:
                strategy = runtime.strategy("auto", verbose=progress)
            train.train(config, verbose=2 if progress else 0, strategy=strategy)
        _say(progress, f"{label}: measuring MiFID/KID on {len(measure.photos())} photos")
        result = measure(name, config, weights_label)
        write_json_atomic(os.path.join(config.output_dir, RESULT_FILE), result.to_dict())
        _say(progress, f"{label}: MiFID {result.mifid:.2f}, KID {result.kid:.4f}, "
                       f"{_timing_text(result)} ({result.feature_level} features)")
        results.append(result)
    return results


def _copy_earlier(source_dir: str, configs: dict[str, TrainConfig], progress: bool) -> None:
    """Copies `source_dir/<recipe>` into each recipe's run dir that does not exist yet."""
    from . import train

    if not os.path.isdir(source_dir):
        raise RecipeError(f"continue_from={source_dir!r}: no such folder (expected an earlier comparison "
                          f"with <recipe>/ run folders)")
    for name, config in configs.items():
        source = os.path.join(source_dir, name)
        if os.path.isdir(source) and not os.path.exists(config.output_dir) \
                and os.path.abspath(source) != os.path.abspath(config.output_dir):
            train.copy_run(source, config.output_dir)
            _say(progress, f"[recipes] {name}: continuing from {source}")


def _finished(config: TrainConfig) -> bool:
    """All epochs of this exact run done and its generator saved (no training needed)."""
    from . import train

    run_dir = config.output_dir
    if not all(os.path.isfile(os.path.join(run_dir, name)) for name in
               (train.CONFIG_FILE, train.HISTORY_FILE, "generator_monet.keras")):
        return False
    stored = TrainConfig.from_json(os.path.join(run_dir, train.CONFIG_FILE)).to_dict()
    if any(stored.get(key) != value for key, value in config.to_dict().items() if key not in _NOT_COMPARED):
        return False  # train() then explains the difference (RunError)
    history = train.read_history(run_dir)
    return bool(history) and history[-1]["epoch"] >= config.epochs


def step_timing(history: Sequence[dict], resumed_after_epoch: int = 0) -> tuple[Optional[float], bool]:
    """(seconds per step, whether that includes compilation) from a run's history.

    Epochs whose time holds graph tracing (the first, and the first after a resume) are
    left out when other epochs exist.
    """
    if not history:
        return None, False
    steps_before = 0
    rows = []
    for entry in history:
        steps = entry["step"] - steps_before
        steps_before = entry["step"]
        traced = entry["epoch"] in (1, resumed_after_epoch + 1)
        rows.append((entry["seconds"], steps, traced))
    clean = [(seconds, steps) for seconds, steps, traced in rows if not traced and steps > 0]
    if clean:
        return sum(s for s, _ in clean) / sum(n for _, n in clean), False
    total_steps = sum(steps for _, steps, _ in rows)
    return (sum(s for s, _, _ in rows) / total_steps if total_steps else None), True


class _Measurement:
    """The shared half of the comparison: one feature network, one photo subset, one set
    of real statistics, all made on first use."""

    def __init__(self, base: TrainConfig, weights: Any, num_images: int, grid_images: int, progress: bool):
        self.base = base
        self.weights = weights
        self.num_images = num_images
        self.grid_images = grid_images
        self.progress = progress
        self.extractor = None
        self.real = None
        self._photos: Optional[np.ndarray] = None
        self.longest = 0.0

    def photos(self) -> np.ndarray:
        """The fixed subset as uint8: the first `num_images` photos (fewer if the data has fewer)."""
        if self._photos is None:
            from . import mifid

            self._photos = mifid.photo_subset(self.base.data_dir, self.num_images, self.base.image_size)
        return self._photos

    def reserve(self, recipes_left: int) -> float:
        """Seconds to keep for measuring the recipes left (a minute each until one is timed)."""
        return recipes_left * (self.longest or 60.0)

    def __call__(self, name: str, config: TrainConfig, weights_label: str) -> RecipeResult:
        from . import data, mifid, submission, train

        started = time.monotonic()
        photos = self.photos()
        if self.extractor is None:
            self.extractor = mifid.feature_extractor(self.weights)
            paintings = data.load_domain(self.base.data_dir, "monet", self.base.data_source,
                                         image_size=self.base.image_size)
            # Paintings at the training size, so every recipe is compared with the same real
            # set at its own resolution (not with upsampling blur against 256 px originals).
            self.real = mifid.statistics(paintings, self.extractor, progress=self.progress,
                                         what=f"Monet paintings at {self.base.image_size} px")
        generator = submission.load_generator(os.path.join(config.output_dir, "generator_monet.keras"))
        metric, translated = mifid.score_generator(generator, photos, self.extractor, self.real,
                                                   progress=False, label=f"{name}")
        _save_translations(os.path.join(config.output_dir, TRANSLATIONS_FILE),
                           photos[:self.grid_images], translated[:self.grid_images])

        history = train.read_history(config.output_dir)
        with open(os.path.join(config.output_dir, train.CONFIG_FILE), encoding="utf-8") as handle:
            stored = json.load(handle)
        per_step, with_compile = step_timing(history, int(stored.get("resumed_after_epoch") or 0))
        epochs = history[-1]["epoch"] if history else 0
        self.longest = max(self.longest, time.monotonic() - started)
        return RecipeResult(
            recipe=name, description=describe(name), overrides=recipe_overrides(name),
            run_dir=config.output_dir, steps=history[-1]["step"] if history else 0, epochs=epochs,
            complete=epochs >= config.epochs, seconds_per_step=per_step,
            seconds_per_step_includes_compile=with_compile,
            train_seconds=float(sum(entry["seconds"] for entry in history)),
            mifid=metric.mifid, fid=metric.fid, kid=metric.kid, kid_std=metric.kid_std,
            distance=metric.distance, feature_level=metric.feature_level,
            feature_source=metric.feature_source, mifid_weights=weights_label,
            generated_count=metric.generated_count, real_count=metric.real_count,
            image_size=config.image_size, batch_size=config.batch_size, seed=config.seed,
            config=config.to_dict(), device=stored.get("device"), replicas=stored.get("replicas"),
            evaluated_at=time.strftime("%Y-%m-%dT%H:%M:%S"))


def _save_translations(path: str, photos: np.ndarray, translations: np.ndarray) -> None:
    from .config import atomic_file

    with atomic_file(path, "wb") as handle:  # a handle: np.savez would append ".npz" to the name
        np.savez_compressed(handle, photos=photos, translations=translations)


def _timing_text(result: RecipeResult) -> str:
    if result.seconds_per_step is None:
        return "no timing"
    note = " incl. compilation" if result.seconds_per_step_includes_compile else ""
    return f"{result.seconds_per_step:.3f} s/step{note}"


def _say(enabled: bool, message: str) -> None:
    if enabled:
        print(message, flush=True)


__all__ = ["RECIPES", "COMBINATIONS", "ALL_RECIPES", "BASELINE_SWITCHES", "RecipeError", "RecipeResult",
           "parse_names", "recipe_overrides", "describe", "describe_recipes", "cli_flags", "recipe_config",
           "compare", "load_results", "format_table", "versus", "step_timing"]
