"""Attacks on the judge's side, graded through the real sandboxed grader (`cnnlab grade --jobs 2`).

Sets 03 (convolution) and 10 (batch normalization) are copied into a temporary folder
with the metadata the judge reads added (`mutates`, `off_limits`, a judge-side set-up
cell), so these tests follow the grader's contract and not the notebooks' state. One
batch per set; each case says the score and status it must get, and every row, the
row that was in the sheet before and the files outside --out/--feedback must survive.
Needs bubblewrap: skips with the reason without it, fails under CI=true.
"""
from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnnlab.grading import sandbox
from cnnlab.grading.judge import free_names
from cnnlab.grading.restore import load_source, split_test
from tests.conftest import REPO, missing_outside_part

OFF_LIMITS = ["cnnlab.reference", "torch.nn.functional", "torch.nn.Conv2d", "torch.nn.MaxPool2d"]
TIMEOUT, MAX_TIME = 8, 48
SLEEP_AT_START = 24   # the slow-rerun case: one run fits in MAX_TIME, two do not


def _conv_source(path: Path) -> Path:
    """Set 03 with its set-up split: numpy/torch on both sides, the rest (the reference
    conv_forward, numerical_gradient, the random cases) on the judge's side only."""
    nb = nbformat.read(REPO / "solutions" / "03_convolution.ipynb", as_version=4)
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "setup":
            cell.metadata["cnnlab"] = {"side": "judge"}
            common = nbformat.v4.new_code_cell("import numpy as np\nimport torch")
            common.metadata["nbgrader"] = dict(meta, grade_id="setup_common")
            setup_index = index
        elif meta.get("solution"):
            cell.metadata["cnnlab"] = {"off_limits": OFF_LIMITS}
    nb.cells.insert(setup_index, common)
    nbformat.write(nb, path)
    return path


