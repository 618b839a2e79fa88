"""Answer similarity on planted pairs, and the report's content: every student and test,
overrides, late penalties, hand-graded answers, escaping, merged shards."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import nbformat
import pytest

from cnnlab.classroom import answers, similarity
from tests import planted
from tests.conftest import REPO

INDEPENDENT = ("alice", "carol", "dave")


@pytest.fixture(scope="module")
def planted_texts():
    source = answers.load_set_source(planted.SOLUTION)
    texts = {s: answers.joined(cells, source.answer_ids) for s, cells in planted.answers().items()}
    return source, texts


def _pairs(matches):
    return {frozenset((m.a, m.b)): m for m in matches}


def test_renamed_and_reordered_copy_is_listed_both_ways(planted_texts):
    source, texts = planted_texts
    assert "add_r" in texts["bob"] and texts["bob"].index("add_r") < texts["bob"].index("def perceptron_fit")
    assert "_with_bias_column" in texts["alice"] and "augmented" not in texts["bob"]
    found = _pairs(similarity.similar_pairs(texts, answers.template_texts(source)))
    match = found[frozenset(("alice", "bob"))]
    assert match.a_share >= similarity.THRESHOLD and match.b_share >= similarity.THRESHOLD
    assert match.a_spans and match.b_spans


def test_independent_correct_answers_are_not_listed(planted_texts):
    source, texts = planted_texts
    found = _pairs(similarity.similar_pairs(texts, answers.template_texts(source)))
    for a in INDEPENDENT:
        for b in INDEPENDENT + ("erin", "frank"):
            if a != b:
                assert frozenset((a, b)) not in found, (a, b)
    refs = {**answers.reference_sources(), "solution": answers.joined(source.solution, source.answer_ids)}
    listed = {m.a for m in similarity.against_references(texts, refs, answers.template_texts(source))}
    assert listed.isdisjoint(INDEPENDENT + ("bob",))


def test_copies_of_the_reference_and_of_the_answer_key_are_listed(planted_texts):
    source, texts = planted_texts
    refs = {**answers.reference_sources(), "solution": answers.joined(source.solution, source.answer_ids)}
    found = {(m.a, m.b): m for m in similarity.against_references(texts, refs, answers.template_texts(source))}
    assert ("erin", "cnnlab.reference.perceptron") in found
    assert ("frank", "solution") in found


def test_the_template_alone_is_not_a_copy(planted_texts):
    source, _ = planted_texts
    stub = {s: answers.joined(source.template, source.answer_ids) for s in ("x", "y")}
    assert similarity.similar_pairs(stub, answers.template_texts(source)) == []
    # without the template excluded, two untouched exercises are a 100% pair: the exclusion does the work
    (match,) = similarity.similar_pairs(stub, [])
    assert match.a_share == match.b_share == 1.0


def _cnnlab(*args):
    return subprocess.run([sys.executable, "-m", "cnnlab.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}, timeout=300)


@pytest.fixture(scope="module")
def planted_report(tmp_path_factory):
    """Report over two shard sheets of the planted class (one row in both), with overrides and a deadline."""
    root = tmp_path_factory.mktemp("report")
    for student, cells in planted.answers().items():
        planted.write_submission(root / "submitted", student, cells)
    students = list(planted.answers())
    late = {"dave": "2026-12-02T01:30:00Z"}
    rows = [planted.perceptron_row(s, failed=("test_xor",) if s == "carol" else (), seconds=10.0 + i,
                                   submitted_at=late.get(s, "2026-11-30T10:00:00Z")) for i, s in enumerate(students)]
    rows.append(planted.perceptron_row("<img src=x onerror=alert(1)>", failed=("test_perceptron_fit",)))
    planted.write_sheet(root / "grades-0.csv", rows[:4])
    planted.write_sheet(root / "grades-1.csv", rows[4:] + [planted.perceptron_row(
        "alice", failed=("test_radius_and_margin",), graded_at="2026-12-05T00:00:00Z")])
    (root / "overrides.csv").write_text("student,set,test,points,comment\n"
                                        "carol,01_perceptron,test_xor,1.5,right idea <b>\n"
                                        "bob,01_perceptron,*,-4,copied\n")
    result = _cnnlab("report", root / "grades-0.csv", root / "grades-1.csv", "--out", root / "out",
                     "--submissions", root / "submitted", "--solutions", REPO / "solutions",
                     "--overrides", root / "overrides.csv", "--deadline", "2026-12-01T23:59:00Z",
                     "--late-penalty", "2/h")
    assert result.returncode == 0, result.stderr
    return root, (root / "out" / "index.html").read_text(), result


def test_report_lists_every_student_and_test_with_adjustments(planted_report):
    root, page, result = planted_report
    for student in planted.answers():
        assert f"<td>{student}</td>" in page
    for test in planted.PERCEPTRON_TESTS:
        assert f"<td>{test}</td>" in page
    assert re.search(r"<td>carol</td><td[^>]*>7.5 / 8</td>", page)          # 6 + override 1.5
    assert re.search(r"<td>bob</td><td[^>]*>4 / 8</td>", page)              # 8 - 4
    assert re.search(r"<td>dave</td><td[^>]*>4 / 8</td>", page) and "-4 (1.5 h late)" in page  # 2 started hours
    assert "right idea &lt;b&gt;" in page and "2 points per started hour" in page
    # the duplicated row: the later graded_at (alice's full marks) is kept, and said so
    assert re.search(r"<td>alice</td><td[^>]*>8 / 8</td>", page) and "kept the one graded at" in result.stderr


def test_report_shows_pass_rates_hardest_first_and_slowest(planted_report):
    _, page, _ = planted_report
    table = page[page.index("Tests, hardest first"):page.index("Slowest submissions")]
    order = [table.index(t) for t in ("test_perceptron_fit", "test_xor", "test_radius_and_margin")]
    assert order == sorted(order)                                       # 6 of 7, 6 of 7, 7 of 7
    slow = page[page.index("Slowest submissions"):page.index("<h3>Students")]
    assert slow.index("frank") < slow.index("bob") < slow.index("erin") < slow.index("alice")  # 15, 14, 13, 1.5 s


def test_report_lists_the_planted_copies_and_escapes_student_text(planted_report):
    root, page, _ = planted_report
    similar = page[page.index("Answer similarity"):]
    assert "<td>alice</td><td>bob</td>" in similar
    assert re.search(r"<td>erin</td><td>cnnlab.reference.perceptron</td>", similar)
    assert re.search(r"<td>frank</td><td>solution 01_perceptron.ipynb</td>", similar)
    for a in INDEPENDENT:
        for b in INDEPENDENT:
            assert f"<td>{a}</td><td>{b}</td>" not in similar
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "the page must not load anything from outside"
    for image in re.findall(r'<img src="([^"]+)" alt="([^"]+)"', page):
        assert (root / "out" / image[0]).stat().st_size > 1000 and len(image[1]) > 20


def test_manual_answers_are_listed_with_override_points(tmp_path):
    solution = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np", metadata={"nbgrader": {
            "grade_id": "setup", "locked": True, "solution": False, "grade": False}}),
        nbformat.v4.new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                                  metadata={"nbgrader": {"grade_id": "double", "solution": True, "grade": False,
                                                         "locked": False}}),
        nbformat.v4.new_code_cell("assert double(2) == 4", metadata={"nbgrader": {
            "grade_id": "test_double", "grade": True, "solution": False, "locked": True, "points": 1}}),
        nbformat.v4.new_markdown_cell("YOUR ANSWER HERE", metadata={"nbgrader": {
            "grade_id": "explain", "grade": True, "solution": True, "locked": False, "points": 3}})])
    (tmp_path / "solutions").mkdir()
    nbformat.write(solution, tmp_path / "solutions" / "99_demo.ipynb")
    for student, words in {"ann": "Doubling is <linear>.", "ben": "It adds x to itself."}.items():
        nb = nbformat.v4.new_notebook(cells=[c.copy() for c in solution.cells])
        nb.cells[3] = nbformat.v4.new_markdown_cell(words, metadata=solution.cells[3].metadata)
        (tmp_path / "sub" / student).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "sub" / student / "99_demo.ipynb")
    rows = [planted.sheet_row(s, "99_demo.ipynb", {"test_double": (1.0, 1.0, "passed", "passed"),
                                                    "explain": (0.0, 3.0, "manual", "graded by hand")})
            for s in ("ann", "ben")]
    planted.write_sheet(tmp_path / "g.csv", rows)
    (tmp_path / "o.csv").write_text("student,set,test,points,comment\nann,99_demo,explain,2.5,clear\n")
    result = _cnnlab("report", tmp_path / "g.csv", "--out", tmp_path / "out", "--submissions", tmp_path / "sub",
                     "--solutions", tmp_path / "solutions", "--overrides", tmp_path / "o.csv")
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "out" / "index.html").read_text()
    manual = page[page.index("Answers to grade by hand"):]
    assert "Doubling is &lt;linear&gt;." in manual and "It adds x to itself." in manual
    assert "2.5 / 3: clear" in manual and "not graded yet (of 3)" in manual
    assert re.search(r"<td>ann</td><td[^>]*>3.5 / 4</td>", page) and re.search(r"<td>ben</td><td[^>]*>1 / 4</td>", page)


def test_report_refuses_bad_input_clearly(tmp_path):
    result = _cnnlab("report", tmp_path / "nope.csv", "--out", tmp_path / "out")
    assert result.returncode == 2 and "no such grade sheet" in result.stderr
    sheet = planted.write_sheet(tmp_path / "g.csv", [planted.perceptron_row("ann")])
    result = _cnnlab("report", sheet, "--out", tmp_path / "out", "--deadline", "2026-12-01", "--late-penalty", "5/h")
    assert result.returncode == 2 and "no time zone" in result.stderr


def test_old_sheet_and_a_glob_of_submissions(tmp_path):
    """A six-column sheet (before per-test results were kept): tests come from the source,
    marked not recorded; --submissions may be a glob."""
    for student in ("alice", "bob", "carol"):
        planted.write_submission(tmp_path / "submitted", student, planted.answers()[student])
    sheet = planted.write_sheet(tmp_path / "old.csv", [planted.perceptron_row(s) for s in ("alice", "bob", "carol")],
                                ["student", "notebook", "score", "max_score", "status", "digest"])
    result = _cnnlab("report", sheet, "--out", tmp_path / "out", "--submissions",
                     str(tmp_path / "submitted" / "*" / planted.SET), "--solutions", REPO / "solutions")
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "out" / "index.html").read_text()
    for test in planted.PERCEPTRON_TESTS:
        assert re.search(rf"<td>{test}</td><td[^>]*>not recorded in the sheet</td>", page)
    assert "no grading times" in page and "<td>alice</td><td>bob</td>" in page and "3 students' answer cells" in page


def test_submissions_found_by_the_recorded_path_in_nbgrader_layout(tmp_path):
    """submitted/<student>/<assignment>/<notebook>: the folder above the notebook is the
    assignment, so the sheet's submission column (the path as graded) finds the file."""
    cells = planted.answers()
    rows = []
    for student in ("alice", "bob", "carol"):
        path = planted.write_submission(tmp_path / "submitted" / student, "ps1", cells[student])
        rows.append(planted.perceptron_row(student, submission=str(path.relative_to(tmp_path))))
    sheet = planted.write_sheet(tmp_path / "g.csv", rows)
    result = _cnnlab("report", sheet, "--out", tmp_path / "out", "--submissions", tmp_path / "submitted",
                     "--solutions", REPO / "solutions")
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "out" / "index.html").read_text()
    assert "3 students' answer cells" in page and "<td>alice</td><td>bob</td>" in page
