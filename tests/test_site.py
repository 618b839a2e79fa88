"""``cnnlab site``: the course as a static offline book.

The site is built ONCE per session (fast setting) by the ``site`` fixture, which the
browser test (tests/test_site_browser.py) shares; the rest are small unit tests of the
set-up cell, the configuration, the widget fallback, binder/ and the build's errors.
"""
from __future__ import annotations

import html
import re
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import nbformat
import pytest

from cnnlab.site import build, config, execute, launch
from tests.conftest import REPO

SOLUTION_MARKERS = [("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")]
MIN_SECRET_LINE = 12   # shorter lines ("return out", "pass") say nothing of a solution
TAG = re.compile(r"<[^>]+>")


def _course_pages() -> list[str]:
    return [p.docname for p in build.course_order(REPO)]


def _page_text(path: Path) -> str:
    """What a reader sees of an HTML page: tags dropped, entities decoded, spaces collapsed."""
    text = html.unescape(TAG.sub(" ", path.read_text(encoding="utf-8")))
    return re.sub(r"\s+", " ", text)


# ----------------------------------------------------------------------------- the built site

def test_every_lecture_and_set_has_a_page_in_course_order(site):
    pages = _course_pages()
    lectures = sorted(p.stem for p in (REPO / "lectures").glob("*.ipynb"))
    sets = sorted(p.stem for p in (REPO / "exercises").glob("*.ipynb"))
    assert [p for p in pages if p.startswith("lectures/")] == [f"lectures/{n}" for n in lectures]
    assert [p for p in pages if p.startswith("exercises/")] == [f"exercises/{n}" for n in sets]
    for a, b in zip(pages, pages[1:]):                     # each set right after its lecture
        if b.startswith("exercises/"):
            assert a == "lectures/" + b.split("/")[1]
    for page in pages:
        assert (site / f"{page}.html").is_file(), f"no page for {page}"


