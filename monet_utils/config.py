"""`TrainConfig`: every training knob in one frozen dataclass.

The same object feeds the CLI (one flag per field, generated here), the notebooks
(papermill parameters are passed to `TrainConfig(**params)`), and `config.json` in
each run directory. Validation happens in `__post_init__`, so a bad value fails with
a message naming the field before any TensorFlow work starts.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import tempfile
import types
import typing
from dataclasses import dataclass, fields
from typing import IO, Any, Iterator, Optional

GENERATORS = ("unet", "deep", "resnet")
DEEP_MODES = ("deepen", "stack")
GAN_LOSSES = ("bce", "lsgan")
LR_SCHEDULES = ("constant", "linear")
AUGMENTATIONS = ("jitter", "flip", "rot90")
DIFF_AUGMENTATIONS = ("color", "translation", "cutout")
DATA_SOURCES = ("auto", "tfrec", "jpg")


class ConfigError(ValueError):
    """A configuration value is out of range; the message names the field."""


@dataclass(frozen=True)
class TrainConfig:
    """All knobs of one training run (stage 1, stage 2, or an extra recipe).

    Field names are the CLI flags with dashes (`image_size` -> `--image-size`).
    """

    # Where things are.
    data_dir: str = "data/sample"  # Kaggle layout: monet_tfrec/, photo_tfrec/, monet_jpg/, photo_jpg/
    output_dir: str = "runs/baseline"  # the run directory (config.json, checkpoints/, samples/, ...)
    data_source: str = "auto"  # auto | tfrec | jpg ("auto" prefers TFRecords)
    init_from: Optional[str] = None  # stage-1 run dir whose generators/discriminators start stage 2
    resume_from: Optional[str] = None  # read-only run dir (e.g. a Kaggle input) copied to output_dir first

    # Models.
    generator: str = "unet"  # unet | deep | resnet
    deep_mode: str = "deepen"  # deepen | stack (only with generator="deep")
    image_size: int = 256  # power of two >= 32; Kaggle's images are 256
    filters: int = 64  # width of the first generator layer; the rest scale with it
    discriminator_filters: int = 64  # width of the first PatchGAN layer
    resnet_blocks: int = 9  # residual blocks in the resnet generator (paper: 9 at 256 px)
    resize_conv: bool = False  # resnet: resize + conv upsampling instead of transposed conv
    deep_blocks: int = 1  # deep generator: new residual blocks per scale ("deepen") or per stage ("stack")
    norm_epsilon: float = 1e-5  # instance norm epsilon (paper/PyTorch 1e-5, Keras default 1e-3)

    # Budget.
    epochs: int = 25  # training epochs
    steps_per_epoch: Optional[int] = None  # None: one pass over the Monet paintings per epoch
    batch_size: int = 1  # global batch size (split across replicas)
    time_budget: Optional[float] = None  # seconds; stop cleanly and save before this (Kaggle session limit)
    seed: int = 42  # seeds data order, augmentation, weights and dropout

    # Optimisation and losses (defaults: the CycleGAN paper / Kaggle tutorial).
    learning_rate: float = 2e-4  # Adam learning rate
    beta_1: float = 0.5  # Adam beta_1
    lr_schedule: str = "constant"  # constant | linear (linear decay to 0 from decay_start)
    decay_start: float = 0.5  # fraction of total steps after which linear decay begins
    gan_loss: str = "bce"  # bce (tutorial) | lsgan (paper)
    cycle_weight: float = 10.0  # lambda of the cycle-consistency loss
    identity_weight: float = 0.5  # identity loss weight as a fraction of cycle_weight
    pool_size: int = 0  # image pool of past fakes for the discriminators (paper: 50; 0 = off)
    label_smoothing: float = 0.0  # real labels become 1 - label_smoothing in D's loss

    # Data augmentation.
    augment: str = "jitter,flip"  # comma list of jitter, flip, rot90 applied to the paintings ("" = none)
    augment_photos: bool = False  # apply the same augmentation to photos too
    diff_augment: str = ""  # DiffAugment policy: comma list of color, translation, cutout ("" = off)

    # Accelerators.
    mixed_precision: bool = False  # bf16 compute on TPU (float32 outputs, losses, saved models)
    jit_compile: Optional[bool] = None  # XLA for the train step; None = on for one GPU (TPUs always use XLA)
    steps_per_execution: int = 1  # train steps per call into the device (TPU: 16-64 cut host overhead)

    # Outputs.
    sample_every: int = 1  # write a sample grid of fixed photos every k epochs (0 = never)
    checkpoints_to_keep: int = 2  # Kaggle keeps at most 500 output files
    mifid_every: int = 0  # compute a MiFID estimate every k epochs (0 = never)
    mifid_images: int = 256  # generated images per MiFID estimate (fixed photo subset)
    mifid_weights: Optional[str] = None  # Inception weights: "imagenet", a file, or "random" (uncalibrated)

    def __post_init__(self) -> None:
        for f in fields(self):  # YAML/JSON values arrive as text or ints: coerce or name the field
            object.__setattr__(self, f.name, _coerce(f.name, getattr(self, f.name), _base_type(f.type)))

        def check(ok: bool, name: str, expected: str) -> None:
            if not ok:
                raise ConfigError(f"TrainConfig.{name}={getattr(self, name)!r}: expected {expected}")

        size = self.image_size
        check(isinstance(size, int) and size >= 32 and size & (size - 1) == 0,
              "image_size", "a power of two >= 32 (e.g. 32, 64, 128, 256)")
        check(self.generator in GENERATORS, "generator", f"one of {GENERATORS}")
        check(self.deep_mode in DEEP_MODES, "deep_mode", f"one of {DEEP_MODES}")
        check(self.data_source in DATA_SOURCES, "data_source", f"one of {DATA_SOURCES}")
        check(self.gan_loss in GAN_LOSSES, "gan_loss", f"one of {GAN_LOSSES}")
        check(self.lr_schedule in LR_SCHEDULES, "lr_schedule", f"one of {LR_SCHEDULES}")
        for name in ("filters", "discriminator_filters", "epochs", "batch_size", "mifid_images",
                     "steps_per_execution"):
            check(getattr(self, name) >= 1, name, "an integer >= 1")
        for name in ("resnet_blocks", "deep_blocks", "pool_size", "sample_every", "mifid_every"):
            check(getattr(self, name) >= 0, name, "an integer >= 0")
        check(self.checkpoints_to_keep >= 1, "checkpoints_to_keep", "an integer >= 1")
        check(self.steps_per_epoch is None or self.steps_per_epoch >= 1,
              "steps_per_epoch", "None or an integer >= 1")
        check(self.time_budget is None or self.time_budget > 0, "time_budget", "None or seconds > 0")
        check(self.learning_rate > 0, "learning_rate", "a number > 0")
        check(0 <= self.beta_1 < 1, "beta_1", "a number in [0, 1)")
        check(0 <= self.decay_start <= 1, "decay_start", "a fraction in [0, 1]")
        check(0 <= self.label_smoothing < 0.5, "label_smoothing", "a number in [0, 0.5)")
        check(self.cycle_weight >= 0 and self.identity_weight >= 0,
              "cycle_weight", "non-negative loss weights")
        check(self.norm_epsilon > 0, "norm_epsilon", "a number > 0")
        check(not (self.generator == "deep" and not self.init_from),
              "init_from", "a stage-1 run directory when generator='deep'")
        unknown = set(self.augmentations) - set(AUGMENTATIONS)
        check(not unknown, "augment", f"a comma list of {AUGMENTATIONS} (unknown: {sorted(unknown)})")
        unknown = set(self.diff_augmentations) - set(DIFF_AUGMENTATIONS)
        check(not unknown, "diff_augment",
              f"a comma list of {DIFF_AUGMENTATIONS} (unknown: {sorted(unknown)})")

    # Derived values ---------------------------------------------------------
    @property
    def augmentations(self) -> tuple[str, ...]:
        """The augmentation names in `augment`, e.g. ("jitter", "flip")."""
        return _split(self.augment)

    @property
    def diff_augmentations(self) -> tuple[str, ...]:
        """The DiffAugment policy in `diff_augment`, e.g. ("color", "translation")."""
        return _split(self.diff_augment)

    # Conversions ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Builds a config; unknown keys raise a `ConfigError` naming them."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown TrainConfig fields: {unknown}; known: {sorted(names)}")
        return cls(**values)

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_json(self, path: str | os.PathLike, extra: Optional[dict[str, Any]] = None) -> None:
        """Writes `{"config": ..., **extra}` atomically (extra: versions, device)."""
        payload = {"config": self.to_dict(), **(extra or {})}
        write_json_atomic(path, payload)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "TrainConfig":
        """Reads a file written by `to_json` (or a bare dict of fields)."""
        with open(path, encoding="utf-8") as handle:
            try:
                payload = json.load(handle)
            except json.JSONDecodeError as error:
                raise ConfigError(f"{path}: not valid JSON ({error})") from error
        return cls.from_dict(payload.get("config", payload))

    # CLI ----------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Adds one `--flag` per field, typed from the annotation, default None.

        Defaults stay None on the parser so `from_args` can tell what the user set.
        """
        comments = _field_comments()
        for f in fields(cls):
            flag = "--" + f.name.replace("_", "-")
            kind = _base_type(f.type)
            help_text = f"{comments.get(f.name, '')} (default: {f.default!r})"
            if kind is bool:
                parser.add_argument(flag, type=_parse_bool, default=None, metavar="{true,false}",
                                    help=help_text)
            else:
                parser.add_argument(flag, type=kind, default=None, help=help_text)

    @classmethod
    def from_args(cls, args: argparse.Namespace, base: Optional["TrainConfig"] = None) -> "TrainConfig":
        """Config from parsed CLI flags: flags the user gave override `base` (or defaults)."""
        values = {f.name: getattr(args, f.name) for f in fields(cls)
                  if getattr(args, f.name, None) is not None}
        return dataclasses.replace(base, **values) if base else cls(**values)


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip() and part.strip() != "none")


