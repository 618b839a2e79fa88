"""The grading contract, for every problem set in solutions/ (issue 15 items 1-3):

- the judge owns its data: every expectation is computed from values the student's code never
  touched, so an answer that returns the right values but overwrites its arguments still passes
  (in nbgrader's single kernel too), and a backward pass that zeroes ``dout`` and returns zeros
  fails every test of a backward pass;
- only answers cross: the student's side (plain and ``side: student`` set-up cells) holds nothing
  from the answer key, and the solution passes when the cells run split as the grader splits them;
- every answer cell declares what is off limits and its task's text says so; ``mutates`` names
  real parameters of functions the cell defines.

Everything runs in-process with tests/setlib.py (no kernel, no sandbox).
"""
from __future__ import annotations

import ast
import importlib
import re
import types

import nbformat
import pytest

from tests.conftest import REPO
from tests.setlib import run_cells, scribbling, student_names, zeroing_backward

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SETS = sorted((REPO / "solutions").glob("*.ipynb"))
BACKWARD_CALL = re.compile(r"\b\w+_backward\w*\(")

# What answers a task of each set, if the student's side held it: "module" (all of it) or
# "module.name" (one function or class).
ANSWER_KEY = {
    "01_perceptron": ["cnnlab.reference", "cnnlab.nets"],
    "02_backprop": ["cnnlab.reference", "cnnlab.nets"],
    "03_convolution": ["cnnlab.reference", "cnnlab.nets", "cnnlab.arith.conv_output_size",
                       "cnnlab.arith.conv_param_count"],
    "04_relu_pooling": ["cnnlab.reference", "cnnlab.nets"],
    "05_lenet": ["cnnlab.reference", "cnnlab.nets", "cnnlab.train"],
    "06_alexnet_dropout": ["cnnlab.reference", "cnnlab.nets"],
    "07_vgg": ["cnnlab.reference", "cnnlab.nets", "cnnlab.arith.receptive_field", "cnnlab.arith.conv_param_count"],
    "08_googlenet_inception": ["cnnlab.reference", "cnnlab.nets", "cnnlab.experiments.inception",
                               "cnnlab.arith.conv_param_count", "cnnlab.arith.conv_mult_adds"],
    "09_resnet": ["cnnlab.reference", "cnnlab.nets"],
    "10_batchnorm": ["cnnlab.reference", "cnnlab.nets"],
}


def _ids(path):
    return path.stem


def _cells(path):
    return nbformat.read(path, as_version=4).cells


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _answer_cells(path):
    return [c for c in _cells(path) if _nbgrader(c).get("solution")]


def _resolve(dotted: str):
    """The module or the module's attribute that ``dotted`` names."""
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name)


def answer_key_names(namespace: dict, key: list[str]) -> dict[str, str]:
    """The names in ``namespace`` bound to something in ``key`` (a module listed, anything defined
    in it, or a listed function), each with what it is."""
    found = {}
    for name, value in namespace.items():
        for dotted in key:
            target = _resolve(dotted)
            if isinstance(target, types.ModuleType):
                home = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
                if isinstance(home, str) and (home == dotted or home.startswith(dotted + ".")):
                    found[name] = f"{home}.{getattr(value, '__qualname__', '')}".rstrip(".")
            elif value is target:
                found[name] = dotted
    return found


def test_answer_key_names_sees_an_imported_reference_function():
    """The check below would have caught set 03's old set-up cell (`from cnnlab.reference import conv_forward`)."""
    from cnnlab import reference
    from cnnlab.arith import conv_output_size
    namespace = {"conv_forward": reference.conv_forward, "reference": reference, "size": conv_output_size, "n": 3}
    assert answer_key_names(namespace, ANSWER_KEY["03_convolution"]).keys() == {"conv_forward", "reference", "size"}
    assert answer_key_names({"np": __import__("numpy")}, ANSWER_KEY["03_convolution"]) == {}


def test_every_set_has_an_answer_key():
    assert {path.stem for path in SETS} == set(ANSWER_KEY)


# --------------------------------------------------------------------------- the judge owns its data

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_an_answer_that_overwrites_its_arguments_after_answering_still_passes(path):
    """Each answer returns the solution's values, then zeroes every array, list and dict it was
    given (except what its cell declares under ``mutates``): no test may have read them after."""
    results = run_cells(path, wrap=scribbling)
    assert {cell: error for cell, error in results.items() if error} == {}, \
        "these tests compute something from an array after handing it to the student's function: pass a copy"


