"""nbgrader itself as an outside check of every problem set in solutions/.

In a temporary course folder (``source/<set>/<set>.ipynb`` and an ``nbgrader_config.py``
naming the course root and a temporary gradebook), nbgrader's own ``generate_assignment``
writes the student version, and its ``autograde`` grades two submissions: the solution
(full marks expected) and the released student version, untouched (zero expected). The
student version must have the same cells as ``cnnlab exercises`` writes: the same cell
types and sources (nbgrader is told to use our stub line) and the same locking metadata.

An instructor can replay this by hand in the same layout with ``nbgrader generate_assignment
<set>`` and ``nbgrader autograde <set>``.
"""
from __future__ import annotations

import shutil

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from traitlets.config.loader import PyFileConfigLoader

from cnnlab.grading.generate import STUB
from tests.conftest import REPO

SETS = sorted((REPO / "solutions").glob("*.ipynb"))

CONFIG = """\
c = get_config()  # noqa: F821 (nbgrader's config files get this from traitlets)
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = {db_url!r}
c.ClearSolutions.code_stub = {{"python": {stub!r}}}
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """An nbgrader course folder with its config file, and the API reading that file."""
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(CONFIG.format(
        root=str(root), db_url=f"sqlite:///{root / 'gradebook.db'}", stub=STUB), encoding="utf-8")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    return root, NbGraderAPI(config=config), config.CourseDirectory.db_url


def _cells(path):
    """What a student sees of each cell: type, source, grade_id and JupyterLab's lock flags."""
    return [(c.cell_type, c.source, c.metadata.get("nbgrader", {}).get("grade_id"),
             c.metadata.get("editable", True), c.metadata.get("deletable", True))
            for c in nbformat.read(path, as_version=4).cells]


def _submit(root, student, assignment, notebook):
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True)
    shutil.copy(notebook, folder / notebook.name)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:Object of type")
@pytest.mark.parametrize("path", SETS, ids=lambda p: p.stem)
def test_nbgrader_releases_our_exercise_and_grades_solution_full_and_exercise_zero(course, path):
    root, api, db_url = course
    assignment = path.stem
    (root / "source" / assignment).mkdir(parents=True)
    shutil.copy(path, root / "source" / assignment / path.name)

    result = api.generate_assignment(assignment)
    assert result["success"], result.get("error")
    released = root / "release" / assignment / path.name
    assert _cells(released) == _cells(REPO / "exercises" / path.name), \
        "nbgrader's student version differs from ours (cnnlab exercises)"

    _submit(root, "ada", assignment, path)            # the solution, hidden tests and all
    _submit(root, "dan", assignment, released)        # the student version, untouched
    for student in ("ada", "dan"):
        result = api.autograde(assignment, student)
        assert result["success"], result.get("error")
    with Gradebook(db_url) as gradebook:
        full, untouched = (gradebook.find_submission(assignment, s) for s in ("ada", "dan"))
        points = sum(c.metadata["nbgrader"]["points"] for c in nbformat.read(path, as_version=4).cells
                     if c.metadata.get("nbgrader", {}).get("grade"))
        assert full.max_score == untouched.max_score == points
        assert full.score == points, f"nbgrader gives the solution {full.score} of {points}"
        assert untouched.score == 0, f"nbgrader gives the untouched exercise {untouched.score} of {points}"
