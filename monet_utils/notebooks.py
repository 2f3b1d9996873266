"""The notebook chain: papermill runs, nbval preparation, the Kaggle bundle.

The five notebooks in `notebooks/` are thin: a `parameters` cell, calls into
`monet_utils`, plots and prose. Parameter sets live in `params/*.yaml` as one flat
mapping; each notebook receives only the names its `parameters` cell declares, so one
file drives the whole chain (01..05 share `output_dir`, so 03 finds 02's run).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

NOTEBOOKS = (
    "01_data_exploration",
    "02_baseline_cyclegan",
    "03_deep_generator",
    "04_submission",
    "05_extra_approaches",
)
# Notebooks that train, and so want Kaggle's TPU; the others run on CPU.
TPU_NOTEBOOKS = ("02_baseline_cyclegan", "03_deep_generator", "05_extra_approaches")
# On Kaggle each notebook is its own kernel; a later one reads an earlier one's output
# (mounted at /kaggle/input/<kernel-slug>/), so it lists it in kernel_sources.
KERNEL_INPUTS = {
    "03_deep_generator": ("02_baseline_cyclegan",),
    "04_submission": ("02_baseline_cyclegan", "03_deep_generator"),
}
COMPETITION = "gan-getting-started"
PACKAGE_DATASET_SLUG = "monet-utils"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Parameters holding paths: made absolute against the params file's project root, so an
# executed copy in another folder (nbval's build folder, papermill's cwd) finds them.
PATH_PARAMETERS = ("data_dir", "output_dir", "stage1_run", "run_dir", "resume_from", "submission_path",
                   "results_dir", "continue_from")


class NotebookFailed(RuntimeError):
    """A notebook of the chain failed; the message names it and the failing cell."""


@dataclass(frozen=True)
class NotebookResult:
    """One executed notebook: where its outputs are and how long it took."""

    name: str
    notebook: str
    html: Optional[str]
    seconds: float


def notebook_path(name: str, folder: Optional[str] = None) -> str:
    """`notebooks/<name>.ipynb` in the repository (or `folder`)."""
    return os.path.join(folder or os.path.join(REPO_ROOT, "notebooks"), f"{name}.ipynb")


def select(only: Optional[Iterable[str]] = None) -> list[str]:
    """Notebook names for `--only 02,03` style selections (prefixes or full names)."""
    if not only:
        return list(NOTEBOOKS)
    wanted = [item.strip() for item in only if item.strip()]
    chosen = []
    for item in wanted:
        matches = [name for name in NOTEBOOKS if name == item or name.startswith(item + "_") or name.startswith(item)]
        if len(matches) != 1:
            raise ValueError(f"--only {item!r}: expected one of {', '.join(NOTEBOOKS)} or its number (01..05)")
        chosen.append(matches[0])
    return [name for name in NOTEBOOKS if name in chosen]


def load_params(path: str, overrides: Optional[dict[str, Any]] = None,
                base_dir: Optional[str] = None) -> dict[str, Any]:
    """Reads a YAML parameter set; relative paths become absolute.

    The file is one flat mapping shared by all notebooks, plus optional sections named
    after a notebook (e.g. `04_submission: {run_dir: ...}`) whose values override the
    shared ones for that notebook only. Relative paths (`PATH_PARAMETERS`) are taken from
    `base_dir`, by default the current folder (the project root under `make`), so an
    executed copy elsewhere (nbval's build folder, papermill's cwd) finds them.
    """
    import yaml

    if not os.path.exists(path):
        raise FileNotFoundError(f"parameter file {path!r} does not exist (see params/*.yaml)")
    with open(path, encoding="utf-8") as handle:
        params = yaml.safe_load(handle) or {}
    if not isinstance(params, dict):
        raise ValueError(f"{path}: expected a mapping of parameter names to values, got {type(params).__name__}")
    params.update(overrides or {})
    root = os.path.abspath(base_dir or os.getcwd())
    for section in [params] + [params[name] for name in NOTEBOOKS if isinstance(params.get(name), dict)]:
        for key in PATH_PARAMETERS:
            value = section.get(key)
            if isinstance(value, str) and value and not value.startswith(("/", "gs://")):
                section[key] = os.path.normpath(os.path.join(root, value))
    return params


def declared_parameters(notebook: str) -> dict[str, dict]:
    """The names, types and defaults a notebook's `parameters` cell declares."""
    import papermill

    return papermill.inspect_notebook(notebook)


def parameters_for(notebook: str, params: dict[str, Any]) -> dict[str, Any]:
    """The values of `params` that this notebook declares, its own section applied."""
    name = os.path.splitext(os.path.basename(notebook))[0]
    merged = {key: value for key, value in params.items() if key not in NOTEBOOKS}
    merged.update(params.get(name) or {})
    declared = declared_parameters(notebook)
    return {key: value for key, value in merged.items() if key in declared}


def prepare(params_file: str, build_dir: str, only: Optional[Sequence[str]] = None,
            overrides: Optional[dict[str, Any]] = None, base_dir: Optional[str] = None) -> list[str]:
    """Writes the notebooks with `params_file` injected (papermill prepare-only) to `build_dir`.

    This is how nbval runs them: it takes no parameters, so they are baked in.
    """
    import papermill

    params = load_params(params_file, overrides, base_dir)
    os.makedirs(build_dir, exist_ok=True)
    written = []
    for name in select(only):
        source = notebook_path(name)
        target = os.path.join(build_dir, f"{name}.ipynb")
        papermill.execute_notebook(source, target, parameters=parameters_for(source, params),
                                   prepare_only=True, progress_bar=False)
        written.append(target)
    return written