def _batchnorm_source(path: Path) -> Path:
    nb = nbformat.read(REPO / "solutions" / "10_batchnorm.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "batchnorm_forward":
            cell.metadata["cnnlab"] = {"mutates": {"batchnorm_forward": ["bn_param"]}}
        elif grade_id == "spatial_batchnorm":
            cell.metadata["cnnlab"] = {"mutates": {"spatial_batchnorm_forward": ["bn_param"]}}
    nbformat.write(nb, path)
    return path


def _points_without(source, names) -> float:
    """The points of the test cells that read none of ``names``."""
    return sum(c.points for c in source if c.role == "test"
               and not any(free_names(code) & set(names) for _, code in split_test(c.source)))


def _with_cell(source_path, code, first=False):
    nb = nbformat.read(source_path, as_version=4)
    nb.cells.insert(0 if first else len(nb.cells), nbformat.v4.new_code_cell(code))
    return nb


def _conv_cases(path):
    """student -> (notebook, score, status part ("ok": exactly ok), text the feedback must hold)."""
    source = load_source(path)
    full = sum(c.points for c in source if c.role == "test")
    zero_backward = ("def conv_backward_naive(dout, cache):\n    x, w, b, conv_param = cache\n"
                     "    dout[...] = 0\n    return np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)\n")
    return {
        "ada": (nbformat.read(path, as_version=4), full, "ok", ""),
        "zero_dout": (_with_cell(path, zero_backward), _points_without(source, ["conv_backward_naive"]), "ok",
                      "numerical gradient"),
        "own_helper": (_with_cell(path, zero_backward + (  # its own checker, under the judge's names
            "def numerical_gradient(f, x, df=None, h=1e-5):\n    return np.zeros_like(x)\n"
            "def conv_forward(*a, **k):\n    return conv_forward_naive(*a[:3], {'stride': a[3], 'pad': a[4]})\n")),
            _points_without(source, ["conv_backward_naive"]), "ok", ""),
        "calls_reference": (_with_cell(path, (
            "def conv_forward_naive(x, w, b, conv_param):\n"
            "    from cnnlab.reference import conv_forward\n"
            "    return conv_forward(x, w, b, conv_param['stride'], conv_param['pad'])\n")),
            _points_without(source, ["conv_forward_naive"]), "off limits: conv_forward_naive uses cnnlab.reference",
            "which the exercise text forbids"),
        "hides_the_import": (_with_cell(path, (  # a name built at run time: only the worker's report sees it
            "import importlib\n"
            "def conv_forward_naive(x, w, b, conv_param):\n"
            "    reference = importlib.import_module('cnnlab.' + 'reference')\n"
            "    return reference.conv_forward(x, w, b, conv_param['stride'], conv_param['pad'])\n")),
            _points_without(source, ["conv_forward_naive"]), "off limits: conv_forward_naive uses cnnlab.reference",
            "reported importing cnnlab.reference"),
        "one_slow_test": (_with_cell(path, "def conv_param_count(f, d1, k):\n    while True:\n        pass\n"),
                          full - next(c.points for c in source if c.grade_id == "test_conv_param_count"),
                          "test timed out: test_conv_param_count", "past the per-test limit"),
        "slow_rerun": (_with_cell(path, f"import time\ntime.sleep({SLEEP_AT_START})\n" + zero_backward),
                       _points_without(source, ["conv_backward_naive"]), "ok", "failed after a hidden test had run"),
    }


def _batchnorm_cases(path):
    source = load_source(path)
    full = sum(c.points for c in source if c.role == "test")
    return {
        "ada": (nbformat.read(path, as_version=4), full, "ok", ""),
        "zero_dout": (_with_cell(path, (
            "def batchnorm_backward(dout, cache):\n    dout[...] = 0\n"
            "    return np.zeros_like(dout), np.zeros(dout.shape[1]), np.zeros(dout.shape[1])\n")),
            _points_without(source, ["batchnorm_backward", "spatial_batchnorm_forward"]), "ok", ""),
        "dtype_in_bn_param": (_with_cell(path, (  # cs231n style: a dtype kept in bn_param
            "_forward = batchnorm_forward\n"
            "def batchnorm_forward(x, gamma, beta, bn_param):\n"
            "    bn_param.setdefault('dtype', np.float64)\n"
            "    return _forward(x.astype(bn_param['dtype']), gamma, beta, bn_param)\n")), full, "ok", ""),
        "namedtuple_cache": (_with_cell(path, (
            "from collections import namedtuple\nCache = namedtuple('Cache', 'x_hat gamma std')\n"
            "_forward = batchnorm_forward\n"
            "def batchnorm_forward(x, gamma, beta, bn_param):\n"
            "    out, cache = _forward(x, gamma, beta, bn_param)\n    return out, Cache(*cache)\n")),
            full, "ok", ""),
        "object_in_bn_param": (_with_cell(path, (
            "_forward = batchnorm_forward\n"
            "def batchnorm_forward(x, gamma, beta, bn_param):\n"
            "    bn_param['log'] = object()\n    return _forward(x, gamma, beta, bn_param)\n")),
            # only the unknown-mode convention passes: that call raises ValueError, so nothing comes back
            next(c.points for c in source if c.grade_id == "test_batchnorm_mode_error"), "ok", "bn_param['log']"),
    }


def _needs_sandbox():
    try:
        sandbox.check_available()
    except sandbox.SandboxUnavailable as err:
        missing_outside_part(f"grading sandbox: {err}")


def _prepare(root: Path, name: str, source: Path, cases: dict) -> dict:
    """Write ``cases`` and the command that grades them in one batch; the sheet starts with
    another notebook's row."""
    folder = root / name
    folder.mkdir()
    submissions = {}
    for student, (notebook, score, status, text) in cases.items():
        target = folder / student / source.name
        target.parent.mkdir()
        nbformat.write(notebook, target)
        submissions[student] = (target, score, status, text)
    sheet, feedback = folder / "grades.csv", folder / "feedback"
    sheet.write_text("student,notebook,score,max_score\nzed,other.ipynb,7,9\n")
    watched = [source, *(s[0] for s in submissions.values())]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in watched}
    command = [sys.executable, "-m", "cnnlab.cli", "grade", *(str(s[0]) for s in submissions.values()),
               "--solution", str(source), "--out", str(sheet), "--feedback", str(feedback), "--jobs", "2",
               "--timeout", str(TIMEOUT), "--max-time", str(MAX_TIME), "--max-memory", "2G"]
    return dict(command=command, folder=folder, submissions=submissions, before=before, sheet=sheet,
                feedback=feedback, full=sum(c.points for c in load_source(source) if c.role == "test"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Both batches at once (they mostly wait on time limits); each batch's new files are
    those outside the other batch's folder."""
    _needs_sandbox()
    root = tmp_path_factory.mktemp("hostile-judge")
    conv = _conv_source(root / "03_convolution.ipynb")
    batchnorm = _batchnorm_source(root / "10_batchnorm.ipynb")
    batches = {"conv": _prepare(root, "conv", conv, _conv_cases(conv)),
               "batchnorm": _prepare(root, "batchnorm", batchnorm, _batchnorm_cases(batchnorm))}
    files_before = set(root.rglob("*"))
    processes = {name: subprocess.Popen(batch.pop("command"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=dict(os.environ)) for name, batch in batches.items()}
    for name, batch in batches.items():
        process = processes[name]
        stdout, stderr = process.communicate(timeout=900)
        batch["result"] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        batch["rows"] = {r["student"]: r for r in csv.DictReader(batch["sheet"].open())}
    new_files = set(root.rglob("*")) - files_before
    for name, batch in batches.items():
        others = [b["folder"] for n, b in batches.items() if n != name]
        batch["new_files"] = {p for p in new_files if not any(f == p or f in p.parents for f in others)}
    return batches


def _case_ids():
    return [("conv", s) for s in ("ada", "zero_dout", "own_helper", "calls_reference", "hides_the_import",
                                  "one_slow_test", "slow_rerun")] + \
           [("batchnorm", s) for s in ("ada", "zero_dout", "dtype_in_bn_param", "namedtuple_cache",
                                       "object_in_bn_param")]


@pytest.mark.parametrize("which", ["conv", "batchnorm"])
def test_each_batch_finishes_and_keeps_every_row(graded, which):
    batch = graded[which]
    assert batch["result"].returncode == 0, batch["result"].stdout[-3000:] + batch["result"].stderr[-3000:]
    assert set(batch["rows"]) == {"zed", *batch["submissions"]}
    assert batch["rows"]["zed"]["score"] == "7", "a row from before the batch must be kept"
    for path, digest in batch["before"].items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} was changed"
    outside = [p for p in batch["new_files"] if p != batch["sheet"] and batch["feedback"] not in p.parents
               and p != batch["feedback"] and not p.name.startswith(batch["sheet"].name)]
    assert outside == [], "nothing may be written outside --out and --feedback"


@pytest.mark.parametrize("which, student", [pytest.param(w, s, id=f"{w}-{s}") for w, s in _case_ids()])
def test_each_case_gets_its_score_status_and_message(graded, which, student):
    batch = graded[which]
    _, score, status, text = batch["submissions"][student]
    row = batch["rows"][student]
    feedback = (batch["feedback"] / student / f"{batch['submissions'][student][0].stem}.md").read_text()
    assert float(row["max_score"]) == batch["full"]
    assert float(row["score"]) == score, (row, feedback)
    assert row["status"] == "ok" if status == "ok" else status in row["status"], (row, feedback)
    assert text in feedback, feedback


def test_the_cases_cost_what_they_should(graded):
    """The attacks that once earned full marks now lose the points of the tests they fake."""
    conv, batchnorm = graded["conv"], graded["batchnorm"]
    assert 0 < conv["submissions"]["zero_dout"][1] < conv["full"]
    assert 0 < batchnorm["submissions"]["zero_dout"][1] < batchnorm["full"]
    assert 0 < conv["submissions"]["calls_reference"][1] < conv["full"]
