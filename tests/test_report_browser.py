"""Real-browser test: a mixed class graded by the real ``cnnlab grade`` (sandboxed), then
``cnnlab report``, and the page opened from disk in headless Chromium (Playwright, the
system Chromium as in test_widgets_browser.py) with every non-local request blocked.

Checks: no console error, no failed or blocked request, every image loaded
(``naturalWidth > 0``), every student and every test of the set on the page, the planted
copies listed. A full-page screenshot is saved under the test's ``tmp_path`` (path printed).
Skipped only when ``CNNLAB_SKIP_BROWSER=1`` says so (never under ``CI=true``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from cnnlab.classroom import sheets
from tests import planted
from tests.conftest import REPO, missing_outside_part

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def _class() -> dict[str, dict[str, str]]:
    """Eight submissions: three independent correct, a renamed copy, a copy of the reference,
    a copy of the answer key, one partly wrong, one mostly wrong."""
    cells = planted.answers()
    gina = dict(cells["carol"], count_mistakes=cells["carol"]["count_mistakes"].replace("<= 0", "< 0"))
    hank = dict(cells["dave"], radius_and_margin=cells["dave"]["radius_and_margin"].replace("** 0.5", "** 2"),
                perceptron_fit=cells["dave"]["perceptron_fit"].replace("theta += Z[i]", "theta -= Z[i]"))
    return {**cells, "gina": gina, "hank": hank}


def _cnnlab(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cnnlab.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}, timeout=600)


def test_report_of_a_graded_class_in_chromium_offline(tmp_path, chromium_path):
    if shutil.which("bwrap") is None:
        missing_outside_part("grading the mock class needs bubblewrap (apt install bubblewrap)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser test needs Playwright for Python (pip install playwright)")
    students = _class()
    paths = [planted.write_submission(tmp_path / "submitted", s, c) for s, c in students.items()]
    graded = _cnnlab("grade", *paths, "--solution", planted.SOLUTION, "--out", tmp_path / "grades.csv",
                     "--jobs", "2", cwd=tmp_path)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    scores = {r.student: r.score for r in sheets.read_sheet(tmp_path / "grades.csv")}
    assert set(scores) == set(students) and scores["alice"] == 8 and scores["gina"] < 8 and scores["hank"] < 6
    report = _cnnlab("report", tmp_path / "grades.csv", "--out", tmp_path / "report", "--submissions",
                     tmp_path / "submitted", "--solutions", REPO / "solutions", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    index = tmp_path / "report" / "index.html"

    console, failed, blocked = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})

            def only_local(route):
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort()
            page.route("**/*", only_local)
            page.on("console", lambda m: m.type in ("error", "warning") and console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda err: console.append(f"page error: {err}"))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(index.as_uri(), wait_until="load")
            images = page.evaluate("Array.from(document.images)"
                                   ".map(i => [i.getAttribute('src'), i.naturalWidth, i.alt])")
            text = page.inner_text("body")
            page.locator("details").first.evaluate("d => d.open = true")
            shot = tmp_path / "report.png"
            page.screenshot(path=shot, full_page=True)
        finally:
            browser.close()
    assert console == [] and failed == [] and blocked == [], (console, failed, blocked)
    assert len(images) >= 2 and all(width > 0 and alt for _, width, alt in images), images
    for student in students:
        assert student in text
    for test in planted.PERCEPTRON_TESTS:
        assert test in text
    assert "alice\tbob" in text and "erin\tcnnlab.reference.perceptron" in text
    assert shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")
