"""The CLI: `python -m monet_utils COMMAND ...`, one subcommand per job.

Each subcommand is a pair: `_add_<name>(subparsers)` declares its flags and
`_run_<name>(args) -> int` calls the library function (no logic lives here).
Heavy imports (TensorFlow) happen inside the `_run_*` functions so `--help` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable, Optional, Sequence

# Quieter TensorFlow start-up on the command line (only if the user has not chosen).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class CommandError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


# --------------------------------------------------------------------------- sample-data
def _add_sample_data(subparsers) -> None:
    parser = subparsers.add_parser(
        "sample-data", help="write the embedded sample set in Kaggle's layout",
        description="Writes a small deterministic stand-in dataset (TFRecords and JPEG folders) to DIR. "
                    "The 'monet' images are painterly renderings of photos, not Monet's paintings.")
    parser.add_argument("dir", help="output folder, e.g. data/sample")
    parser.add_argument("--monet", type=int, default=30, help="number of paintings (default 30)")
    parser.add_argument("--photos", type=int, default=60, help="number of photos (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--force", action="store_true", help="replace an existing folder")
    parser.set_defaults(func=_run_sample_data)


def _run_sample_data(args) -> int:
    from .sample_data import write_sample_data

    try:
        stamp = write_sample_data(args.dir, args.monet, args.photos, args.seed, force=args.force)
    except (FileExistsError, ValueError) as error:
        raise CommandError(str(error)) from None
    print(f"sample set in {args.dir}: {stamp['settings']['monet']} 'monet' paintings, "
          f"{stamp['settings']['photo']} photos (TFRecords and JPEGs)")
    print(f"note: {stamp['note']}")
    return 0


# --------------------------------------------------------------------------- preview
def _add_preview(subparsers) -> None:
    parser = subparsers.add_parser("preview", help="grid PNG of a dataset's paintings and photos with counts")
    parser.add_argument("--data-dir", required=True, help="Kaggle-layout dataset folder")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--per-domain", type=int, default=8, help="images shown per domain (default 8)")
    parser.add_argument("--source", default="auto", choices=["auto", "tfrec", "jpg"])
    parser.set_defaults(func=_run_preview)


def _run_preview(args) -> int:
    from . import data, plots

    try:
        encoded = {domain: data.read_domain(args.data_dir, domain, args.source) for domain in data.DOMAINS}
    except data.DataError as error:
        raise CommandError(str(error)) from None
    plots.domain_preview(args.data_dir, args.per_domain, args.source, path=args.out, encoded_domains=encoded)
    print(json.dumps({"preview": args.out, "counts": {domain: len(images) for domain, images in encoded.items()}}))
    return 0


# --------------------------------------------------------------------------- run-notebooks
def _add_run_notebooks(subparsers) -> None:
    parser = subparsers.add_parser(
        "run-notebooks", help="execute the notebook chain with papermill (executed copies + HTML)",
        description="Runs notebooks/01..05 in order with a parameter set; stops at the first failure, "
                    "naming the notebook and the cell.")
    parser.add_argument("--params", required=True, help="parameter set, e.g. params/demo.yaml")
    parser.add_argument("--output-dir", required=True, help="folder for executed notebooks and HTML")
    parser.add_argument("--only", default="", help="comma list of notebooks, e.g. 02,03 (default: all)")
    parser.add_argument("--no-html", action="store_true", help="skip the HTML copies")
    parser.set_defaults(func=_run_run_notebooks)


def _run_run_notebooks(args) -> int:
    from . import notebooks

    try:
        results = notebooks.run(args.params, args.output_dir, only=args.only.split(",") if args.only else None,
                                html=not args.no_html)
    except (notebooks.NotebookFailed, FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    for result in results:
        print(f"{result.name}: {result.seconds:.0f} s  {result.html or result.notebook}")
    return 0


# --------------------------------------------------------------------------- kaggle-bundle
def _add_kaggle_bundle(subparsers) -> None:
    parser = subparsers.add_parser(
        "kaggle-bundle", help="folders ready for `kaggle kernels push` and `kaggle datasets create`",
        description="Writes DIR/dataset (monet_utils + dataset-metadata.json) and one DIR/<notebook> per "
                    "notebook (params/kaggle-tpu.yaml injected + kernel-metadata.json).")
    parser.add_argument("dir", help="output folder")
    parser.add_argument("--username", default="YOUR_KAGGLE_USERNAME", help="your Kaggle user name")
    parser.add_argument("--params", default=None, help="parameter set (default params/kaggle-tpu.yaml)")
    parser.add_argument("--only", default="", help="comma list of notebooks (default: all)")
    parser.add_argument("--attach", action="append", default=[], metavar="OWNER/SLUG",
                        help="another dataset for every notebook, e.g. your Inception weights "
                             "(repeatable; see README)")
    parser.set_defaults(func=_run_kaggle_bundle)


def _run_kaggle_bundle(args) -> int:
    from . import notebooks

    try:
        folders = notebooks.kaggle_bundle(args.dir, args.username, args.params,
                                          only=args.only.split(",") if args.only else None,
                                          extra_datasets=args.attach)
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    for name, folder in folders.items():
        print(f"{name}: {folder}")
    print(f"next: kaggle datasets create -p {folders['dataset']} --dir-mode zip (subfolders are skipped "
          "without it); then kaggle kernels push -p <notebook folder>, in order 01..04")
    return 0


# --------------------------------------------------------------------------- submit
def _add_submit(subparsers) -> None:
    parser = subparsers.add_parser(
        "submit", help="translate every photo and stream the JPEGs into images.zip",
        description="Runs the Monet generator over all photos in batches and streams 256x256 JPEGs "
                    "straight into a zip (no files staged on disk; the zip appears only when complete). "
                    "Kaggle needs 7,000-10,000 images: use --allow-small for the sample set.")
    parser.add_argument("--generator", required=True,
                        help="a training run dir (uses generator_monet_best.keras, else generator_monet.keras) "
                             "or a .keras file")
    parser.add_argument("--data-dir", required=True, help="Kaggle-layout dataset folder (photo_tfrec/ or photo_jpg/)")
    parser.add_argument("--out", default="images.zip", help="zip to write (default images.zip)")
    parser.add_argument("--batch-size", type=int, default=32, help="photos per generator call (default 32)")
    parser.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality 1-100 (default 95)")
    parser.add_argument("--source", default="auto", choices=["auto", "tfrec", "jpg"],
                        help="read photos from TFRecords or JPEGs (default auto: TFRecords when present)")
    parser.add_argument("--strategy", default="auto", choices=["auto", "tpu", "gpus", "cpus", "default"],
                        help="distribution strategy (default auto: TPU > several GPUs > one device)")
    parser.add_argument("--allow-small", action="store_true",
                        help="accept fewer than 7,000 photos (the sample set); the zip will not be a valid submission")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run_submit)


def _run_submit(args) -> int:
    from . import data, runtime, submission

    try:
        model_path = submission.resolve_generator_path(args.generator)
        print(f"generator: {model_path}")
        encoded = data.read_domain(args.data_dir, "photo", args.source)  # read once, decode-checked
        min_images = 0 if args.allow_small else submission.MIN_IMAGES
        submission.check_count(len(encoded), min_images, submission.MAX_IMAGES)  # before loading the model
        dist = runtime.strategy(args.strategy)
        generator = submission.load_generator(model_path, dist)
        summary = submission.write_submission(
            generator, data.encoded_dataset(encoded, with_names=True), args.out, args.batch_size,
            args.jpeg_quality, strategy=dist if dist.num_replicas_in_sync > 1 else None,
            min_images=min_images, progress=not args.no_progress)
    except (submission.SubmissionError, data.DataError) as error:
        raise CommandError(str(error)) from None
    print(json.dumps(summary.to_dict()))
    if summary.count < submission.MIN_IMAGES:
        print(f"note: {summary.count} images is fewer than Kaggle's {submission.MIN_IMAGES:,}: "
              f"fine for a trial, not a valid submission")
    return 0


# --------------------------------------------------------------------------- validate
def _add_validate(subparsers) -> None:
    parser = subparsers.add_parser(
        "validate", help="check images.zip against Kaggle's rules",
        description="Checks that a zip holds 7,000-10,000 top-level JPEGs of 256x256 RGB that fully "
                    "decode, with no duplicates or folders. Prints each problem; exit status 1 if any.")
    parser.add_argument("zip", help="the zip to check, e.g. images.zip")
    parser.add_argument("--min-images", type=int, default=7000, help="fewest images allowed (default 7000)")
    parser.add_argument("--max-images", type=int, default=10000, help="most images allowed (default 10000)")
    parser.add_argument("--show", type=int, default=20, help="problems printed at most (default 20)")
    parser.set_defaults(func=_run_validate)


def _run_validate(args) -> int:
    from .submission import validate_submission

    problems = validate_submission(args.zip, args.min_images, args.max_images)
    if problems:
        for problem in problems[: args.show]:
            print(problem)
        if len(problems) > args.show:
            print(f"... and {len(problems) - args.show} more")
        print(f"invalid: {len(problems)} problem(s) in {args.zip}", file=sys.stderr)
        return 1
    import zipfile

    with zipfile.ZipFile(args.zip) as archive:
        count = len(archive.infolist())
    print(f"valid: {count} images")
    return 0


# --------------------------------------------------------------------------- train
def _add_train(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a CycleGAN (stage 1, or stage 2 with --generator deep --init-from RUN)",
        description="Trains a CycleGAN and writes the run directory (--output-dir): config.json, "
                    "history.json, checkpoints/, samples/, generator_*.keras, discriminator_*.keras, "
                    "loss_curves.png. Re-running the same command resumes an interrupted run from its "
                    "last checkpoint. Flags override --config, which overrides the defaults.")
    parser.add_argument("--config", metavar="FILE",
                        help="a config.json of an earlier run, or a JSON/YAML file of TrainConfig fields")
    parser.add_argument("--strategy", default="auto", choices=["auto", "tpu", "gpus", "cpus", "default"],
                        help="distribution strategy (default auto: TPU > several GPUs > one device)")
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                        help="1: a progress bar per epoch (default), 2: one line per epoch, 0: quiet")
    from .config import TrainConfig

    TrainConfig.add_arguments(parser.add_argument_group("training settings (TrainConfig)"))
    parser.set_defaults(func=_run_train)


def _run_train(args) -> int:
    from . import data
    from .config import ConfigError, TrainConfig

    try:
        base = _read_train_config(args.config) if args.config else None
        config = TrainConfig.from_args(args, base=base)
    except ConfigError as error:
        raise CommandError(str(error)) from None
    from . import runtime
    from .train import RunError, TrainingDiverged, read_history, train

    try:
        strategy = runtime.strategy(args.strategy)
    except RuntimeError as error:  # e.g. --strategy tpu without a TPU
        raise CommandError(str(error)) from None
    try:
        run_dir = train(config, verbose=args.verbose, strategy=strategy)
    except (data.DataError, RunError, TrainingDiverged, ConfigError) as error:
        raise CommandError(str(error)) from None
    history = read_history(run_dir)
    print(json.dumps({"run_dir": run_dir, "epochs": len(history),
                      "last": history[-1] if history else None}))
    return 0


def _read_train_config(path: str):
    """TrainConfig from a run's config.json or a JSON/YAML dict of fields."""
    from .config import ConfigError, TrainConfig

    if not os.path.isfile(path):
        raise ConfigError(f"--config {path}: no such file")
    if path.endswith((".yaml", ".yml")):
        import yaml

        with open(path, encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"--config {path}: expected a mapping of TrainConfig fields")
        return TrainConfig.from_dict(values.get("config", values))
    return TrainConfig.from_json(path)


