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
        plots.domain_preview(args.data_dir, args.per_domain, args.source, path=args.out)
    except data.DataError as error:
        raise CommandError(str(error)) from None
    counts = {domain: len(data.read_domain(args.data_dir, domain, args.source, check=False))
              for domain in data.DOMAINS}
    print(json.dumps({"preview": args.out, "counts": counts}))
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
    parser.set_defaults(func=_run_kaggle_bundle)


def _run_kaggle_bundle(args) -> int:
    from . import notebooks

    try:
        folders = notebooks.kaggle_bundle(args.dir, args.username, args.params,
                                          only=args.only.split(",") if args.only else None)
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    for name, folder in folders.items():
        print(f"{name}: {folder}")
    print("next: kaggle datasets create -p DIR/dataset; then kaggle kernels push -p DIR/<notebook> in order")
    return 0


# --------------------------------------------------------------------------- registry
# One entry per subcommand, in the order `--help` lists them. Later modules add theirs.
COMMANDS: list[Callable] = [
    _add_sample_data,
    _add_preview,
    _add_run_notebooks,
    _add_kaggle_bundle,
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
