"""Real-browser test: a ConvExplorer live in JupyterLab, operated with the keyboard.

Starts ``jupyter lab`` on 127.0.0.1 (a free port chosen by the OS, no token) in a temporary
folder holding a one-cell notebook, with its own Jupyter config, data, runtime, settings and
workspace folders so nothing touches the user's setup. Headless Chromium (Playwright's sync
API, ``executable_path`` from the ``chromium_path`` fixture, no browser download) opens the
notebook with ``?reset``, runs the cell, changes the stride with the keyboard only, and checks
that the readout and the drawn output grid change (5x5 -> 3x3 -> 2x2). Screenshots go to the
test's ``tmp_path`` (paths printed). The server is stopped by its process id in the fixture's
teardown, also when the test fails.

Skipped only when ``CNNLAB_SKIP_BROWSER=1`` says so (never under ``CI=true``).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
CELL = "from cnnlab.widgets import ConvExplorer\nConvExplorer(n=5, f=3, padding=1, stride=1)"
STARTUP_TIMEOUT_S = 90


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _get(url: str, method: str = "GET"):
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as response:
        return response.status, response.read()


def _stop(proc: subprocess.Popen, base_url: str | None) -> None:
    """Shut the kernels down over the REST API, then stop the server by its process id."""
    if proc.poll() is None and base_url:
        try:
            _, body = _get(base_url + "api/kernels")
            for kernel in json.loads(body):
                _get(base_url + f"api/kernels/{kernel['id']}", method="DELETE")
        except (OSError, ValueError, urllib.error.URLError):
            pass                      # the server may be half-started; the signal below still stops it
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def lab_url(tmp_path):
    """URL of a fresh JupyterLab serving ``explorer.ipynb``; stopped (by pid) on teardown."""
    root, home = tmp_path / "lab", tmp_path / "jupyter"
    root.mkdir()
    dirs = {name: home / name for name in ("config", "data", "runtime", "ipython", "settings", "workspaces")}
    for d in dirs.values():
        d.mkdir(parents=True)
    # no "get Jupyter news?" prompt, no update check
    (dirs["config"] / "labconfig").mkdir()
    (dirs["config"] / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, root / "explorer.ipynb")

    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(dirs["config"]), "JUPYTER_DATA_DIR": str(dirs["data"]),
           "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]), "IPYTHONDIR": str(dirs["ipython"]),
           "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
           "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           "--ServerApp.port=0", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
           "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp_path / "jupyter-lab.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base_url = None
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        info = dirs["runtime"] / f"jpserver-{proc.pid}.json"      # written once the port is bound
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode} during startup:\n{_tail(log)}")
            if base_url is None and info.exists():
                try:
                    base_url = json.loads(info.read_text())["url"]
                except (ValueError, KeyError):
                    pass                                       # file still being written
            if base_url:
                try:
                    if _get(base_url + "api/status")[0] == 200:
                        break
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.25)
        else:
            pytest.fail(f"jupyter lab did not answer /api/status within {STARTUP_TIMEOUT_S} s:\n{_tail(log)}")
        yield base_url
    finally:
        _stop(proc, base_url)
        print(f"jupyter lab (pid {proc.pid}) stopped with code {proc.returncode}; log: {log}")


def _out_cells(page) -> int:
    """Output-grid cells drawn in the live SVG (ids ``<uid>-out-<i>-<j>``)."""
    return page.locator(".cnnlab-conv-explorer svg [id*='-out-']").count()


def _run_first_cell(page, editor, attempts: int = 3) -> None:
    """Ctrl+Enter in the cell; a kernel that reports idle a moment before its connection is
    ready can drop the request (the prompt stays ``[ ]``), so try again a few times."""
    prompt = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            print(f"cell did not start; running it again (try {attempt})")
        editor.click()
        page.keyboard.press("Control+Enter")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if prompt.inner_text().strip() not in ("[ ]:", ""):
                return                                          # "[*]:" (running) or "[1]:"
            time.sleep(0.25)
    pytest.fail(f"the cell did not start running after {attempts} tries (prompt {prompt.inner_text()!r})")


def test_conv_explorer_live_in_jupyterlab_with_keyboard(lab_url, chromium_path, tmp_path):
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("the browser test needs Playwright for Python (pip install playwright; "
                    "no browser download is needed: it drives the system Chromium)")
    started = time.monotonic()
    shots = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(lab_url + "lab/tree/explorer.ipynb?reset", wait_until="domcontentloaded", timeout=60_000)
            editor = page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first
            editor.wait_for(state="visible", timeout=60_000)
            expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)
            _run_first_cell(page, editor)

            explorer = page.locator(".cnnlab-conv-explorer")
            readout = explorer.locator(".cnnlab-readout")
            expect(readout).to_contain_text("floor((5 - 3 + 2*1)/1) + 1 = 5", timeout=60_000)
            expect(explorer.locator("svg [id*='-out-']")).to_have_count(25, timeout=20_000)

            stride = page.get_by_label("stride S")              # the spin box, found by its accessible name
            expect(stride).to_have_value("1")
            stride.focus()
            page.keyboard.press("ArrowUp")                     # keyboard only: stride 1 -> 2
            expect(readout).to_contain_text("floor((5 - 3 + 2*1)/2) + 1 = 3", timeout=30_000)
            expect(readout).to_contain_text("exact")
            expect(explorer.locator("svg [id*='-out-']")).to_have_count(9, timeout=20_000)
            assert _out_cells(page) == 9
            shots.append(tmp_path / "conv_explorer_stride2.png")
            explorer.screenshot(path=shots[-1])

            page.keyboard.press("Tab")                         # on to the stride slider's handle
            handle = page.locator(":focus")
            assert "noUi-handle" in (handle.get_attribute("class") or ""), "Tab should reach the stride slider"
            page.keyboard.press("ArrowRight")                  # stride 2 -> 3: (4/3) + 1 = 2.33
            expect(readout).to_contain_text("floor((5 - 3 + 2*1)/3) + 1 = 2", timeout=30_000)
            expect(readout).to_contain_text("2.33")
            expect(readout).to_contain_text("not exact")
            expect(readout).to_contain_text("only zero padding is left out")
            expect(explorer.locator("svg [id*='-out-']")).to_have_count(4, timeout=20_000)
            expect(stride).to_have_value("3")
            shots.append(tmp_path / "conv_explorer_stride3.png")
            explorer.screenshot(path=shots[-1])
            shots.append(tmp_path / "jupyterlab_page.png")
            page.screenshot(path=shots[-1])
        finally:
            browser.close()
    for shot in shots:
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
    print(f"browser part took {time.monotonic() - started:.1f} s")
