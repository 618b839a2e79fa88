"""The instructor's review copy of a submission: what its cells printed when graded.

``<feedback>/<student>/<set stem>.executed.ipynb`` is an nbformat-4 notebook with the
submission's cells in its order (sources as handed in; set-up cells as the source has
them, since those ran) and, under each cell that ran in the sandbox, what it wrote to
``sys.stdout``/``sys.stderr`` (one ``stream`` output, at most ``TEXT_CHARS``) and the
error it raised (an ``error`` output). Test cells did not run there and have none.
Images are not kept: the sandbox's ``display`` is muted. All text is made safe
(``sheet.safe_text``: no lone surrogates, control characters escaped, ANSI colours
included). The whole copy holds at most
``NOTEBOOK_CHARS`` characters of sources and outputs; what is past that is cut, saying so.

The worker's outputs are untrusted: :func:`bounded_outputs` re-checks their shape and
sizes whatever the worker claims.
"""
from __future__ import annotations

import nbformat

from cnnlab.grading.sheet import safe_text

TEXT_CHARS = 10_000          # printed text kept per cell
NOTEBOOK_CHARS = 2 * 2**20   # sources and outputs of one review copy
MAX_CELLS = 5_000
LABEL_CHARS = 200


def bounded_outputs(raw) -> dict[str, str]:
    """The worker's ``[[label, text], ...]`` as ``{label: text}``: entries of another shape
    dropped, labels cut at ``LABEL_CHARS``, texts at ``TEXT_CHARS``, ``NOTEBOOK_CHARS`` in all."""
    outputs, room = {}, NOTEBOOK_CHARS
    for entry in raw[:MAX_CELLS] if isinstance(raw, list) else []:
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(part, str) for part in entry)):
            continue
        label, text = entry[0][:LABEL_CHARS], entry[1][:min(TEXT_CHARS, room)]
        if not text:
            break
        outputs[label], room = text, room - len(text)
    return outputs


def _labels(source_cells, submission_cells) -> list[str | None]:
    """The label under which each submission cell ran in the sandbox (as
    ``restore.student_program`` names them), None for cells that did not run there."""
    roles = {c.grade_id: c.role for c in source_cells if c.grade_id}
    labels, seen = [], set()
    for index, cell in enumerate(submission_cells):
        role = roles.get(cell.grade_id) if cell.grade_id not in seen else None
        if role is None:
            labels.append(f"cell {index + 1}" if cell.kind == "code" else None)
            continue
        seen.add(cell.grade_id)
        labels.append(cell.grade_id if role in ("answer", "setup", "helper") and cell.kind == "code" else None)
    return labels


def executed_copy(source_cells, submission_cells, printed: dict[str, str], errors: list) -> str:
    """The review copy's JSON text (see the module's docstring). ``source_cells`` and
    ``submission_cells`` are ``restore.Cell`` lists, ``printed`` comes from
    :func:`bounded_outputs`, ``errors`` are the worker's ``[label, type, message]``."""
    by_id = {c.grade_id: c for c in source_cells if c.grade_id}
    failures = {label: (kind, message) for label, kind, message in errors}
    cells, room = [], NOTEBOOK_CHARS
    for cell, label in zip(submission_cells, _labels(source_cells, submission_cells)):
        original = by_id.get(label) if label else None
        source = safe_text(original.source if original is not None and original.role in ("setup", "helper")
                           else cell.source)
        if len(source) > room:
            cells.append(nbformat.v4.new_markdown_cell(
                f"(The review copy stops here: it holds at most {NOTEBOOK_CHARS} characters.)"))
            break
        room -= len(source)
        if cell.kind == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(source))
            continue
        if cell.kind != "code":
            cells.append(nbformat.v4.new_raw_cell(source))
            continue
        outputs = []
        if label in printed:
            outputs.append(nbformat.v4.new_output("stream", name="stdout", text=safe_text(printed[label])))
        if label in failures:
            kind, message = failures[label]
            outputs.append(nbformat.v4.new_output("error", ename=safe_text(kind, multiline=False),
                                                  evalue=safe_text(message), traceback=[]))
        cells.append(nbformat.v4.new_code_cell(source, outputs=outputs))
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"cnnlab": {"review_copy": True}})
    return nbformat.writes(notebook)