def run(params_file: str, output_dir: str, only: Optional[Sequence[str]] = None,
        overrides: Optional[dict[str, Any]] = None, html: bool = True,
        kernel_name: Optional[str] = None, notebooks_dir: Optional[str] = None) -> list[NotebookResult]:
    """Executes the chain in order with papermill; stops at the first failure.

    Writes each executed notebook (and an HTML copy) to `output_dir`.

    Raises:
        NotebookFailed: names the notebook, the failing cell and the error.
    """
    import time

    import papermill
    from papermill.exceptions import PapermillExecutionError

    params = load_params(params_file, overrides)
    os.makedirs(output_dir, exist_ok=True)
    results = []
    for name in select(only):
        source = notebook_path(name, notebooks_dir)
        target = os.path.join(output_dir, f"{name}.ipynb")
        started = time.perf_counter()
        print(f"[run-notebooks] {name} ...", flush=True)
        try:
            papermill.execute_notebook(source, target, parameters=parameters_for(source, params),
                                       cwd=REPO_ROOT, kernel_name=kernel_name, progress_bar=False,
                                       log_output=False)
        except PapermillExecutionError as error:
            raise NotebookFailed(
                f"{name} failed in cell {error.exec_count} ({error.ename}: {error.evalue}); "
                f"executed copy with the traceback: {target}") from None
        except Exception as error:  # the kernel died, timed out or did not start
            raise NotebookFailed(f"{name} failed ({type(error).__name__}: {error}); "
                                 f"partial copy: {target}") from error
        seconds = time.perf_counter() - started
        page = to_html(target) if html else None
        print(f"[run-notebooks] {name} done in {seconds:.0f} s -> {target}", flush=True)
        results.append(NotebookResult(name, target, page, seconds))
    return results


def to_html(notebook: str) -> str:
    """Writes `<notebook>.html` beside an executed notebook; returns its path."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    from .config import atomic_file

    path = os.path.splitext(notebook)[0] + ".html"
    with atomic_file(path) as handle:
        handle.write(body)
    return path


def kernel_metadata(name: str, username: str, dataset_slug: str = PACKAGE_DATASET_SLUG,
                    private: bool = True, extra_datasets: Sequence[str] = ()) -> dict[str, Any]:
    """`kernel-metadata.json` for one notebook (`kaggle kernels push -p FOLDER`).

    Args:
        extra_datasets: more `owner/slug` datasets to attach, e.g. Inception weights for MiFID.
    """
    return {
        "id": f"{username}/{kernel_slug(name)}",
        "title": f"Monet {name.replace('_', ' ')}",
        "code_file": f"{name}.ipynb",
        "language": "python",
        "kernel_type": "notebook",
        "is_private": private,
        "enable_gpu": False,
        "enable_tpu": name in TPU_NOTEBOOKS,
        # Internet off everywhere: required for the submission notebook (competition rule)
        # and kept for all, so nothing depends on a download; monet_utils and any weights
        # arrive as attached datasets.
        "enable_internet": False,
        "dataset_sources": [f"{username}/{dataset_slug}", *extra_datasets],
        "competition_sources": [COMPETITION],
        "kernel_sources": [f"{username}/{kernel_slug(source)}" for source in KERNEL_INPUTS.get(name, ())],
        "model_sources": [],
    }


def kernel_slug(name: str) -> str:
    """Kaggle kernel slug of a notebook: "02_baseline_cyclegan" -> "monet-02-baseline-cyclegan"."""
    return f"monet-{name.replace('_', '-')}"


def kaggle_bundle(out_dir: str, username: str = "YOUR_KAGGLE_USERNAME",
                  params_file: Optional[str] = None, only: Optional[Sequence[str]] = None,
                  extra_datasets: Sequence[str] = ()) -> dict[str, str]:
    """Writes folders ready for `kaggle kernels push -p` and `kaggle datasets create -p`.

    Layout: `out_dir/dataset/` (monet_utils + dataset-metadata.json) and one
    `out_dir/<notebook>/` per notebook (notebook with `params_file` injected + metadata).
    `extra_datasets` (`owner/slug`) are attached to every notebook, e.g. the Inception
    weights that `params/kaggle-tpu.yaml`'s `mifid_weights` points into.

    Returns:
        {folder name: path}.
    """
    import papermill

    params = load_params(params_file or os.path.join(REPO_ROOT, "params", "kaggle-tpu.yaml"))
    folders = {}
    dataset = os.path.join(out_dir, "dataset")
    shutil.rmtree(dataset, ignore_errors=True)
    shutil.copytree(os.path.join(REPO_ROOT, "monet_utils"), os.path.join(dataset, "monet_utils"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _write_json(os.path.join(dataset, "dataset-metadata.json"), {
        "title": "monet-utils",
        "id": f"{username}/{PACKAGE_DATASET_SLUG}",
        "licenses": [{"name": "apache-2.0"}],
    })
    folders["dataset"] = dataset
    for name in select(only):
        folder = os.path.join(out_dir, name)
        os.makedirs(folder, exist_ok=True)
        source = notebook_path(name)
        papermill.execute_notebook(source, os.path.join(folder, f"{name}.ipynb"),
                                   parameters=parameters_for(source, params), prepare_only=True,
                                   progress_bar=False)
        _write_json(os.path.join(folder, "kernel-metadata.json"),
                    kernel_metadata(name, username, extra_datasets=extra_datasets))
        folders[name] = folder
    return folders


def _write_json(path: str, payload: Any) -> None:
    from .config import write_json_atomic

    write_json_atomic(path, payload)