def test_home_page_lists_every_page_with_a_link_in_course_order(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    syllabus = index[index.index('id="syllabus"'):]
    links = re.findall(r'<a class="reference internal" href="((?:lectures|exercises)/[^"#]+)\.html"', syllabus)
    assert links[:len(_course_pages())] == _course_pages()
    text = _page_text(site / "index.html")
    for page in build.course_order(REPO):
        assert html.unescape(page.title) in text
    assert "How to run it" in text and "CNNLAB_FAST=1" in text


def test_lectures_show_their_outputs_and_figures(site):
    for lecture in sorted((REPO / "lectures").glob("*.ipynb")):
        page = (site / "lectures" / f"{lecture.stem}.html").read_text(encoding="utf-8")
        assert 'class="cell_output' in page, f"{lecture.name}: no outputs on its page"
        if "plt." in lecture.read_text(encoding="utf-8"):
            assert re.search(r'<img [^>]*src="\.\./_images/', page), f"{lecture.name} draws but shows no figure"


def test_exercises_are_shown_unexecuted_as_students_get_them(site):
    for exercise in sorted((REPO / "exercises").glob("*.ipynb")):
        page = (site / "exercises" / f"{exercise.stem}.html").read_text(encoding="utf-8")
        assert "NotImplementedError" in page and 'class="cell_output' not in page, exercise.name


def _secret_lines() -> set[str]:
    """Lines of every solution block and hidden test that the student versions do not show."""
    shown = "\n".join(cell.source for folder in ("exercises", "lectures") for path in (REPO / folder).glob("*.ipynb")
                      for cell in nbformat.read(path, as_version=4).cells)
    secrets = set()
    for path in (REPO / "solutions").glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            for begin, end in SOLUTION_MARKERS:
                for block in re.findall(re.escape(begin) + r"(.*?)" + re.escape(end), cell.source, flags=re.S):
                    secrets |= {line.strip() for line in block.splitlines()}
    return {line for line in secrets if line not in shown                 # a hint or an error message may say it
            and len(line) >= MIN_SECRET_LINE and not line.startswith("#") and re.search(r"[A-Za-z]", line)}


def test_no_solution_code_hidden_test_or_solutions_link_anywhere(site):
    secrets = _secret_lines()
    assert len(secrets) > 50, "too few solution lines found: is the solutions/ format still nbgrader's?"
    for path in site.rglob("*"):
        if not path.is_file() or path.suffix not in {".html", ".ipynb", ".txt", ".js", ".json", ".md"}:
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        assert "solutions/" not in raw, f"{path.relative_to(site)} names solutions/"
        text = _page_text(path) if path.suffix == ".html" else raw
        if path.suffix == ".ipynb":
            text = "\n".join(c.source for c in nbformat.reads(raw, as_version=4).cells)
        leaked = sorted(line for line in secrets if line in text)
        assert not leaked, f"{path.relative_to(site)} shows solution lines: {leaked[:3]}"
    assert not any("solution" in p.name.lower() for p in site.rglob("*")), "a solutions file in the site"


# A URL the page itself would fetch (not one the reader clicks): src=, <link href=>, CSS url() / @import,
# and in JavaScript a script/style/font file named by an absolute URL.
FETCHED = [re.compile(r"""<(?:script|img|iframe|source|video|audio|embed|input)\b[^>]*\ssrc\s*=\s*["']?(https?:)?//""",
                      re.I),
           re.compile(r"""<link\b[^>]*\shref\s*=\s*["']?(https?:)?//""", re.I),
           re.compile(r"""url\(\s*["']?(https?:)?//""", re.I),
           re.compile(r"""@import\s+(?:url\()?\s*["']?(https?:)?//""", re.I)]
FETCHED_FROM_JS = re.compile(r"""["'`](?:https?:)?//[^"'`\s]+\.(?:m?js|css|woff2?|ttf|otf|eot)(?:\?[^"'`\s]*)?["'`]""")
# MathJax's speech engine names an XPath polyfill it loads only where document.evaluate is missing
# (Internet Explorer); every browser the site supports has it, and the browser test blocks the network.
NEVER_FETCHED = {"mathjax/": ('"https://cdn.jsdelivr.net/npm/wicked-good-xpath@1.3.0/dist/wgxpath.install.js"',)}


def test_no_page_fetches_anything_from_the_network(site):
    scanned = 0
    for path in site.rglob("*"):
        if path.suffix not in {".html", ".css", ".js"}:
            continue
        scanned += 1
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".js" and "mathjax" in path.relative_to(site).parts:
            for allowed in NEVER_FETCHED["mathjax/"]:
                text = text.replace(allowed, '""')
        patterns = FETCHED + ([FETCHED_FROM_JS] if path.suffix == ".js" else [])
        for pattern in patterns:
            match = pattern.search(text)
            assert not match, f"{path.relative_to(site)} fetches {text[match.start():match.start() + 160]!r}"
    assert scanned > 30
    assert (site / "_static" / "mathjax" / build.MATHJAX_FILE).is_file()
    lecture = (site / "lectures" / "01_perceptron.html").read_text(encoding="utf-8")
    assert f'src="../_static/mathjax/{build.MATHJAX_FILE}' in lecture
    for gone in ("require.js", "html-manager", "fonts.googleapis", "application/vnd.jupyter.widget-view+json"):
        assert not any(gone in p.read_text(errors="replace") for p in site.rglob("*.html")), gone


def test_widgets_appear_as_their_picture_with_a_note(site):
    page = (site / "lectures" / "03_convolution.html").read_text(encoding="utf-8")
    picture, note = page.split("Interactive in Jupyter", 1)[0].rsplit("<img ", 1)[1], "Interactive in Jupyter"
    assert note in page and 'src="../_images/' in picture
    alt = html.unescape(re.search(r'alt="([^"]*)"', picture).group(1))
    assert alt and "_images/" not in alt, "the explorer's picture needs alt text (its readout, or the cell's)"


def _expected_launch_links(docname: str, cfg: config.SiteConfig) -> dict[str, str]:
    owner, name = urlparse(cfg.repository).path.strip("/").split("/")
    path = f"{docname}.ipynb"
    return {"colab": f"{cfg.colab}/github/{owner}/{name}/blob/{cfg.branch}/{path}",
            "binder": f"{cfg.binderhub}/v2/gh/{owner}/{name}/{cfg.branch}?urlpath=lab/tree/{path}",
            "hub": f"{cfg.jupyterhub}/hub/user-redirect/git-pull"}


def test_every_notebook_page_has_colab_binder_and_hub_links_to_its_repository_path(site):
    cfg = config.load_config(REPO / "pyproject.toml")
    for docname in _course_pages():
        hrefs = [html.unescape(h) for h in re.findall(r'href="(https?://[^"]+)"',
                                                      (site / f"{docname}.html").read_text(encoding="utf-8"))]
        expected = _expected_launch_links(docname, cfg)
        assert expected["colab"] in hrefs, (docname, "colab")
        assert expected["binder"] in hrefs, (docname, "binder")
        hub = [h for h in hrefs if h.startswith(expected["hub"] + "?")]
        assert len(hub) == 1, (docname, "jupyterhub")
        query = parse_qs(urlparse(hub[0]).query)
        assert query == {"repo": [cfg.repository], "branch": [cfg.branch],
                         "urlpath": [f"lab/tree/{cfg.repository.rsplit('/', 1)[1]}/{docname}.ipynb"]}
    assert "git-pull" not in (site / "index.html").read_text(encoding="utf-8")    # the home page is no notebook


def test_search_index_knows_the_pages(site):
    index = (site / "searchindex.js").read_text(encoding="utf-8")
    assert "convolut" in index
    assert all(f'"{page}"' in index for page in _course_pages())


# ----------------------------------------------------------------------------- set-up cell

def test_every_lecture_starts_with_the_generated_setup_cell():
    cfg = config.load_config(REPO / "pyproject.toml")
    assert launch.stale_launch_cells(REPO / "lectures", cfg) == [], "run `cnnlab site --sync-launch-cells`"
    nb = nbformat.read(REPO / "lectures" / "07_vgg.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert f'%pip install --quiet "cnnlab @ git+{cfg.repository}@{cfg.branch}"' in first.source
    assert 'ensure_data("fashion-mnist")' in first.source


def _config(**changes) -> config.SiteConfig:
    values = dict(repository="https://github.com/someone/course", branch="spring", jupyterhub="https://hub.test",
                  binderhub="https://binder.test", colab="https://colab.test")
    return config.SiteConfig(**{**values, **changes})


def test_sync_inserts_then_updates_the_setup_cell_and_touches_nothing_else(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"),
                                         nbformat.v4.new_code_cell("x = load_with_fallback(preferred=('mnist', 'digits'))"),
                                         nbformat.v4.new_code_cell("y = load_fashion_mnist('test')")])
    path = tmp_path / "05_x.ipynb"
    nbformat.write(nb, path)
    assert launch.sync_launch_cells(tmp_path, _config()) == [path]
    cells = nbformat.read(path, as_version=4).cells
    assert [c.source for c in cells[2:]] == [c.source for c in nb.cells[1:]]
    assert 'git+https://github.com/someone/course@spring' in cells[1].source
    assert 'ensure_data("fashion-mnist", "mnist")' in cells[1].source
    assert launch.sync_launch_cells(tmp_path, _config()) == []                # idempotent
    assert launch.sync_launch_cells(tmp_path, _config(branch="fall")) == [path]
    cells = nbformat.read(path, as_version=4).cells
    assert len(cells) == 4 and "@fall" in cells[1].source


def test_setup_cell_installs_only_when_missing_and_fetches_no_data_it_does_not_need():
    source = launch.launch_cell_source(_config(), [])
    compile(source.replace("%pip", "pass  #"), "cell", "exec")                 # valid Python around the magic
    assert "ensure_data" not in source and "except ImportError:" in source


def test_ensure_data_finds_files_and_says_why_when_it_cannot_get_them(data_root, monkeypatch, tmp_path, capsys):
    from cnnlab.data import ensure_data

    monkeypatch.setenv("CNNLAB_DATA", str(data_root))
    assert ensure_data("fashion-mnist") == {"fashion-mnist": True}
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNLAB_MIRROR", (tmp_path / "no-mirror" / "{dataset}" / "{file}").as_uri())
    assert ensure_data("mnist") == {"mnist": False}
    assert "mnist is not available, so the notebook falls back" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown data set.*cifar"):
        ensure_data("cifar")


# ----------------------------------------------------------------------------- configuration

def test_config_in_pyproject_is_complete():
    cfg = config.load_config(REPO / "pyproject.toml")
    assert cfg.repository.startswith("https://github.com/") and cfg.branch and cfg.jupyterhub.startswith("http")


@pytest.mark.parametrize("table,message", [
    ('repository = "https://gitlab.com/a/b"\nbranch = "main"\njupyterhub = "https://h"', "not a GitHub repository"),
    ('repository = "https://github.com/a/b"\nbranch = "main"', "lacks jupyterhub"),
    ('repository = "https://github.com/a/b"\nbranch = "main"\njupyterhub = "hub"', "jupyterhub = 'hub' is not"),
    ('repository = "https://github.com/a/b"\nbranch = "main"\njupyterhub = "https://h"\nhub = "x"', "unknown keys"),
])
def test_bad_config_is_a_clear_error(tmp_path, table, message):
    (tmp_path / "pyproject.toml").write_text(f"[tool.cnnlab.site]\n{table}\n")
    with pytest.raises(config.SiteConfigError, match=message):
        config.load_config(tmp_path / "pyproject.toml")


# ----------------------------------------------------------------------------- binder/

def _requirement(line: str) -> tuple[str, str]:
    name, spec = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", line.strip()).groups()
    return name.lower(), spec.replace(" ", "")


def test_binder_pins_agree_with_pyproject_environment_yml_and_ci():
    import yaml

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = dict(_requirement(r) for r in project["dependencies"])
    lines = [ln for ln in (REPO / "binder" / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "--extra-index-url https://download.pytorch.org/whl/cpu", "binder must get the CPU torch"
    binder = dict(_requirement(ln) for ln in lines[1:])
    torch_pin = re.search(r'"torch(==[0-9.]+)"', (REPO / ".ci" / "run").read_text()).group(1)
    assert binder.pop("torch") == torch_pin
    assert binder.pop("nbgitpuller")                               # the hub's git-pull links need it
    wanted.pop("torch")
    assert binder == wanted
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = dict(_requirement(d) for d in env["dependencies"] if isinstance(d, str) and d not in ("pip", "python>=3.10"))
    assert {n: s for n, s in conda.items() if n in binder} == binder
    post_build = (REPO / "binder" / "postBuild").read_text().splitlines()
    assert post_build[0].startswith("#!") and "set -e" in "\n".join(post_build[:5]).replace("set -euo", "set -e")
    assert any(re.match(r"python -m pip install .*-e \.$", ln) for ln in post_build)
    assert (REPO / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


# ----------------------------------------------------------------------------- build pieces

def test_widget_views_become_their_picture_readout_and_a_note():
    readout = "ConvExplorer(n=7, f=3, padding=0, stride=2 -> 3x3)"
    output = nbformat.v4.new_output("display_data", data={"text/plain": readout, "image/png": "iVBOR",
                                                          build.WIDGET_VIEW: {"model_id": "m"}})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[output])])
    nb.metadata["widgets"] = {build.WIDGET_STATE: {"state": {}}}
    assert build.static_widgets(nb) == 1
    cell = nb.cells[0]
    assert "widgets" not in nb.metadata
    assert set(cell.outputs[0]["data"]) == {"text/plain", "image/png"}
    assert "Interactive in Jupyter" in cell.outputs[1]["data"]["text/markdown"]
    assert cell.metadata["mystnb"]["image"]["alt"].endswith(readout)


def test_a_failing_lecture_stops_the_build_naming_notebook_and_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_markdown_cell("x"),
                                         nbformat.v4.new_code_cell("b = 1 / 0")])
    source = tmp_path / "09_broken.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(execute.NotebookFailed, match=r"09_broken.ipynb: code cell 1 \('b = 1 / 0'\) failed .*"
                                                     r"ZeroDivisionError"):
        execute.execute_notebook(source, tmp_path / "out" / "09_broken.ipynb",
                                 execute.kernel_environment(full=False, threads=1), timeout=120)
    assert nbformat.read(source, as_version=4).cells[2].outputs == []        # the source is untouched


def test_out_folder_not_made_by_the_site_builder_is_never_replaced(tmp_path):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(build.SiteBuildError, match="not made by `cnnlab site`"):
        build.build_site(REPO, mine)
    assert (mine / "thesis.tex").read_text() == "precious"


def test_kernel_gets_the_setting_and_the_inline_backend_whatever_the_caller_has(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = execute.kernel_environment(full=True, threads=1)
    assert env["MPLBACKEND"] == execute.INLINE_BACKEND and env["CNNLAB_FAST"] == "0"
    assert execute.kernel_environment(full=False, threads=None)["CNNLAB_FAST"] == "1"
