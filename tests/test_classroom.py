"""Sheets merged, overrides and late penalties, feedback files, the Kubernetes job, and
sharded grading in separate processes giving the rows of one unsharded run."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.classroom import adjust, sheets
from tests import planted
from tests.conftest import REPO, missing_outside_part

OLD_COLUMNS = ["student", "notebook", "score", "max_score", "status", "digest"]


def _cnnlab(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "cnnlab.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


def test_merge_keeps_the_later_graded_row_and_says_so(tmp_path):
    a = planted.write_sheet(tmp_path / "grades-0.csv", [
        planted.perceptron_row("ann", failed=("test_xor",), graded_at="2026-12-06T01:00:00Z"),
        planted.perceptron_row("ben")])
    b = planted.write_sheet(tmp_path / "grades-1.csv", [
        planted.perceptron_row("ann", graded_at="2026-12-06T02:00:00Z"), planted.perceptron_row("cem")])
    for order in ([a, b], [b, a]):
        rows, notes = sheets.merge_sheets(order)
        assert [r.student for r in rows] == ["ann", "ben", "cem"]
        ann = rows[0]
        assert ann.score == 8 and ann.graded_at == "2026-12-06T02:00:00Z"
        assert len(notes) == 1 and "ann" in notes[0] and "2026-12-06T02:00:00Z" in notes[0]
        assert str(b) in notes[0]


def test_old_six_column_sheet_reads_with_tests_unknown(tmp_path):
    path = planted.write_sheet(tmp_path / "old.csv", [planted.perceptron_row("ann", failed=("test_xor",))],
                               OLD_COLUMNS)
    (row,) = sheets.read_sheet(path)
    assert (row.student, row.score, row.max_score, row.tests, row.seconds) == ("ann", 6, 8, None, None)


def test_neutralized_cells_are_restored_and_bad_sheets_named(tmp_path):
    path = planted.write_sheet(tmp_path / "g.csv", [planted.perceptron_row("=HYPERLINK(1)"),
                                                     planted.perceptron_row("'quoted")])
    assert "'=HYPERLINK(1)" in path.read_text() and "''quoted" in path.read_text()
    assert [r.student for r in sheets.read_sheet(path)] == ["=HYPERLINK(1)", "'quoted"]
    (tmp_path / "bad.csv").write_text("name,points\nann,3\n")
    with pytest.raises(sheets.SheetError, match="no column.*student"):
        sheets.read_sheet(tmp_path / "bad.csv")
    with pytest.raises(sheets.SheetError, match="no such grade sheet"):
        sheets.read_sheet(tmp_path / "missing.csv")


def _overrides(tmp_path, text: str):
    path = tmp_path / "overrides.csv"
    path.write_text("student,set,test,points,comment\n" + text)
    return adjust.read_overrides(path)


def test_overrides_set_a_test_and_adjust_a_set(tmp_path):
    rows, _ = sheets.merge_sheets([planted.write_sheet(tmp_path / "g.csv", [
        planted.perceptron_row("ann", failed=("test_xor",)), planted.perceptron_row("ben")])])
    found = adjust.apply(rows, _overrides(tmp_path, "ann,01_perceptron,test_xor,1.5,half right\n"
                                                    "ben,01_perceptron.ipynb,*,-2,copied a plot\n"))
    ann, ben = found
    assert ann.score == 7.5 and ann.row.score == 6      # the sheet's row is untouched
    assert ben.score == 6 and ben.overrides[0].comment == "copied a plot"


@pytest.mark.parametrize("line, message", [
    ("zed,01_perceptron,test_xor,1,x\n", "no row for student 'zed'"),
    ("ann,01_perceptron,test_nope,1,x\n", "has no test 'test_nope'"),
    ("ann,01_perceptron,test_xor,5,x\n", "worth 2"),
    ("ann,01_perceptron,test_xor,lots,x\n", "not a number"),
])
def test_bad_overrides_are_refused_with_the_line(tmp_path, line, message):
    rows, _ = sheets.merge_sheets([planted.write_sheet(tmp_path / "g.csv", [planted.perceptron_row("ann")])])
    with pytest.raises(adjust.AdjustError, match=message) as err:
        adjust.apply(rows, _overrides(tmp_path, line))
    assert "line 2" in str(err.value)


def test_override_of_a_test_needs_per_test_results(tmp_path):
    rows, _ = sheets.merge_sheets([planted.write_sheet(tmp_path / "old.csv", [planted.perceptron_row("ann")],
                                                       OLD_COLUMNS)])
    with pytest.raises(adjust.AdjustError, match="no per-test results"):
        adjust.apply(rows, _overrides(tmp_path, "ann,01_perceptron,test_xor,1,x\n"))
    (adjusted,) = adjust.apply(rows, _overrides(tmp_path, "ann,01_perceptron,*,-3,x\n"))
    assert adjusted.score == 5


def test_late_penalty_per_started_hour_and_per_started_day(tmp_path):
    rows, _ = sheets.merge_sheets([planted.write_sheet(tmp_path / "g.csv", [
        planted.perceptron_row("early", submitted_at="2026-12-01T23:00:00Z"),
        planted.perceptron_row("hour", submitted_at="2026-12-02T00:00:01Z"),        # 1 s late: 1 started hour
        planted.perceptron_row("day", submitted_at="2026-12-03T00:30:00Z"),         # 24.5 h: 25 h, 2 days
        planted.perceptron_row("unknown")])])
    by_hour = {a.row.student: a for a in adjust.apply(rows, policy=adjust.parse_late_policy(
        "2026-12-01T23:59:59Z", "1.5/h"))}
    assert [by_hour[s].score for s in ("early", "hour", "day", "unknown")] == [8, 6.5, 0, 8]  # 25 h x 1.5 > 8
    assert "no submission time" in by_hour["unknown"].late_note
    by_day = {a.row.student: a for a in adjust.apply(rows, policy=adjust.parse_late_policy(
        "2026-12-01T23:59:59+00:00", "0.25/day"))}
    assert [by_day[s].score for s in ("early", "hour", "day")] == [8, 6, 4]


@pytest.mark.parametrize("deadline, penalty, message", [
    ("2026-12-01T23:59:00", "10/h", "no time zone"),
    ("yesterday", "10/h", "not an ISO-8601 time"),
    ("2026-12-01T23:59:00Z", "10%", "write POINTS/h"),
    ("2026-12-01T23:59:00Z", "2/day", "at most 1"),
    (None, "10/h", "go together"),
])
def test_bad_deadline_or_penalty_is_refused(deadline, penalty, message):
    with pytest.raises(adjust.AdjustError, match=message):
        adjust.parse_late_policy(deadline, penalty)


def test_feedback_names_student_and_set_with_overrides_and_late_penalty(tmp_path):
    sheet = planted.write_sheet(tmp_path / "g.csv", [
        planted.perceptron_row("ann", failed=("test_xor",), submitted_at="2026-12-02T01:00:00Z"),
        planted.perceptron_row("ben<b>&", failed=("test_perceptron_fit",))])
    (tmp_path / "o.csv").write_text("student,set,test,points,comment\nann,01_perceptron,test_xor,1,<i>close</i>\n")
    result = _cnnlab("feedback", sheet, "--out", tmp_path / "fb", "--html", "--overrides", tmp_path / "o.csv",
                     "--deadline", "2026-12-01T23:59:00Z", "--late-penalty", "1/h")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "fb" / "ann" / "01_perceptron.md").read_text()
    assert text.startswith("# 01_perceptron") and "ann" in text and "01_perceptron.ipynb" in text
    lines = text.splitlines()
    xor = next(line for line in lines if "test_xor" in line and "/ 2" in line)
    assert "1 / 2" in xor and "failed" in xor and "wrong value" in text
    fit = next(line for line in lines if "test_perceptron_fit" in line)
    assert "4 / 4" in fit and "passed" in fit
    assert "test `test_xor` set to 1 points: <i>close</i>" in text and "Late penalty: -2 points" in text
    assert "**Final score: 5 / 8**" in text                # 6 + 1 (override) - 2 (2 started hours late)
    page = (tmp_path / "fb" / "ann" / "01_perceptron.html").read_text()
    assert "&lt;i&gt;close&lt;/i&gt;" in page and "<i>" not in page and "Final score: 5 / 8" in page
    (ben,) = [p for p in (tmp_path / "fb").iterdir() if p.name.startswith("ben")]
    assert "ben&lt;b&gt;&amp;" in (ben / "01_perceptron.html").read_text()
    assert "<b>" not in (ben / "01_perceptron.html").read_text()
    assert "no submission time recorded" in (ben / "01_perceptron.md").read_text()


def test_feedback_keeps_a_hostile_student_name_inside_the_folder(tmp_path):
    sheet = planted.write_sheet(tmp_path / "g.csv", [planted.perceptron_row("ann"),
                                                      planted.perceptron_row("../escape")])
    result = _cnnlab("feedback", sheet, "--out", tmp_path / "fb")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "escape").exists()
    written = sorted(p.relative_to(tmp_path / "fb") for p in (tmp_path / "fb").rglob("*.md"))
    assert len(written) == 2 and all(len(p.parts) == 2 for p in written)
    assert Path("ann/01_perceptron.md") in written


# --- Kubernetes: the Indexed Job, and shards as separate processes --------------------------

JOB = REPO / "deploy" / "kubernetes" / "grade-job.yaml"


def test_grade_job_is_a_valid_indexed_job_offline():
    import yaml
    from kubernetes_validate import validate

    documents = [d for d in yaml.safe_load_all(JOB.read_text()) if d]
    for document in documents:
        validate(document, "1.30", strict=True)          # bundled schemas: no network
    job = next(d for d in documents if d["kind"] == "Job")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["parallelism"] >= 1
    container = spec["template"]["spec"]["containers"][0]
    script = " ".join(container["command"] + container.get("args", []))
    assert "--shard $((JOB_COMPLETION_INDEX + 1))/" in script and "grades-$JOB_COMPLETION_INDEX.csv" in script
    assert str(spec["completions"]) in script
    volumes = spec["template"]["spec"]["volumes"]
    assert any("persistentVolumeClaim" in v for v in volumes)


def test_grade_job_schema_check_catches_a_mistake():
    import yaml
    from kubernetes_validate import ValidationError, validate

    job = next(d for d in yaml.safe_load_all(JOB.read_text()) if d and d["kind"] == "Job")
    job["spec"]["completions"] = "three"
    with pytest.raises(ValidationError):
        validate(job, "1.30", strict=True)


@pytest.mark.timeout(900)
def test_shards_in_separate_processes_give_the_rows_of_one_run(tmp_path):
    if shutil.which("bwrap") is None:
        missing_outside_part("sharded grading needs bubblewrap (apt install bubblewrap)")
    answers = planted.answers()
    students = ["alice", "bob", "carol", "dave", "erin", "frank"]
    broken = dict(answers["alice"], count_mistakes=answers["alice"]["count_mistakes"].replace("<= 0", "< 0"))
    paths = [planted.write_submission(tmp_path / "class", s, broken if s == "carol" else answers[s])
             for s in students]
    whole = _cnnlab("grade", *paths, "--solution", planted.SOLUTION, "--out", tmp_path / "one.csv", "--jobs", "2")
    assert whole.returncode == 0, whole.stderr
    n = 3
    procs = [subprocess.Popen([sys.executable, "-m", "cnnlab.cli", "grade", *map(str, paths), "--solution",
                               str(planted.SOLUTION), "--shard", f"{k}/{n}",
                               "--out", str(tmp_path / f"grades-{k - 1}.csv")],
                              env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for k in range(1, n + 1)]
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out
    shards = [tmp_path / f"grades-{k}.csv" for k in range(n)]
    sizes = [len(sheets.read_sheet(s)) for s in shards]
    assert sizes == [2, 2, 2]

    def essential(rows):
        return sorted((r.student, r.notebook, r.score, r.max_score, r.status,
                       None if r.tests is None else [(t.grade_id, t.points, t.status) for t in r.tests]) for r in rows)
    merged, notes = sheets.merge_sheets(shards)
    assert notes == [] and essential(merged) == essential(sheets.read_sheet(tmp_path / "one.csv"))
    assert {r.student: r.score for r in merged}["carol"] < 8
    with open(tmp_path / "one.csv", newline="") as handle:
        digests = {row["student"]: row["digest"] for row in csv.DictReader(handle)}
    for shard in shards:
        with open(shard, newline="") as handle:
            for row in csv.DictReader(handle):
                assert digests[row["student"]] == row["digest"]
