"""`cnnlab exercises` refuses a set that would ship broken, and `cnnlab grade --solution`
refuses an exercise (cnnlab/grading/release.py).

Each refusal starts from a minimal valid set (:func:`valid_cells`, which itself passes
every check) with exactly one mistake; the message must name the file, the cell (from
1), its grade_id and the fix, and nothing may be written. The example set of
docs/authoring.md (examples/) is generated, checked, validated and graded here too.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest

from cnnlab.cli import main
from cnnlab.grading import generate, release, sandbox
from cnnlab.grading.generate import BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION
from tests.conftest import REPO, missing_outside_part

FLAGS = {"answer": {"solution": True, "grade": False, "locked": False},
         "manual": {"solution": True, "grade": True, "locked": False, "points": 1},
         "test": {"solution": False, "grade": True, "locked": True, "points": 2},
         "setup": {"solution": False, "grade": False, "locked": True}}
EXAMPLE = REPO / "examples" / "solutions" / "00_example.ipynb"


def cell(kind: str | None, source: str, grade_id: str | None = None, markdown: bool = False, **cnnlab):
    """A notebook cell of ``kind`` (None: an ordinary cell) with nbgrader's full metadata."""
    metadata = {}
    if kind:
        metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, **FLAGS[kind]}
    if cnnlab:
        metadata["cnnlab"] = cnnlab
    new = nbformat.v4.new_markdown_cell if markdown else nbformat.v4.new_code_cell
    return new(source, metadata=metadata)


def valid_cells() -> list:
    """A set-up cell, an answer, a test with a hidden part, a free-text answer."""
    return [cell(None, "# Doubling\nWrite `double`.", markdown=True),
            cell("setup", "import numpy as np", "imports"),
            cell("answer", f"def double(x):\n    {BEGIN_SOLUTION}\n    return 2 * x\n    {END_SOLUTION}", "double",
                 off_limits=["numpy.multiply"]),
            cell("test", f"assert double(2) == 4\n{BEGIN_HIDDEN}\nassert double(-3) == -6\n{END_HIDDEN}",
                 "test_double"),
            cell("manual", f"{BEGIN_SOLUTION}\nDoubling is linear.\n{END_SOLUTION}", "why", markdown=True)]


