"""Every figure a lecture shows carries alt text for the site and for screen readers.

The lectures are committed without outputs, so which cells draw is decided statically, by
this rule (executing all eleven notebooks here would take many minutes):

* a code cell **draws** when its code calls ``plt.show()``, or when its last statement is
  an explorer widget (a call of ``SomethingExplorer(...)``, or a name the cell bound to
  one), which displays a static PNG beside the live widget;
* the rule is kept sound by a guard: a cell that calls a figure-making function
  (``plt.subplots``, ``plt.figure``, ``image_grid``, ``draw_*``, ``plot*``,
  ``show_misclassified``) must also call ``plt.show()``, so no figure appears at a cell's
  end without the rule seeing it; and every committed image output must sit in a drawing
  cell.

A drawing cell needs ``metadata.mystnb.image.alt`` (myst-nb puts it on the ``<img>``): a
sentence of its own saying what the figure shows, not "a plot"; a cell that draws nothing
must not carry one (it would be stale).
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
import pytest

LECTURES = sorted((Path(__file__).resolve().parent.parent / "lectures").glob("*.ipynb"))
FIGURE_MAKERS = {"subplots", "figure", "image_grid", "show_misclassified"}
GENERIC_OPENINGS = ("a plot", "a figure", "an image", "a chart", "a graph", "plot of", "figure of", "output")


def _called_names(tree: ast.AST) -> list[tuple[str | None, str]]:
    """(object name or None, function name) of every call in the code."""
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                owner = func.value.id if isinstance(func.value, ast.Name) else None
                calls.append((owner, func.attr))
            elif isinstance(func, ast.Name):
                calls.append((None, func.id))
    return calls


def _is_explorer_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name.endswith("Explorer")


def shows_plt(tree: ast.AST) -> bool:
    return ("plt", "show") in _called_names(tree)


def ends_with_explorer(tree: ast.Module) -> bool:
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return False
    last = tree.body[-1].value
    if _is_explorer_call(last):
        return True
    if isinstance(last, ast.Name):
        return any(isinstance(node, ast.Assign) and _is_explorer_call(node.value)
                   and any(isinstance(t, ast.Name) and t.id == last.id for t in node.targets)
                   for node in tree.body)
    return False


def makes_a_figure(tree: ast.AST) -> bool:
    return any(name in FIGURE_MAKERS or name.startswith(("plot", "draw_")) for _, name in _called_names(tree))


def parse(source: str) -> ast.AST:
    """A code cell as Python, its IPython magics (the set-up cell's ``%pip``) turned into calls."""
    return ast.parse(TransformerManager().transform_cell(source))


def draws(cell) -> bool:
    """The static rule of the module docstring."""
    if cell.cell_type != "code":
        return False
    tree = parse(cell.source)
    return shows_plt(tree) or ends_with_explorer(tree)


def alt_text(cell) -> str | None:
    return cell.metadata.get("mystnb", {}).get("image", {}).get("alt")


def _cells(path):
    return list(enumerate(nbformat.read(path, as_version=4).cells))


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_figure_has_alt_text_of_its_own(path):
    drawing = [(i, cell) for i, cell in _cells(path) if draws(cell)]
    assert drawing, f"{path.name}: no figure found; is the rule still right?"
    seen = {}
    for i, cell in drawing:
        alt = alt_text(cell)
        where = f"{path.name} cell {i} ({cell.source.splitlines()[0][:50]!r})"
        assert isinstance(alt, str) and alt.strip(), f"{where} draws a figure but has no metadata.mystnb.image.alt"
        assert len(alt.split()) >= 8, f"{where}: alt text {alt!r} is too short to say what the figure shows"
        assert not alt.lower().startswith(GENERIC_OPENINGS), f"{where}: alt text {alt!r} names no content"
        assert alt not in seen, f"{where} repeats the alt text of cell {seen.get(alt)}"
        seen[alt] = i


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_no_alt_text_on_cells_that_draw_nothing(path):
    stale = [i for i, cell in _cells(path) if cell.cell_type == "code" and alt_text(cell) and not draws(cell)]
    assert not stale, f"{path.name}: cells {stale} carry alt text but draw no figure"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_the_rule_sees_every_figure(path):
    for i, cell in _cells(path):
        if cell.cell_type != "code":
            continue
        tree = parse(cell.source)
        if makes_a_figure(tree):
            assert shows_plt(tree), f"{path.name} cell {i} makes a figure without plt.show(): show it explicitly"
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if images:
            assert draws(cell), f"{path.name} cell {i} has an image output the rule does not see"


def test_the_rule_on_small_cells():
    cell = nbformat.v4.new_code_cell
    assert draws(cell("fig, ax = plt.subplots()\nax.plot([1, 2])\nplt.show()"))
    assert draws(cell("explorer = ConvExplorer(n=7)\nassert explorer.output_shape == (5, 5)\nexplorer"))
    assert draws(cell("PoolExplorer(x, size=3)"))
    assert not draws(cell("explorer = ConvExplorer(n=7)\nprint(explorer.output_shape)"))
    assert not draws(cell("from cnnlab.plotting import draw_number_grid\nprint(1)"))
    assert not draws(nbformat.v4.new_markdown_cell("plt.show()"))
    assert makes_a_figure(ast.parse("fig = run.plot()")) and not makes_a_figure(ast.parse("print(plotting)"))
