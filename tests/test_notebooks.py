"""The notebooks run top to bottom with fast settings (OMNIMMM_FAST=1).

01-03 and 07 use the demo data; notebook 03 reuses the model notebook 01 saved, as it does
for a user who runs them in order, so that MMM is sampled once here. Notebooks 04 (regions),
05 (journeys) and 06 (member benefits) simulate their own data and depend on no other
notebook.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ORDER = (
    "01_mmm_quickstart",
    "02_lifecycle_propensity",
    "03_quarterly_budget",
    "04_geo_regions",
    "05_journeys_attribution",
    "06_member_benefits",
    "07_forecast_checks",
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notebooks")


def test_notebooks_are_committed_without_outputs() -> None:
    for name in ORDER:
        book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        for cell in book.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name


@pytest.mark.parametrize("name", ORDER)
def test_notebook_runs(name: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIMMM_FAST", "1")
    monkeypatch.setenv("OMNIMMM_NOTEBOOK_DIR", str(workdir))
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        book,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    saved_before = (workdir / "demo_mmm" / "manifest.json").is_file()
    client.execute()
    errors = [
        out
        for cell in book.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.get("output_type") == "error"
    ]
    assert errors == []
    if name == "03_quarterly_budget" and saved_before:
        text = "".join(
            out.get("text", "") for cell in book.cells for out in cell.get("outputs", [])
        )
        assert "reusing the model saved by notebook 01" in text
