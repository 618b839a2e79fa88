"""Build the course site: ``cnnlab site [--full] --out DIR``.

Steps, all in a build folder beside ``DIR`` (the committed notebooks are only read):

1. lay out Sphinx sources: ``index.md`` (the home page: the course, how to run it, the
   syllabus), ``lectures/NN_*.ipynb`` executed, ``exercises/NN_*.ipynb`` as students get
   them, ``conf.py`` (:mod:`cnnlab.site.sphinx_conf`) with ``cnnlab_site.json``, and
   MathJax in ``_static/mathjax/``;
2. execute the lectures (:mod:`cnnlab.site.execute`), fast setting unless ``full``;
3. replace widget views by their static picture and readout, with a note;
4. run Sphinx (myst-nb, sphinx-book-theme) and move the HTML to ``DIR``.

Course order interleaves lectures and sets (00, 01, set 01, 02, set 02, ...): each set
follows the lecture it practises, so "next" at the foot of a page is the order a
student works in. Exercises are not executed: their stubs raise
``NotImplementedError`` by design, so a run would add a traceback under every task
and nothing a student needs.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cnnlab.site.config import SiteConfig, load_config
from cnnlab.site.execute import execute_all, kernel_environment
from cnnlab.site.launch import stale_launch_cells

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_NOTE = ("*Interactive in Jupyter:* this explorer is shown here as a still picture with its "
               "readout; run the notebook (launch button above) to move its sliders.")
MARKER = ".cnnlab-site"          # marks a folder this command made, so a rebuild may replace it
MATHJAX_FILE = "tex-svg-full.js"  # every TeX extension and SVG output in one file
MATHJAX_ON_DEMAND = ("a11y", "sre", "ui")   # what MathJax's menu loads when a reader asks for it


class SiteBuildError(RuntimeError):
    """The site cannot be built; the message says what to fix."""


@dataclass(frozen=True)
class Page:
    docname: str     # "lectures/03_convolution", also its path in the repository without .ipynb
    title: str       # the notebook's first heading
    kind: str        # "lecture" or "set"


def course_order(root: Path) -> list[Page]:
    """Lectures and problem sets in course order: each set right after its lecture."""
    lectures = sorted((root / "lectures").glob("[0-9][0-9]_*.ipynb"))
    sets = {p.name: p for p in sorted((root / "exercises").glob("[0-9][0-9]_*.ipynb"))}
    if not lectures:
        raise SiteBuildError(f"no lectures/NN_*.ipynb under {root}: run `cnnlab site` from the repository root "
                             f"or pass --root")
    orphans = sorted(set(sets) - {p.name for p in lectures})
    if orphans:
        raise SiteBuildError(f"exercises {orphans} have no lecture of the same name in {root / 'lectures'}")
    pages = []
    for lecture in lectures:
        pages.append(Page(f"lectures/{lecture.stem}", notebook_title(lecture), "lecture"))
        if lecture.name in sets:
            pages.append(Page(f"exercises/{lecture.stem}", notebook_title(sets[lecture.name]), "set"))
    return pages


def notebook_title(path: Path) -> str:
    """The text of the notebook's first Markdown heading (a page needs one)."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
            if match:
                return match.group(1).strip()
    raise SiteBuildError(f"{path} has no Markdown heading ('# Title'); a site page needs one")


def home_page(pages: list[Page], config: SiteConfig, full: bool) -> str:
    """The home page's MyST source: the course, how to run it, and the syllabus with links."""
    template = (Path(__file__).parent / "home.md").read_text(encoding="utf-8")
    syllabus = "\n".join(f"{'- ' if page.kind == 'lecture' else '  - '}[{page.title}]({page.docname}.ipynb)"
                         for page in pages)
    setting = ("the full setting: every network trained to the accuracy the text reports" if full else
               "the fast setting, `CNNLAB_FAST=1`: short training runs, so accuracies are below the full ones")
    return template.format(syllabus=syllabus, toctree="\n".join(p.docname for p in pages),
                           repository=config.repository, setting=setting)


def static_widgets(nb: nbformat.NotebookNode) -> int:
    """Replace each widget view by the static picture and readout it carries, with a note that it
    is live in Jupyter; the readout becomes the picture's alt text where the cell gives none.
    Drops the notebook's stored widget state. Returns the number of widget views replaced."""
    nb.metadata.pop("widgets", None)
    replaced = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                data.pop(WIDGET_VIEW)
                replaced += 1
                outputs.append(output)
                outputs.append(nbformat.v4.new_output("display_data", data={"text/markdown": WIDGET_NOTE,
                                                                             "text/plain": WIDGET_NOTE}))
                readout = data.get("text/plain", "")
                image = cell.metadata.setdefault("mystnb", {}).setdefault("image", {})
                if readout and not image.get("alt"):
                    image["alt"] = f"Still picture of the interactive explorer: {readout}"
            else:
                outputs.append(output)
        cell.outputs = outputs
    return replaced


