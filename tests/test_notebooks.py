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


def test_runner_stops_at_the_failing_notebook_and_names_it(tmp_path):
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


def test_cli_exits_non_zero_naming_the_notebook(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("output_dir: out\n")
    assert main(["run-notebooks", "--params", str(tmp_path / "missing.yaml"), "--output-dir", str(tmp_path)]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--only '09'"):
        notebooks.select(["09"])
    assert notebooks.select(["03", "01"]) == ["01_data_exploration", "03_deep_generator"]