BACKWARD_SETS = [path for path in SETS if any("_backward" in c.source for c in _answer_cells(path))]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("path", BACKWARD_SETS, ids=_ids)
def test_a_backward_pass_that_zeroes_dout_and_returns_zeros_fails_every_backward_test(path):
    results = run_cells(path, wrap=zeroing_backward)
    backward_tests = [_nbgrader(c)["grade_id"] for c in _cells(path)
                      if _nbgrader(c).get("grade") and BACKWARD_CALL.search(c.source)]
    assert backward_tests, f"{path.name} has backward answers but no test calls one"
    passing = [cell for cell in backward_tests if results[cell] is None]
    assert passing == [], f"zeroing dout in place and returning zeros passes {passing}"


# --------------------------------------------------------------------------- only answers cross

@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_the_students_side_holds_nothing_that_answers_a_task(path):
    leaked = answer_key_names(student_names(path), ANSWER_KEY[path.stem])
    assert leaked == {}, f"the student's namespace gets {leaked}: move them to a set-up cell with side 'judge'"


@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_the_solution_passes_with_the_cells_split_as_the_grader_splits_them(path):
    """Answers need nothing from the judge's set-up cells, and the tests need from the student
    only the names answer and helper cells define."""
    results = run_cells(path, two_sides=True)
    assert {cell: error for cell, error in results.items() if error} == {}


# --------------------------------------------------------------------------- off limits and mutates

@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_every_answer_cell_declares_what_is_off_limits_and_its_task_says_so(path):
    said = ""
    for index, cell in enumerate(_cells(path)):
        if cell.cell_type == "markdown" and "Off limits for" in cell.source:
            said = cell.source[cell.source.index("Off limits for"):]
        if not _nbgrader(cell).get("solution"):
            continue
        where = f"{path.name}, cell {index} ({_nbgrader(cell)['grade_id']})"
        off_limits = cell.metadata.get("cnnlab", {}).get("off_limits")
        assert off_limits and all(isinstance(n, str) and re.fullmatch(r"\w+(\.\w+)*", n) for n in off_limits), \
            f"{where}: declare metadata.cnnlab.off_limits, a list of dotted module or attribute names"
        unsaid = [name for name in off_limits if f"`{name}`" not in said]
        assert unsaid == [], f"{where}: the task's text (its 'Off limits for ...' sentence) does not name {unsaid}"


@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_mutates_names_parameters_of_functions_the_cell_defines(path):
    for cell in _answer_cells(path):
        mutates = cell.metadata.get("cnnlab", {}).get("mutates", {})
        defined = {node.name: [a.arg for a in node.args.args] for node in ast.parse(cell.source).body
                   if isinstance(node, ast.FunctionDef)}
        for function, parameters in mutates.items():
            assert function in defined, f"{path.name}: mutates names {function}, which the cell does not define"
            assert set(parameters) <= set(defined[function]), \
                f"{path.name}: {function} has no parameter {set(parameters) - set(defined[function])}"


def test_only_bn_param_is_declared_as_mutated():
    """cs231n's API mutates bn_param (running averages) and nothing else the sets use."""
    declared = {(path.stem, function, tuple(parameters)) for path in SETS for cell in _answer_cells(path)
                for function, parameters in cell.metadata.get("cnnlab", {}).get("mutates", {}).items()}
    assert declared == {("10_batchnorm", "batchnorm_forward", ("bn_param",)),
                        ("10_batchnorm", "spatial_batchnorm_forward", ("bn_param",))}


# --------------------------------------------------------------------------- README

@pytest.mark.parametrize("path", SETS, ids=_ids)
def test_readme_table_names_every_graded_answer(path):
    row = next((line for line in (REPO / "README.md").read_text().splitlines()
                if line.startswith(f"| `{path.stem}` |")), None)
    assert row, f"README.md's problem-set table has no row for {path.stem}"
    names = [node.name for cell in _answer_cells(path) for node in ast.parse(cell.source).body
             if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    missing = [name for name in names if f"`{name}`" not in row]
    assert missing == [], f"README.md's row for {path.stem} leaves out {missing}"