# --------------------------------------------------------------------------- mifid
def _add_mifid(subparsers) -> None:
    parser = subparsers.add_parser(
        "mifid", help="Kaggle's MiFID (and FID, KID) of generated images against real paintings",
        description="Prints JSON: fid, distance, thresholded_distance, mifid, kid, the feature level "
                    "(calibrated / approximate / uncalibrated) and the image counts. Generated images are "
                    "read as stored (JPEGs, as Kaggle reads them); first N in file order with --num-images.")
    parser.add_argument("--generated", required=True, help="images.zip or a folder of generated images")
    parser.add_argument("--real", required=True,
                        help="Kaggle data folder (its monet paintings), a folder of paintings, or a statistics "
                             ".npz from --save-real-stats")
    parser.add_argument("--weights", default="imagenet",
                        help="FILE.pb: the FID Inception graph (calibrated); 'imagenet' or a Keras InceptionV3 "
                             "weights file (approximate); 'random': random weights (UNCALIBRATED, offline "
                             "only). Default imagenet")
    parser.add_argument("--save-real-stats", metavar="NPZ", help="write the real images' statistics here")
    parser.add_argument("--num-images", type=int, help="first N generated images only (default all)")
    parser.add_argument("--num-real", type=int, help="first N real images only (default all)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per feature batch (default 32)")
    parser.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run_mifid)


