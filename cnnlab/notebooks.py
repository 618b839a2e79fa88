"""Keep committed notebooks clean: outputs only on cells whose output nbval checks.

A cell marked ``# NBVAL_CHECK_OUTPUT`` keeps its output (it must be deterministic);
every other cell is committed without outputs, so diffs stay readable. Used by
``cnnlab notebook pin|strip`` and by the test that guards the committed notebooks.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

CHECK_MARKER = "NBVAL_CHECK_OUTPUT"


def is_checked(cell) -> bool:
    """True for a code cell whose output nbval compares (marked ``# NBVAL_CHECK_OUTPUT``)."""
    return cell.get("cell_type") == "code" and CHECK_MARKER in "".join(cell.get("source", ""))


def clean(nb, keep_checked: bool = True):
    """Drop outputs and execution counts, except on checked cells (in place).

    Checked cells keep their outputs and get execution counts 1, 2, ... in order
    (nbval treats a cell without an execution count as never run).
    """
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if keep_checked and is_checked(cell) and cell.outputs:
            count += 1
            cell.execution_count = count
            for output in cell.outputs:
                if output.get("output_type") == "execute_result":
                    output["execution_count"] = count
        else:
            cell.outputs = []
            cell.execution_count = None
    return nb


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``,
    so a crash never leaves a half-written notebook (or grade sheet) behind."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _write_atomically(nb, path: Path) -> None:
    import nbformat

    write_text_atomically(path, nbformat.writes(nb))


def strip(path: str | os.PathLike) -> None:
    """Remove all unchecked outputs of the notebook at ``path`` (rewritten atomically)."""
    import nbformat

    path = Path(path)
    _write_atomically(clean(nbformat.read(path, as_version=4)), path)


def pin(path: str | os.PathLike, timeout: int = 1200) -> None:
    """Execute the notebook (in its own folder), then keep only the checked cells' outputs."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute()
    _write_atomically(clean(nb), path)