def _coerce(name: str, value: Any, kind: type) -> Any:
    """`value` as `kind` (int, float, bool, str), or a `ConfigError` naming the field.

    Accepts what config files produce: "2e-4" (PyYAML reads it as text) for a float, 3 for
    3.0, 5.0 for 5; refuses 2.5 for an int and "yes" for a bool.
    """
    if value is None:
        return None
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            return _parse_bool(value) if isinstance(value, str) else _fail()
        if kind is int:
            if isinstance(value, bool):
                return _fail()
            number = float(value) if isinstance(value, str) else value
            if isinstance(number, (int, float)) and float(number).is_integer():
                return int(number)
            return _fail()
        if kind is float:
            if isinstance(value, bool):
                return _fail()
            return float(value)
        if kind is str:
            return value if isinstance(value, str) else _fail()
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        pass
    else:
        return value
    raise ConfigError(f"TrainConfig.{name}={value!r}: expected {'a whole number' if kind is int else kind.__name__}")


def _fail() -> Any:
    raise ValueError("wrong type")


def _base_type(annotation: Any) -> type:
    """`Optional[int]` -> int; string annotations resolved against typing."""
    if isinstance(annotation, str):
        annotation = eval(annotation, {"Optional": Optional, **vars(typing)})  # noqa: S307 - our own annotations
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _field_comments() -> dict[str, str]:
    """The trailing `# comment` of each field in this file: the CLI's help text."""
    import inspect

    comments = {}
    for line in inspect.getsource(TrainConfig).splitlines():
        stripped = line.strip()
        if ":" in stripped and "#" in stripped and not stripped.startswith(("#", "def", "@")):
            name = stripped.split(":", 1)[0].strip()
            comments[name] = stripped.split("#", 1)[1].strip()
    return comments


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Opens a temporary file beside `path`; renames it to `path` only if the block succeeds.

    A failure (or an interruption) removes the temporary file and leaves whatever was at
    `path` untouched: never a half-written file in place of a good one. The temporary name
    is unique, so two writers do not collide.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle_fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(handle_fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """Writes JSON to `path` via a temporary file and rename (never half-written)."""
    with atomic_file(path) as handle:
        json.dump(payload, handle, indent=2, default=_json_default)
        handle.write("\n")


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays in histories/metrics.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


__all__ = ["TrainConfig", "ConfigError", "atomic_file", "write_json_atomic"]