def vendor_mathjax(static: Path) -> str:
    """Copy MathJax 3 (from the ``django-static-mathjax`` package) into ``static``; return the
    path Sphinx's ``mathjax_path`` takes (relative to ``_static``).

    One file typesets everything the course writes (every TeX extension, SVG output, so no
    font files); the folders its context menu loads on demand (accessibility: the explorer,
    speech and its language maps) come along, so those work offline too."""
    try:
        import mathjax
    except ImportError:
        raise SiteBuildError("the site needs MathJax from the package django-static-mathjax: "
                             'pip install -e ".[site]"') from None
    source = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / MATHJAX_FILE
    if not source.is_file():
        raise SiteBuildError(f"{source} is missing: reinstall django-static-mathjax")
    (static / "mathjax").mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, static / "mathjax" / MATHJAX_FILE)
    for folder in MATHJAX_ON_DEMAND:
        shutil.copytree(source.parent / folder, static / "mathjax" / folder, dirs_exist_ok=True)
    return f"mathjax/{MATHJAX_FILE}"


def _check_out_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise SiteBuildError(f"{out} exists and was not made by `cnnlab site`; choose another --out "
                             f"or remove it yourself (nothing in it is overwritten)")


def build_site(root: Path, out: Path, full: bool = False, jobs: int = 2, timeout: int = 1800,
               keep_build: Path | None = None, report=print) -> Path:
    """Build the site of the repository at ``root`` into ``out``; returns ``out``.

    ``jobs`` lectures execute at a time (each kernel gets cores/jobs math threads);
    ``timeout`` is per cell, in seconds. The build folder is removed afterwards unless
    ``keep_build`` names where to keep it. ``out`` is replaced only when an earlier build
    made it, and only once the new one is complete."""
    root, out = Path(root).resolve(), Path(out).resolve()
    _check_out_dir(out)
    config = load_config(root / "pyproject.toml")
    stale = stale_launch_cells(root / "lectures", config)
    if stale:
        raise SiteBuildError(f"the set-up cell of {[p.name for p in stale]} is not the one [tool.cnnlab.site] "
                             f"makes: run `cnnlab site --sync-launch-cells` and commit the lectures")
    pages = course_order(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-build-", dir=out.parent))
    try:
        src = work / "src"
        for page in pages:
            (src / page.docname).parent.mkdir(parents=True, exist_ok=True)
        threads = max(1, (os.cpu_count() or 1) // jobs)
        executed = execute_all([(root / f"{p.docname}.ipynb", src / f"{p.docname}.ipynb")
                                for p in pages if p.kind == "lecture"],
                               kernel_environment(full, threads), timeout, jobs, report)
        for page in pages:
            path = src / f"{page.docname}.ipynb"
            nb = nbformat.read(path if page.kind == "lecture" else root / f"{page.docname}.ipynb", as_version=4)
            static_widgets(nb)
            nbformat.write(nb, path)
        (src / "index.md").write_text(home_page(pages, config, full), encoding="utf-8")
        shutil.copy2(Path(__file__).parent / "sphinx_conf.py", src / "conf.py")
        settings = {"title": "cnnlab: convolutional neural networks, from the perceptron to batch normalization",
                    "author": "the cnnlab authors", "copyright": f"{datetime.date.today().year}, the cnnlab authors",
                    "mathjax_path": vendor_mathjax(src / "_static"), "repository": config.repository,
                    "branch": config.branch, "binderhub": config.binderhub, "colab": config.colab,
                    "jupyterhub": config.jupyterhub}
        (src / "cnnlab_site.json").write_text(json.dumps(settings, indent=1), encoding="utf-8")
        html = work / "html"
        _run_sphinx(src, html, work / "doctrees", work / "sphinx.log")
        (html / MARKER).write_text(f"built by `cnnlab site{' --full' if full else ''}`; "
                                   f"{len(executed)} lectures executed\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        html.rename(out)
        report(f"site: {out} ({len(pages)} pages); open {out / 'index.html'}")
        return out
    finally:
        if keep_build:
            shutil.rmtree(keep_build, ignore_errors=True)
            work.rename(keep_build)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _run_sphinx(src: Path, html: Path, doctrees: Path, log: Path) -> None:
    """Sphinx in its own process; its warnings are an error here (a broken link or image is a bug)."""
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going", "-d", str(doctrees),
               "-w", str(log), str(src), str(html)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SiteBuildError(f"Sphinx failed (exit {done.returncode}):\n{done.stderr.strip()[-4000:]}")