def _run_mifid(args) -> int:
    import warnings

    from . import mifid
    from .data import DataError

    try:
        with warnings.catch_warnings():  # the warning is printed below, once
            warnings.filterwarnings("ignore", message="UNCALIBRATED")
            result = mifid.evaluate(args.generated, args.real, weights=args.weights,
                                    num_images=args.num_images, num_real=args.num_real,
                                    batch_size=args.batch_size, kid_subsets=args.kid_subsets,
                                    save_real_stats=args.save_real_stats, progress=not args.no_progress)
    except (mifid.MifidError, DataError) as error:
        raise CommandError(str(error)) from None
    if result.warning:
        print(f"\n*** {result.warning} ***\n", file=sys.stderr)
    print(json.dumps(result.to_dict(), indent=2))
    return 0


# --------------------------------------------------------------------------- registry
# One entry per subcommand, in the order `--help` lists them. Later modules add theirs.
COMMANDS: list[Callable] = [
    _add_sample_data,
    _add_preview,
    _add_submit,
    _add_validate,
    _add_run_notebooks,
    _add_kaggle_bundle,
    _add_train,
    _add_mifid,
]


def build_parser() -> argparse.ArgumentParser:
    """The full CLI parser (also used by the tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m monet_utils",
        description="CycleGAN toolkit for Kaggle's gan-getting-started: data, training, MiFID, images.zip.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
