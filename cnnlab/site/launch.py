"""The set-up cell that opens every lecture, generated from the site configuration.

A lecture opened on Colab or a bare JupyterHub has no ``cnnlab``: its first code cell
installs it from the configured source (``git+REPOSITORY@BRANCH``) when it is not
importable, and fetches the data sets the lecture loads through :mod:`cnnlab.data`.
Locally and in CI, where cnnlab is installed and the data is on disk, it does nothing.

The cell is generated, never edited by hand: :func:`sync_launch_cells` writes it into
each lecture (``cnnlab site --sync-launch-cells``), :func:`stale_launch_cells` lists the
lectures whose first code cell differs from it (a test runs this).
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from cnnlab.notebooks import write_text_atomically
from cnnlab.site.config import SiteConfig

SETUP_TAG = "cnnlab-setup"
# which data set a loader call needs; load_with_fallback needs the first it prefers
_LOADERS = {"load_mnist(": "mnist", "load_fashion_mnist(": "fashion-mnist"}
_FALLBACK_FIRST = re.compile(r"load_with_fallback\(\s*(?:preferred\s*=\s*)?\(\s*[\"']([a-z-]+)[\"']")


def datasets_used(nb: nbformat.NotebookNode) -> list[str]:
    """The real data sets (``mnist``, ``fashion-mnist``) a notebook's code loads, sorted."""
    found = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or SETUP_TAG in cell.metadata.get("tags", []):
            continue
        found |= {dataset for call, dataset in _LOADERS.items() if call in cell.source}
        found |= {name for name in _FALLBACK_FIRST.findall(cell.source) if name != "digits"}
    return sorted(found)


def launch_cell_source(config: SiteConfig, datasets: list[str]) -> str:
    """Source of the set-up cell for a lecture that loads ``datasets``."""
    lines = ["# Set-up: installs cnnlab where it is missing (Colab, a hub); else does nothing.",
             "try:",
             "    import cnnlab",
             "except ImportError:",
             f'    %pip install --quiet "cnnlab @ {config.install_source}"']
    if datasets:
        names = ", ".join(f'"{d}"' for d in datasets)
        lines += ["from cnnlab.data import ensure_data",
                  f"ensure_data({names})  # downloads the data once; quick when it is on disk"]
    return "\n".join(lines)


def _setup_cell(config: SiteConfig, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(launch_cell_source(config, datasets_used(nb)))
    cell.metadata["tags"] = [SETUP_TAG]
    cell.pop("id", None)
    return cell


def _first_code_index(nb: nbformat.NotebookNode) -> int | None:
    return next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)


def has_current_setup_cell(nb: nbformat.NotebookNode, config: SiteConfig) -> bool:
    """Whether ``nb``'s first code cell is exactly the set-up cell ``config`` generates."""
    index = _first_code_index(nb)
    if index is None:
        return False
    cell = nb.cells[index]
    return (SETUP_TAG in cell.metadata.get("tags", [])
            and cell.source == launch_cell_source(config, datasets_used(nb)))


def stale_launch_cells(lectures: Path, config: SiteConfig) -> list[Path]:
    """Lectures in the folder ``lectures`` whose first code cell is not the current set-up cell."""
    return [path for path in sorted(Path(lectures).glob("*.ipynb"))
            if not has_current_setup_cell(nbformat.read(path, as_version=4), config)]


def sync_launch_cells(lectures: Path, config: SiteConfig) -> list[Path]:
    """Write the current set-up cell into each stale lecture (replacing an older set-up cell,
    or inserted before the first code cell); atomic per file. Returns the lectures changed."""
    changed = []
    for path in stale_launch_cells(lectures, config):
        nb = nbformat.read(path, as_version=4)
        index = _first_code_index(nb)
        if index is None:
            index = len(nb.cells)
        elif SETUP_TAG in nb.cells[index].metadata.get("tags", []):
            nb.cells[index].source = launch_cell_source(config, datasets_used(nb))
        else:
            cell = _setup_cell(config, nb)
            if "id" in nb.cells[index]:                      # nbformat >= 4.5 notebooks carry cell ids
                cell["id"] = SETUP_TAG
            nb.cells.insert(index, cell)
        ending = "\n" if path.read_text(encoding="utf-8").endswith("\n") else ""   # keep the file's own
        write_text_atomically(path, nbformat.writes(nb) + ending)
        changed.append(path)
    return changed

