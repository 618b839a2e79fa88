"""``cnnlab export``: Canvas, Moodle and wide tables against a roster with a student
missing and one extra, overrides and late penalties, formulas neutralized, atomic writes."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

from tests import planted
from tests.conftest import REPO

CANVAS_ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,01_perceptron (4411),Current Score
    Points Possible,,,,,8,(read only)
"Lovelace, Ada",101,S101,ada,CNN 1,,
"Turing, Alan",102,S102,alan,CNN 1,,
"Hopper, Grace",103,S103,grace,CNN 2,,
"""
MOODLE_ROSTER = """First name,Last name,ID number,Institution,Department,Email address,Last downloaded from this course
Ada,Lovelace,101,,,ada@uni.example,
Alan,Turing,102,,,alan@uni.example,
Grace,Hopper,103,,,grace@uni.example,
"""


def _cnnlab(*args):
    return subprocess.run([sys.executable, "-m", "cnnlab.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)


def _read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _class(tmp_path, names=("ada", "alan", "=evil()")):
    """ada: full marks but 3 h late; alan: one test failed, overridden; =evil(): not on the roster."""
    rows = [planted.perceptron_row(names[0], submitted_at="2026-12-02T02:30:00Z"),
            planted.perceptron_row(names[1], failed=("test_xor",), submitted_at="2026-12-01T12:00:00Z"),
            planted.perceptron_row(names[2])]
    rows.append(planted.sheet_row(names[0], "02_backprop.ipynb", {"test_a": (3.0, 5.0, "failed", "no")}))
    sheet = planted.write_sheet(tmp_path / "grades.csv", rows)
    overrides = tmp_path / "o.csv"
    overrides.write_text(f"student,set,test,points,comment\n{names[1]},01_perceptron,test_xor,1,ok\n")
    return sheet, ["--overrides", overrides, "--deadline", "2026-12-01T23:59:00Z", "--late-penalty", "1/h"]


def test_canvas_export_against_a_roster_with_missing_and_extra_students(tmp_path):
    sheet, adjust = _class(tmp_path, ("ada", "alan", "=evil()"))
    (tmp_path / "roster.csv").write_text(CANVAS_ROSTER)
    out = tmp_path / "canvas.csv"
    result = _cnnlab("export", sheet, "--format", "canvas", "--roster", tmp_path / "roster.csv", "--out", out, *adjust)
    assert result.returncode == 0, result.stderr
    assert "not in the roster" in result.stderr and "=evil()" in result.stderr
    assert "without any submission" in result.stderr and "grace" in result.stderr
    table = _read(out)
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                        "01_perceptron (4411)", "02_backprop"]
    assert table[1] == ["Points Possible", "", "", "", "", "8", "5"]
    by_login = {row[3]: row for row in table[2:]}
    assert by_login["ada"][:5] == ["Lovelace, Ada", "101", "S101", "ada", "CNN 1"]
    assert by_login["ada"][5:] == ["5", "3"]           # 8 - 3 started hours late; 02_backprop on time (no time)
    assert by_login["alan"][5:] == ["7", ""]           # 6 + override 1
    assert by_login["grace"][5:] == ["", ""]
    assert len(table) == 2 + 3 and "=evil()" not in out.read_text()


def test_moodle_export_matches_on_email_and_keeps_its_identity_columns(tmp_path):
    sheet, adjust = _class(tmp_path, ("ada@uni.example", "alan@uni.example", "mallory@uni.example"))
    (tmp_path / "roster.csv").write_text(MOODLE_ROSTER)
    out = tmp_path / "moodle.csv"
    result = _cnnlab("export", sheet, "--format", "moodle", "--roster", tmp_path / "roster.csv", "--out", out, *adjust)
    assert result.returncode == 0, result.stderr
    assert "mallory@uni.example" in result.stderr and "grace@uni.example" in result.stderr
    table = _read(out)
    assert table[0] == ["First name", "Last name", "ID number", "Institution", "Department", "Email address",
                        "01_perceptron", "02_backprop"]
    assert table[1] == ["Ada", "Lovelace", "101", "", "", "ada@uni.example", "5", "3"]
    result = _cnnlab("export", sheet, "--format", "moodle", "--roster", tmp_path / "roster.csv", "--out", out,
                     "--match", "Username")
    assert result.returncode == 2 and "no such column" in result.stderr and "Email address" in result.stderr


def test_wide_export_has_a_total_and_neutralizes_formulas(tmp_path):
    sheet, adjust = _class(tmp_path)
    out = tmp_path / "wide.csv"
    result = _cnnlab("export", sheet, "--format", "wide", "--out", out, *adjust)
    assert result.returncode == 0, result.stderr
    table = _read(out)
    assert table[0] == ["student", "01_perceptron", "02_backprop", "total"]
    rows = {r[0]: r[1:] for r in table[1:]}
    assert rows["ada"] == ["5", "3", "8"] and rows["alan"] == ["7", "", "7"]
    assert rows["'=evil()"] == ["8", "", "8"]          # a formula-looking name is written as text
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".wide")] == []   # no temporary left


def test_export_without_roster_and_with_bad_format(tmp_path):
    sheet, _ = _class(tmp_path)
    out = tmp_path / "canvas.csv"
    assert _cnnlab("export", sheet, "--format", "canvas", "--out", out).returncode == 0
    table = _read(out)
    assert table[1][0] == "Points Possible" and {r[3] for r in table[2:]} == {"ada", "alan", "'=evil()"}
    result = _cnnlab("export", sheet, "--format", "excel", "--out", out)
    assert result.returncode == 2 and "canvas" in result.stderr
