"""The notebook chain: parameters cells, the papermill runner, the Kaggle bundle."""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from monet_utils import notebooks
from monet_utils.__main__ import main


@pytest.mark.parametrize("name", notebooks.NOTEBOOKS)
def test_each_notebook_has_one_typed_and_commented_parameters_cell(name):
    path = notebooks.notebook_path(name)
    notebook = nbformat.read(path, as_version=4)
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected exactly one cell tagged 'parameters'"
    declared = notebooks.declared_parameters(path)
    assert {"data_dir", "output_dir"} <= set(declared)
    for parameter, info in declared.items():
        assert info["inferred_type_name"] not in ("None", None), f"{name}.{parameter}: no type annotation"
        assert info["help"], f"{name}.{parameter}: no comment explaining it"
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        f"{name} is stored with outputs"


def _failing_chain(folder):
    os.makedirs(folder)
    for index, name in enumerate(notebooks.NOTEBOOKS[:2]):
        notebook = new_notebook()
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        parameters = new_code_cell('data_dir: str = ""  # data\noutput_dir: str = ""  # out')
        parameters.metadata["tags"] = ["parameters"]
        body = "raise ValueError('broken on purpose')" if index == 1 else "print(output_dir)"
        notebook.cells = [parameters, new_code_cell("x = 1"), new_code_cell(body)]
        nbformat.write(notebook, os.path.join(folder, f"{name}.ipynb"))


def test_runner_stops_at_the_failing_notebook_and_names_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths in a parameter set are taken from here
    _failing_chain(str(tmp_path / "nbs"))
    params = tmp_path / "params" / "p.yaml"
    params.parent.mkdir()
    params.write_text("output_dir: out\ndata_dir: data\nunused: 3\n")
    with pytest.raises(notebooks.NotebookFailed) as error:
        notebooks.run(str(params), str(tmp_path / "executed"), only=["01", "02"], html=True,
                      notebooks_dir=str(tmp_path / "nbs"))
    message = str(error.value)
    assert "02_baseline_cyclegan failed" in message and "broken on purpose" in message
    # 01 ran, got the absolute output_dir injected, and has its HTML copy.
    executed = nbformat.read(str(tmp_path / "executed" / "01_data_exploration.ipynb"), as_version=4)
    printed = executed.cells[-1].outputs[0]["text"].strip()
    assert printed == str(tmp_path / "out")
    assert (tmp_path / "executed" / "01_data_exploration.html").exists()


def test_cli_exits_non_zero_naming_the_notebook(tmp_path, capsys, monkeypatch):
    _failing_chain(str(tmp_path / "nbs"))
    params = tmp_path / "params.yaml"
    params.write_text("output_dir: out\n")
    monkeypatch.setattr(notebooks, "notebook_path",
                        lambda name, folder=None: os.path.join(str(tmp_path / "nbs"), f"{name}.ipynb"))
    assert main(["run-notebooks", "--params", str(params), "--output-dir", str(tmp_path / "executed"),
                 "--only", "01,02", "--no-html"]) == 2
    error = capsys.readouterr().err
    assert "02_baseline_cyclegan failed in cell" in error and "broken on purpose" in error
    assert main(["run-notebooks", "--params", str(tmp_path / "missing.yaml"), "--output-dir", str(tmp_path)]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--only '09'"):
        notebooks.select(["09"])
    assert notebooks.select(["03", "01"]) == ["01_data_exploration", "03_deep_generator"]


def test_kaggle_bundle_is_ready_to_push(tmp_path, capsys):
    assert main(["kaggle-bundle", str(tmp_path / "bundle"), "--username", "painter",
                 "--only", "02,03,04", "--attach", "painter/inception-v3-weights"]) == 0
    bundle = tmp_path / "bundle"
    dataset = json.loads((bundle / "dataset" / "dataset-metadata.json").read_text())
    assert dataset == {"title": "monet-utils", "id": "painter/monet-utils", "licenses": [{"name": "apache-2.0"}]}
    assert (bundle / "dataset" / "monet_utils" / "train.py").exists()
    assert not list((bundle / "dataset").rglob("__pycache__"))
    expected_sources = {
        "02_baseline_cyclegan": [],
        "03_deep_generator": ["painter/monet-02-baseline-cyclegan"],
        "04_submission": ["painter/monet-02-baseline-cyclegan", "painter/monet-03-deep-generator"],
    }
    for name, kernel_sources in expected_sources.items():
        metadata = json.loads((bundle / name / "kernel-metadata.json").read_text())
        assert metadata["id"] == f"painter/{notebooks.kernel_slug(name)}"
        assert metadata["code_file"] == f"{name}.ipynb" and (bundle / name / f"{name}.ipynb").exists()
        assert metadata["language"] == "python" and metadata["kernel_type"] == "notebook"
        assert metadata["competition_sources"] == ["gan-getting-started"]
        assert metadata["dataset_sources"] == ["painter/monet-utils", "painter/inception-v3-weights"]
        assert metadata["kernel_sources"] == kernel_sources
        training = name != "04_submission"
        assert metadata["enable_tpu"] is training and metadata["enable_gpu"] is False
        assert metadata["enable_internet"] is False  # competition notebooks run offline
        injected = nbformat.read(str(bundle / name / f"{name}.ipynb"), as_version=4)
        source = next(cell.source for cell in injected.cells if "injected-parameters" in cell.metadata.get("tags", []))
        assert 'data_dir = "/kaggle/input/gan-getting-started"' in source
        assert 'mifid_weights = "/kaggle/input/inception-v3-weights/' in source  # offline: attached weights
        if name == "04_submission":  # its own section overrides the shared values
            assert 'run_dir = "/kaggle/input/monet-03-deep-generator/deep"' in source
            assert "allow_small = False" in source
    printed = capsys.readouterr().out
    assert "kaggle kernels push" in printed and "--dir-mode zip" in printed  # else subfolders are skipped


def test_per_notebook_sections_override_shared_values(tmp_path):
    params = tmp_path / "params" / "p.yaml"
    params.parent.mkdir()
    params.write_text("mifid_weights: imagenet\noutput_dir: out\n04_submission:\n  mifid_weights: random\n"
                      "  run_dir: runs/x\n")
    loaded = notebooks.load_params(str(params), base_dir=str(tmp_path))
    submission = notebooks.parameters_for(notebooks.notebook_path("04_submission"), loaded)
    baseline = notebooks.parameters_for(notebooks.notebook_path("02_baseline_cyclegan"), loaded)
    assert submission["mifid_weights"] == "random" and baseline["mifid_weights"] == "imagenet"
    assert submission["run_dir"] == str(tmp_path / "runs" / "x")  # made absolute
    assert "run_dir" not in baseline and baseline["output_dir"] == str(tmp_path / "out")
