"""The project's own promises: packaging agrees with conda, the CLI works, switches parse."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest
import yaml

from cnnlab import config
from tests.conftest import REPO

CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ


def _split(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", requirement.strip()).groups()
    return name.lower(), spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    wanted = {CONDA_NAMES.get(name, name): spec for name, spec in wanted.items()}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    declared = dict(_split(d) for d in env["dependencies"] if isinstance(d, str) and d not in ("pip",))
    python = declared.pop("python")
    assert python == ">=" + project["requires-python"].lstrip(">=")
    assert declared == wanted, "environment.yml and pyproject.toml disagree"
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    site = dict(_split(r) for r in project["optional-dependencies"]["site"])
    assert dict(_split(r) for r in pip_section if r != "-e .") == site, "environment.yml's pip: list is the site extra"


def test_top_level_layout():
    for name in ("lectures", "cnnlab", "exercises", "solutions", "tests", "benchmarks",
                 "environment.yml", "README.md", "pyproject.toml", ".ci/run"):
        assert (REPO / name).exists(), f"{name} is missing"


def test_readme_has_exactly_three_commands_and_ci_runs_the_test_one():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh|console)?\n(.*?)```", readme, flags=re.S)
    commands = [b.strip() for b in blocks]
    assert len(commands) == 3, commands
    assert all("\n" not in c for c in commands), "each code block holds one command"
    test_command = commands[2]
    assert "pytest" in test_command and "--nbval-lax" in test_command
    assert test_command in (REPO / ".ci" / "run").read_text()
    assert "jupyter lab" in commands[1] and "lectures" in commands[1]


def test_readme_lists_every_lecture_in_order():
    readme = (REPO / "README.md").read_text()
    notebooks = sorted(p.name for p in (REPO / "lectures").glob("*.ipynb"))
    positions = [readme.find(name) for name in notebooks]
    assert notebooks and all(p >= 0 for p in positions), "README must list every notebook"
    assert positions == sorted(positions)


def _cli(*args) -> subprocess.CompletedProcess:
    """``cnnlab ARGS`` in a subprocess; a wide terminal, so help text is not wrapped mid-phrase."""
    return subprocess.run([sys.executable, "-m", "cnnlab.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})


def test_cli_help_and_info(monkeypatch):
    out = _cli("--help")
    assert out.returncode == 0 and "fetch" in out.stdout and "info" in out.stdout
    monkeypatch.setenv("CNNLAB_DATA", "/some/data/folder")
    out = _cli("info")
    assert out.returncode == 0 and f"device: {config.get_device()}" in out.stdout   # cpu, or cuda on a GPU
    assert "CNNLAB_DATA: /some/data/folder" in out.stdout
    monkeypatch.delenv("CNNLAB_DATA")
    assert "CNNLAB_DATA: not set" in _cli("info").stdout


@pytest.mark.parametrize("command,words", [("fetch", ["DATASET", "default: both"]),
                                           ("notebook", ["{pin,strip}", "execute the notebook", "NOTEBOOK",
                                                         "one or more notebook files"])])
def test_cli_positional_arguments_are_documented(command, words):
    out = _cli(command, "--help")
    assert out.returncode == 0
    for word in words:
        assert word in out.stdout, (command, word)


def test_missing_chromium_named_by_the_variable_is_a_clear_error(monkeypatch, tmp_path):
    from tests.conftest import find_chromium

    monkeypatch.setenv("CNNLAB_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(LookupError, match="CNNLAB_CHROMIUM=.*no-such-chromium is not an executable file"):
        find_chromium()


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("YES", True), ("0", False),
                                            ("", False), ("off", False)])
def test_fast_mode_parsing(monkeypatch, value, expected):
    monkeypatch.setenv("CNNLAB_FAST", value)
    assert config.fast_mode() is expected
    assert config.pick(full=10, fast=1) == (1 if expected else 10)


def test_fast_mode_typo_is_an_error(monkeypatch):
    monkeypatch.setenv("CNNLAB_FAST", "ture")
    with pytest.raises(ValueError, match="CNNLAB_FAST=1"):
        config.fast_mode()


def test_device_helper_picks_cpu_here(monkeypatch):
    import torch
    monkeypatch.delenv("CNNLAB_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert config.get_device().type == expected
    assert config.get_device("cpu").type == "cpu"


def test_seeding_is_reproducible():
    import torch
    a = (config.seed_everything(3).normal(size=3), torch.rand(3))
    b = (config.seed_everything(3).normal(size=3), torch.rand(3))
    assert (a[0] == b[0]).all() and torch.equal(a[1], b[1])


def _committed_notebooks():
    return sorted(p for folder in ("lectures", "solutions", "exercises") for p in (REPO / folder).glob("*.ipynb"))


@pytest.mark.parametrize("path", _committed_notebooks(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_are_committed_clean(path):
    """Outputs only on # NBVAL_CHECK_OUTPUT cells (and those do have outputs to compare)."""
    import nbformat

    from cnnlab.notebooks import is_checked

    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        if is_checked(cell):
            assert cell.outputs, f"code cell {i} is checked by nbval but has no stored output: run `cnnlab notebook pin`"
            assert cell.execution_count is not None, f"code cell {i}: nbval skips a checked cell never run"
        else:
            assert not cell.outputs, f"code cell {i} has outputs nbval does not check: run `cnnlab notebook strip`"
            assert cell.execution_count is None


def test_pin_keeps_only_checked_outputs(tmp_path):
    import nbformat

    from cnnlab import notebooks

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)"),
                                         nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(6 * 7)")])
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    notebooks.pin(path)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].outputs == [] and cells[1].outputs[0]["text"] == "42\n"
    notebooks.strip(path)  # checked outputs survive a strip
    assert nbformat.read(path, as_version=4).cells[1].outputs[0]["text"] == "42\n"