def write_set(folder, cells, name="00_double.ipynb"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def with_change(change):
    cells = valid_cells()
    change(cells)
    return cells


def _set(cells, index, **fields):
    cells[index].metadata["nbgrader"].update(fields)


def _drop(cells, index, key):
    del cells[index].metadata["nbgrader"][key]


def _source(index, text):
    def change(cells):
        cells[index].source = text
    return change


HELPER = cell(None, "def check(f):\n    assert f(2) == 4")
# (name, change, cell from 1, grade_id in the message, words of the problem, words of the fix)
MISTAKES = [
    ("answer without markers", _source(2, "def double(x):\n    return 2 * x"), 3, "double",
     "no '### BEGIN SOLUTION'", "between those two marker lines"),
    ("test without points", lambda c: _drop(c, 3, "points"), 4, "test_double", "has no points", "a number >= 0"),
    ("non-numeric points", lambda c: _set(c, 3, points="2"), 4, "test_double", "not a number", "a number >= 0"),
    ("boolean points", lambda c: _set(c, 3, points=True), 4, "test_double", "not a number", "a number >= 0"),
    ("negative points", lambda c: _set(c, 3, points=-1), 4, "test_double", "negative", "a number >= 0"),
    ("manual cell without points", lambda c: _drop(c, 4, "points"), 5, "why", "has no points", "a number >= 0"),
    ("duplicate grade_id", lambda c: _set(c, 3, grade_id="double"), 4, "double", "also used by cell 3",
     "its own grade_id"),
    ("test without grade_id", lambda c: _set(c, 3, grade_id=None), 4, None, "test cell has no grade_id",
     "give it a grade_id"),
    ("answer without grade_id", lambda c: _set(c, 2, grade_id=""), 3, None, "answer cell has no grade_id",
     "give it a grade_id"),
    ("nbgrader keys missing", lambda c: _drop(c, 1, "schema_version"), 2, "imports", "lacks ['schema_version']",
     "nbgrader itself needs"),
    ("END SOLUTION without BEGIN", _source(2, f"def double(x):\n    {BEGIN_SOLUTION}\n    return 2 * x\n"
                                                      f"    {END_SOLUTION}\n    {END_SOLUTION}"), 3, "double",
     "line 5: '### END SOLUTION' without a matching", "add '### BEGIN SOLUTION'"),
    ("nested solution markers", _source(2, f"{BEGIN_SOLUTION}\n{BEGIN_SOLUTION}\nx = 1\n{END_SOLUTION}"), 3, "double",
     "inside the '### BEGIN SOLUTION' block opened on line 1", "cannot nest"),
    ("unclosed hidden tests", _source(3, f"assert double(2) == 4\n{BEGIN_HIDDEN}\nassert double(-3) == -6"), 4,
     "test_double", "'### BEGIN HIDDEN TESTS' on line 2 is never closed", "add a line '### END HIDDEN TESTS'"),
    ("nested hidden tests", _source(3, f"{BEGIN_HIDDEN}\n{BEGIN_HIDDEN}\nassert double(1) == 2\n{END_HIDDEN}"), 4,
     "test_double", "inside the '### BEGIN HIDDEN TESTS' block", "cannot nest"),
    ("hidden block inside a for", _source(3, f"for x in [1, 2]:\n    assert double(x) == 2 * x\n    {BEGIN_HIDDEN}\n"
                                              f"    assert double(-x) == -2 * x\n    {END_HIDDEN}"), 4, "test_double",
     "line 3: '### BEGIN HIDDEN TESTS', line 5: '### END HIDDEN TESTS' are indented, i.e. inside a compound", "at the left margin"),
    ("hidden block splitting a statement", _source(3, f"{BEGIN_HIDDEN}\nif True:\n{END_HIDDEN}\n"
                                                       "    assert double(1) == 2"), 4, "test_double",
     "part of the test does not compile on its own", "each on its own"),
    ("hidden tests in an answer cell", _source(2, f"{BEGIN_SOLUTION}\ndouble = lambda x: 2 * x\n{END_SOLUTION}\n"
                                                  f"{BEGIN_HIDDEN}\nassert double(1) == 2\n{END_HIDDEN}"), 3, "double",
     "hidden-test markers in a cell that is not a test cell", "move the hidden tests into a test cell"),
    ("solution markers in a set-up cell", _source(1, f"{BEGIN_SOLUTION}\nimport numpy as np\n{END_SOLUTION}"), 2,
     "imports", "solution markers in a cell that is not an answer cell", "make it an answer cell"),
    ("test calls a helper of an ordinary cell",
     lambda c: (c.insert(3, HELPER), setattr(c[4], "source", "check(double)")), 5, "test_double",
     "reads `check`, which only cell 4 defines", "make cell 4 a read-only set-up cell"),
    ("IPython magic", _source(1, "import numpy as np\n%matplotlib inline"), 2, "imports",
     "line 2: an IPython magic", "plain Python"),
    ("shell escape", _source(1, "!pip install numpy\nimport numpy as np"), 2, "imports",
     "line 1: an IPython magic or shell escape", "plain Python"),
    ("get_ipython", _source(1, "import numpy as np\nget_ipython().run_line_magic('load_ext', 'x')"), 2, "imports",
     "line 2: an IPython magic", "plain Python"),
    ("side neither student nor judge", lambda c: c[1].metadata.update(cnnlab={"side": "both"}), 2, "imports",
     "metadata.cnnlab.side is 'both'", '"student"'),
    ("side on an answer cell", lambda c: c[2].metadata["cnnlab"].update(side="judge"), 3, "double",
     "not a locked set-up cell", "remove it"),
    ("mutates names a parameter the def lacks", lambda c: c[2].metadata["cnnlab"].update(mutates={"double": ["y"]}),
     3, "double", "names ['y'], not parameters of double(x)", "bn_param"),
    ("mutates names a function the cell lacks",
     lambda c: c[2].metadata["cnnlab"].update(mutates={"triple": ["x"]}), 3, "double",
     "names 'triple', which this cell does not define", "bn_param"),
    ("mutates not an object", lambda c: c[2].metadata["cnnlab"].update(mutates=["x"]), 3, "double",
     "mutates is list, not an object", "bn_param"),
    ("off_limits not a list", lambda c: c[2].metadata["cnnlab"].update(off_limits="numpy.multiply"), 3, "double",
     "off_limits is str, not a list", "cnnlab.reference"),
    ("off_limits not dotted names", lambda c: c[2].metadata["cnnlab"].update(off_limits=["numpy multiply", 3]), 3,
     "double", "holds ['numpy multiply', 3], not dotted names", "cnnlab.reference"),
    ("off_limits on a test cell", lambda c: c[3].metadata.update(cnnlab={"off_limits": ["numpy"]}), 4,
     "test_double", "off_limits is set on a cell that is not an answer cell", "move it to the answer cell"),
    ("unknown cnnlab key", lambda c: c[2].metadata["cnnlab"].update(offlimits=["numpy"]), 3, "double",
     "unknown key 'offlimits'", "use only side, mutates, off_limits"),
]


@pytest.fixture
def sandboxed():
    if not sandbox.usable():
        missing_outside_part("the release check grades through the sandbox: install bubblewrap (bwrap)")


def test_the_minimal_set_passes_the_static_checks(tmp_path):
    assert release.static_problems(write_set(tmp_path / "solutions", valid_cells())) == []
    percent_in_a_string = with_change(_source(1, 'import numpy as np\nNOTE = """\n% of pixels\n!"""'))
    assert release.static_problems(write_set(tmp_path / "other", percent_in_a_string)) == []


@pytest.mark.parametrize("name,change,index,grade_id,what,fix", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_refused_naming_file_cell_grade_id_and_fix(tmp_path, capsys, name, change, index,
                                                                   grade_id, what, fix):
    cells = with_change(change)
    source = write_set(tmp_path / "solutions", cells)
    out = tmp_path / "exercises"
    assert main(["exercises", str(source), str(out), "--no-grade"]) == 2
    err = capsys.readouterr().err
    assert not out.exists(), "nothing may be written"
    assert "nothing written; 1 problem(s) to fix" in err, err
    where = f"{source}, cell {index} of {len(cells)}" + (f" (grade_id {grade_id!r})" if grade_id else "") + ": "
    assert where in err, err
    problem, fix_line = err.split(where, 1)[1].splitlines()[:2]
    assert what in problem, err
    assert fix_line.strip().startswith("fix:") and fix in fix_line, err


def test_every_problem_of_every_file_is_reported_at_once(tmp_path, capsys):
    folder = tmp_path / "solutions"
    write_set(folder, with_change(lambda c: _drop(c, 3, "points")), "01_a.ipynb")
    write_set(folder, with_change(_source(2, "def double(x):\n    return 2 * x")), "02_b.ipynb")
    write_set(folder, with_change(lambda c: (_set(c, 3, grade_id="double"), _set(c, 4, points="many"))), "03_c.ipynb")
    write_set(folder, valid_cells(), "04_fine.ipynb")
    (folder / "05_broken.ipynb").write_text("{ not json")
    out = tmp_path / "exercises"
    assert main(["exercises", str(folder), str(out), "--no-grade"]) == 2
    err = capsys.readouterr().err
    assert "nothing written; 5 problem(s) to fix" in err, err
    for name, index in (("01_a", 4), ("02_b", 3), ("03_c", 4), ("03_c", 5)):
        assert f"{folder / name}.ipynb, cell {index} of 5" in err, err
    assert f"{folder / '05_broken.ipynb'}: cannot be read as a Jupyter notebook" in err
    assert "04_fine" not in err and not out.exists()


def test_exercises_refuses_to_write_over_its_solutions(tmp_path, capsys):
    source = write_set(tmp_path / "solutions", valid_cells())
    before = source.read_bytes()
    assert main(["exercises", str(source), str(tmp_path / "solutions"), "--no-grade"]) == 2
    assert "is the folder of the solutions" in capsys.readouterr().err
    assert source.read_bytes() == before
    assert main(["exercises", str(tmp_path / "nothing.ipynb"), "--no-grade"]) == 2
    assert "neither a folder of solution notebooks nor a .ipynb file" in capsys.readouterr().err


def test_exercises_on_one_file_writes_only_its_exercise_and_check_reports_it(tmp_path, capsys):
    folder = tmp_path / "solutions"
    source = write_set(folder, valid_cells())
    write_set(folder, with_change(lambda c: _drop(c, 3, "points")), "99_broken.ipynb")  # not asked for
    out = tmp_path / "exercises"
    assert main(["exercises", str(source), str(out), "--check"]) == 1
    assert f"stale: {source.name}" in capsys.readouterr().out
    assert main(["exercises", str(source), str(out), "--no-grade"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [source.name]
    exercise = nbformat.read(out / source.name, as_version=4)
    assert "2 * x" not in exercise.cells[2].source and "NotImplementedError" in exercise.cells[2].source
    assert exercise.cells[4].source == generate.MARKDOWN_STUB, "a free-text answer is blanked too"
    assert BEGIN_HIDDEN not in exercise.cells[3].source and "-6" not in exercise.cells[3].source
    assert main(["exercises", str(source), str(out), "--check"]) == 0


def test_without_a_sandbox_the_release_check_refuses_and_points_to_no_grade(tmp_path, capsys, monkeypatch):
    def unavailable():
        raise sandbox.SandboxUnavailable("bwrap is not installed")

    monkeypatch.setattr(sandbox, "check_available", unavailable)
    source = write_set(tmp_path / "solutions", valid_cells())
    assert main(["exercises", str(source), str(tmp_path / "exercises")]) == 2
    err = capsys.readouterr().err
    assert "cannot run the release check" in err and "bwrap is not installed" in err and "--no-grade" in err
    assert not (tmp_path / "exercises").exists()


def test_a_free_text_cell_without_markers_is_blanked_whole_as_nbgrader_does(tmp_path):
    source = write_set(tmp_path / "solutions", with_change(_source(4, "Doubling is linear.")))
    assert release.static_problems(source) == []
    exercise = generate.write_exercises([source], tmp_path / "exercises")[0]
    assert nbformat.read(exercise, as_version=4).cells[4].source == generate.MARKDOWN_STUB


def test_make_exercise_names_the_file_and_cell_of_broken_markers():
    nb = nbformat.v4.new_notebook(cells=valid_cells())
    nb.cells[3].source = f"{BEGIN_HIDDEN}\nassert True"
    with pytest.raises(ValueError, match=r"sets/00\.ipynb, cell 4 of 5: '### BEGIN HIDDEN TESTS' is never closed"):
        generate.make_exercise(nb, "sets/00.ipynb")


# --------------------------------------------------------------------------- the release check (real grader)

@pytest.mark.usefixtures("sandboxed")
def test_a_valid_set_passes_the_release_check_and_is_written(tmp_path, capsys):
    source = write_set(tmp_path / "solutions", valid_cells())
    out = tmp_path / "exercises"
    assert main(["exercises", str(source), str(out)]) == 0, capsys.readouterr().err
    assert (out / source.name).is_file()


@pytest.mark.usefixtures("sandboxed")
def test_a_test_that_hands_the_student_a_torch_module_is_refused_naming_it(tmp_path, capsys):
    cells = [cell("setup", "import torch", "imports"),
             cell("answer", f"def count_parameters(model):\n    {BEGIN_SOLUTION}\n"
                            f"    return sum(p.numel() for p in model.parameters())\n    {END_SOLUTION}", "count"),
             cell("test", "assert count_parameters(torch.nn.Linear(2, 3)) == 9", "test_count"),
             cell("test", "assert 1 + 1 == 2", "test_free_points")]
    source = write_set(tmp_path / "solutions", cells)
    out = tmp_path / "exercises"
    assert release.static_problems(source) == []
    assert main(["exercises", str(source), str(out)]) == 2
    err = capsys.readouterr().err
    assert not out.exists()
    assert "nothing written; 2 problem(s) to fix" in err, err
    assert f"{source}, cell 3 of 4 (grade_id 'test_count'): the solution gets 0 of 2 points: TypeError: " \
           "the grader cannot send `count_parameters` argument 1: it is a torch.nn.modules.linear.Linear" in err, err
    assert "not the module" in err
    assert f"{source}, cell 4 of 4 (grade_id 'test_free_points'): the untouched exercise gets 2 of 2 points" in err


@pytest.mark.usefixtures("sandboxed")
def test_a_set_up_cell_that_fails_in_the_grader_is_refused(tmp_path, capsys):
    source = write_set(tmp_path / "solutions", with_change(_source(1, "import numpy as np\nraise OSError('no data')")))
    assert main(["exercises", str(source), str(tmp_path / "exercises")]) == 2
    assert "the grader cannot use it" in capsys.readouterr().err and not (tmp_path / "exercises").exists()


# --------------------------------------------------------------------------- grade --solution

def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cnnlab.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


@pytest.mark.usefixtures("sandboxed")
def test_grade_refuses_an_exercise_as_solution_unless_allowed(tmp_path):
    source = write_set(tmp_path / "solutions", valid_cells())
    assert main(["exercises", str(source), str(tmp_path / "exercises"), "--no-grade"]) == 0
    exercise = tmp_path / "exercises" / source.name
    (tmp_path / "ada").mkdir()
    submission = shutil.copy(source, tmp_path / "ada" / source.name)
    refused = _cli("grade", submission, "--solution", exercise, "--out", "grades.csv", cwd=tmp_path)
    assert refused.returncode == 2 and "it looks like an exercise" in refused.stderr, refused.stderr
    assert "--allow-exercise" in refused.stderr and not (tmp_path / "grades.csv").exists()
    allowed = _cli("grade", submission, "--solution", exercise, "--out", "grades.csv", "--allow-exercise",
                   cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    graded = _cli("grade", submission, "--solution", source, "--out", "graded.csv", cwd=tmp_path)
    assert graded.returncode == 0, graded.stderr


def test_looks_like_exercise(tmp_path):
    source = write_set(tmp_path / "solutions", valid_cells())
    exercise = generate.write_exercises([source], tmp_path / "exercises")[0]
    assert release.looks_like_exercise(exercise) and not release.looks_like_exercise(source)
    (tmp_path / "junk.ipynb").write_text("junk")
    assert not release.looks_like_exercise(tmp_path / "junk.ipynb"), "unreadable: the grader says why"


# --------------------------------------------------------------------------- the example set (docs/authoring.md)

CORRECT = {"relu": "def relu(x):\n    return x * (x > 0)",
           "output_size": "def output_size(n, f, p, s):\n    return int((n - f + 2 * p) / s) + 1",
           "relu_mean": "relu_mean = float(round(1 / np.sqrt(2 * np.pi), 3))",
           "why_relu": "ReLU's gradient is 1 for positive inputs, so it does not vanish."}
WRONG = {"relu": "def relu(x):\n    return np.abs(x)",
         "output_size": "def output_size(n, f, p, s):\n    return (n - f + 2 * p) // s + 1",
         "relu_mean": "relu_mean = 0.5",
         "why_relu": "No idea."}


def _answered(exercise, answers, folder):
    """A student's copy of ``exercise`` with ``answers`` (grade_id -> cell text) written in."""
    nb = nbformat.read(exercise, as_version=4)
    for c in nb.cells:
        grade_id = c.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            c.source = answers[grade_id]
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / exercise.name)
    return folder / exercise.name


@pytest.mark.usefixtures("sandboxed")
def test_the_example_set_is_released_validated_and_graded(tmp_path, capsys):
    committed = REPO / "examples" / "exercises" / EXAMPLE.name
    assert not generate.is_stale(EXAMPLE, committed), "regenerate: cnnlab exercises " \
        "examples/solutions/00_example.ipynb examples/exercises"
    assert main(["exercises", str(EXAMPLE), str(tmp_path / "exercises")]) == 0, capsys.readouterr().err
    exercise = tmp_path / "exercises" / EXAMPLE.name
    assert exercise.read_bytes() == committed.read_bytes()
    kinds = {release.cell_kind(c.metadata.get("nbgrader", {})) for c in nbformat.read(EXAMPLE, as_version=4).cells}
    assert kinds == {None, "setup", "answer", "test", "manual"}

    validated = _cli("validate", exercise, cwd=tmp_path)
    assert validated.returncode == 1 and "3 of 3 tests failed, worth 8 of the 8 points" in validated.stdout, \
        validated.stdout + validated.stderr

    from cnnlab.grading import grade_notebook
    points = {}
    for student, answers in (("ada", CORRECT), ("bob", WRONG)):
        report = grade_notebook(_answered(exercise, answers, tmp_path / student), EXAMPLE, student=student)
        assert report.status == "ok", report
        points[student] = {t.grade_id: (t.points, t.message) for t in report.tests if t.grade_id != "why_relu"}
    assert points["ada"] == {"test_relu": (3, "passed"), "test_output_size": (3, "passed"),
                             "test_relu_mean": (2, "passed")}
    assert points["bob"]["test_relu"][0] == 0 and "ReLU keeps positive values" in points["bob"]["test_relu"][1]
    assert points["bob"]["test_output_size"] == (3, "passed")
    assert points["bob"]["test_relu_mean"] == (0, "a hidden test failed"), "0.5 passes the visible test only"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_nbgrader_releases_the_example_exactly_as_cnnlab_does(tmp_path):
    """The free-text cell included: nbgrader's student version has the same cells."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    from tests.test_nbgrader import CONFIG, _cells

    (tmp_path / "nbgrader_config.py").write_text(CONFIG.format(
        root=str(tmp_path), db_url=f"sqlite:///{tmp_path / 'gradebook.db'}", stub=generate.STUB), encoding="utf-8")
    api = NbGraderAPI(config=PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config())
    (tmp_path / "source" / "00_example").mkdir(parents=True)
    shutil.copy(EXAMPLE, tmp_path / "source" / "00_example" / EXAMPLE.name)
    result = api.generate_assignment("00_example")
    assert result["success"], result.get("error")
    assert _cells(tmp_path / "release" / "00_example" / EXAMPLE.name) == \
        _cells(REPO / "examples" / "exercises" / EXAMPLE.name)
