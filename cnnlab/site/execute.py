"""Run notebooks for the site: each in a fresh kernel, into the build folder.

The committed notebooks are only read. Every lecture runs in its own new kernel
(nbclient), with ``CNNLAB_FAST`` set by the build (fast unless ``--full``) and
``MPLBACKEND`` set to the inline backend, so figures are captured whatever the
caller's ``MPLBACKEND`` says. A failing cell stops the build with
:class:`NotebookFailed`, naming the notebook, the cell and the error.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


class NotebookFailed(RuntimeError):
    """A notebook raised while the site was being built."""


@dataclass(frozen=True)
class Executed:
    source: Path     # the committed notebook that was read
    output: Path     # the executed copy in the build folder
    seconds: float


def kernel_environment(full: bool, threads: int | None) -> dict[str, str]:
    """The kernel's environment: the caller's, plus the setting, the inline backend, and
    ``threads`` math threads (unset: the library default)."""
    env = dict(os.environ, CNNLAB_FAST="0" if full else "1", MPLBACKEND=INLINE_BACKEND,
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def _failed_cell(nb: nbformat.NotebookNode) -> tuple[int, str, str]:
    """(code-cell index, first source line, error) of the cell whose output is an error."""
    code_index = -1
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first_line = (cell.source.splitlines() or [""])[0]
                return code_index, first_line, f"{output.get('ename')}: {output.get('evalue')}"
    return -1, "", ""


def execute_notebook(source: Path, output: Path, env: dict[str, str], timeout: int) -> Executed:
    """Execute ``source`` in a fresh kernel started in ``output``'s folder; write the result to
    ``output``. :class:`NotebookFailed` (notebook, cell, error) when a cell raises or times out."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(source, as_version=4)
    output.parent.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(output.parent)}})
    started = time.monotonic()
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError) as err:
        index, first_line, error = _failed_cell(nb)
        if isinstance(err, CellTimeoutError) or index < 0:
            error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        where = f"code cell {index} ({first_line!r})" if index >= 0 else "a cell"
        raise NotebookFailed(f"{source}: {where} failed while building the site: {error}. "
                             f"Run the notebook in Jupyter to see the whole traceback.") from None
    nbformat.write(nb, output)
    return Executed(source, output, time.monotonic() - started)


def execute_all(pairs: list[tuple[Path, Path]], env: dict[str, str], timeout: int, jobs: int,
                report=print) -> list[Executed]:
    """Execute each ``(source, output)`` pair, ``jobs`` kernels at a time, the last first (later
    lectures train longer, so the short ones fill the gaps). The first failure stops the build
    (the kernels still running are waited for)."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    done: list[Executed] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(execute_notebook, s, o, env, timeout): s for s, o in reversed(pairs)}
        try:
            for future in as_completed(futures):
                result = future.result()
                report(f"executed {result.source.parent.name}/{result.source.name} in {result.seconds:.0f} s")
                done.append(result)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return done
