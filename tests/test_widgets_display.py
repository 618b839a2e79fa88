"""How the explorers display: mime bundle (live view + PNG + one-line text), controls that
update the state and readout, no exceptions for invalid settings, and strict nbval.

Regenerate the stored outputs of ``tests/notebooks/widgets_strict.ipynb`` after changing
the notebook or the text forms with ``python tests/test_widgets_display.py --regenerate``.
"""
from __future__ import annotations

import base64
import copy
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import ipywidgets as widgets
import nbformat
import numpy as np
import pytest
from IPython.core.formatters import DisplayFormatter

from cnnlab import arith
from cnnlab.widgets import ConvExplorer, ConvState, PoolExplorer, ReceptiveFieldExplorer
from cnnlab.widgets.base import WIDGET_VIEW_MIMETYPE

NOTEBOOK = Path(__file__).parent / "notebooks" / "widgets_strict.ipynb"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _out_cells(svg: str) -> int:
    return svg.count('-out-')


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


EXPLORERS = [
    lambda: ConvExplorer(n=7, f=3, padding=0, stride=2),
    lambda: PoolExplorer(),
    lambda: ReceptiveFieldExplorer(),
]


# ----- the mime bundle --------------------------------------------------------------------
@pytest.mark.parametrize("make", EXPLORERS, ids=["conv", "pool", "rf"])
def test_mimebundle_has_live_view_png_and_one_line_text(make):
    explorer = make()
    bundle = explorer._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/png", WIDGET_VIEW_MIMETYPE}
    assert bundle["text/plain"] == repr(explorer) == explorer.text and "\n" not in explorer.text
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    assert bundle[WIDGET_VIEW_MIMETYPE]["model_id"] == explorer.widget.model_id
    # IPython's own formatter (what a notebook cell uses) picks up all three
    data, _ = DisplayFormatter().format(explorer)
    assert data["text/plain"] == explorer.text
    assert WIDGET_VIEW_MIMETYPE in data and "image/png" in data
    only_text = explorer._repr_mimebundle_(include={"text/plain"})
    assert set(only_text) == {"text/plain"}
    assert "image/png" not in explorer._repr_mimebundle_(exclude={"image/png"})


def test_text_forms_are_stable():
    assert ConvExplorer(n=7, f=3, padding=0, stride=2).text == "ConvExplorer(n=7, f=3, padding=0, stride=2 -> 3x3)"
    assert repr(PoolExplorer()) == "PoolExplorer(x=4x4, size=2, stride=2, mode='max' -> 2x2)"
    assert repr(ReceptiveFieldExplorer()) == "ReceptiveFieldExplorer(layers=[(3, 1), (3, 1), (3, 1)] -> 7x7)"


# ----- controls update state, readout and picture -------------------------------------------
def test_changing_stride_updates_shape_readout_and_picture():
    ex = ConvExplorer(n=7, f=3, padding=0, stride=1)
    assert ex.output_shape == (5, 5) and _out_cells(ex.picture.value) == 25
    ex.controls["stride"].value = 2
    assert ex.output_shape == (3, 3)
    assert "N_out = floor((N - F + 2P)/S) + 1 = floor((7 - 3 + 2*0)/2) + 1 = 3" in ex.readout.value
    assert _out_cells(ex.picture.value) == 9
    assert ex.controls["step"].max == 8 and ex.play.max == 8
    ex.controls["stride"].value = 3                       # the lecture's 2.33: shown, not hidden
    assert ex.output_shape == (2, 2)
    assert "not exact" in ex.readout.value and "2.33" in ex.readout.value
    assert "13 input cells never reached" in ex.readout.value
    assert "-unreached" in ex.picture.value
    assert ex.text.endswith("floored from 2.33)")


def test_slider_mirror_drives_the_same_state():
    ex = ConvExplorer()
    sliders = [w for w in _walk(ex.widget) if isinstance(w, widgets.IntSlider)]
    stride_slider = next(s for s in sliders if s.tooltip.startswith("step of the window"))
    stride_slider.value = 2
    assert ex.controls["stride"].value == 2 and ex.output_shape == (3, 3)


def test_step_moves_the_window():
    ex = ConvExplorer(n=7, f=3, stride=2)
    ex.controls["step"].value = 5                         # row-major: output (1, 2)
    assert "output (1, 2) reads input rows 2 to 4, cols 4 to 6" in ex.readout.value
    assert "position 6 of 9" in ex.readout.value
    ex.controls["stride"].value = 3                       # fewer positions: the step is clamped
    assert ex.controls["step"].value == 3


@pytest.mark.parametrize("f", [3, 5, 7])
def test_presets(f):
    ex = ConvExplorer(n=7, f=f, stride=2)
    ex.preset("same")
    assert ex.controls["padding"].value == arith.same_padding(f) and ex.output_shape == (7, 7)
    ex.preset("full")
    assert ex.controls["padding"].value == f - 1 and ex.output_shape == (7 + f - 1, 7 + f - 1)
    ex.preset("valid")
    assert ex.controls["padding"].value == 0 and ex.output_shape == (8 - f, 8 - f)


def test_same_preset_with_even_filter_explains_instead_of_failing():
    ex = ConvExplorer(n=7, f=4, padding=1)
    ex.presets["same"].click()
    assert ex.controls["padding"].value == 1
    assert "preset &#x27;same&#x27; not possible" in ex.readout.value or "preset 'same' not possible" in ex.readout.value
    assert "even" in ex.readout.value
    with pytest.raises(ValueError, match="unknown preset"):
        ex.preset("half")


def test_invalid_combinations_never_raise():
    ex = ConvExplorer()
    seen_invalid = 0
    combos = [(1, 1, 0, 1, 1), (1, 3, 0, 1, 1), (2, 9, 0, 5, 1), (2, 9, 3, 1, 3), (5, 4, 0, 1, 3),
              (5, 9, 3, 5, 1), (16, 9, 0, 5, 3), (16, 1, 3, 5, 1), (3, 3, 0, 2, 2), (7, 3, 8, 6, 4)]
    for n, f, p, s, d in combos:
        ex.set(n=n, f=f, padding=p, stride=s, dilation=d)
        assert ex.output_shape == ConvState(n, f, p, s, d).output_shape
        if ex.output_shape is None:
            seen_invalid += 1
            assert "no output" in ex.text and "invalid" in ex.readout.value
            assert _out_cells(ex.picture.value) == 0 and ex.controls["step"].disabled
            bundle = ex._repr_mimebundle_()
            assert bundle["text/plain"] == ex.text and bundle["image/png"]
    assert seen_invalid >= 5


def test_set_rejects_unknown_or_out_of_range_controls():
    ex = ConvExplorer()
    with pytest.raises(KeyError, match="unknown control"):
        ex.set(kernel=3)
    with pytest.raises(ValueError, match="outside"):
        ex.set(stride=99)


def test_pool_explorer_controls():
    ex = PoolExplorer()
    np.testing.assert_array_equal(ex.output, [[6, 8], [3, 4]])
    assert "[[6, 8], [3, 4]]" in ex.readout.value
    ex.set(size=3, stride=1)                              # overlapping windows
    np.testing.assert_array_equal(ex.output, [[7, 8], [7, 8]])
    ex.mode.value = "avg"
    np.testing.assert_allclose(ex.output, ex.state.output)
    assert ex.output[0, 0] == pytest.approx(np.mean([1, 1, 2, 5, 6, 7, 3, 2, 1]))
    assert "-grad" not in ex.picture.value
    ex.show_gradient.value = True
    assert "-grad" in ex.picture.value
    ex.output[0, 0] = -1                                  # .output is a copy
    assert ex.state.output[0, 0] != -1
    odd = PoolExplorer(x=np.ones((3, 5)), size=2, stride=2)
    odd.set(size=4, stride=1)                             # larger than the 3 rows: no output, no error
    assert odd.output_shape is None and odd.output.shape == (0, 0) and "invalid" in odd.readout.value


def test_receptive_field_explorer_controls():
    ex = ReceptiveFieldExplorer()
    assert ex.receptive_field == 7 and ex.output_shape == (3, 3)
    assert "27C^2" in ex.readout.value and "49C^2" in ex.readout.value
    ex.set(layers=4)                                      # a fourth 3x3 layer: 9x9
    assert ex.receptive_field == arith.receptive_field([(3, 1)] * 4) == 9
    assert ex.controls["step"].value == 4                 # still fully traced
    ex.set(k2=2, s2=2)
    assert ex.receptive_field == arith.receptive_field([(3, 1), (2, 2), (3, 1), (3, 1)])
    ex.controls["step"].value = 1                         # traced one layer down
    assert "depends on 3x3 cells of layer 3" in ex.readout.value
    ex.set(channels=1)
    assert f"{ex.state.stack_weights(1)}C^2" in ex.readout.value
    fixed = ReceptiveFieldExplorer(n=9, cell=(2, 2))      # 9 -> 7 -> 5 -> 3, cell (2, 2)
    fixed.set(layers=5)                                   # 5 layers do not fit 9 pixels: falls back
    assert fixed.state.sizes[-1] >= 1 and "using the smallest input" in fixed.readout.value
    assert fixed.controls["row"].value <= fixed.controls["row"].max == fixed.state.sizes[-1] - 1


@pytest.mark.parametrize("make", EXPLORERS, ids=["conv", "pool", "rf"])
def test_every_control_is_labelled(make):
    explorer = make()
    for w in _walk(explorer.widget):
        if isinstance(w, (widgets.BoundedIntText, widgets.Checkbox, widgets.ToggleButtons, widgets.Button,
                          widgets.Play)):
            assert w.description.strip(), w
        if isinstance(w, widgets.HBox) and any(isinstance(c, widgets.IntSlider) for c in w.children):
            box, slider = w.children                      # a slider only mirrors a labelled spin box
            assert isinstance(box, widgets.BoundedIntText) and box.description.strip()
            assert (slider.value, slider.max, slider.tooltip) == (box.value, box.max, box.tooltip)
    assert 'role="status"' in explorer.readout.value and 'aria-live="polite"' in explorer.readout.value
    assert 'role="img" aria-label="' in explorer.picture.value


# ----- strict nbval ---------------------------------------------------------------------
def _explorer_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "Explorer(" in c.source and "output_shape" not in c.source]


def test_notebook_stores_all_three_representations():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = _explorer_cells(nb)
    assert len(cells) >= 4
    for cell in cells:
        data = [o for o in cell.outputs if "data" in o]
        assert data, cell.source
        assert {"text/plain", "image/png", WIDGET_VIEW_MIMETYPE} <= set(data[0]["data"]), cell.source


def test_strict_nbval_passes_and_catches_a_changed_text(tmp_path):
    """``pytest --nbval`` (strict, not lax) passes on the notebook and fails on a copy whose
    stored text/plain differs: so the passing run really compared the explorer's text."""
    import matplotlib.font_manager  # noqa: F401  (builds matplotlib's font cache outside the kernel)

    nb = nbformat.read(NOTEBOOK, as_version=4)
    tampered = copy.deepcopy(nb)                       # the cells up to the first explorer, one text changed
    cell = _explorer_cells(tampered)[0]
    tampered.cells = tampered.cells[:tampered.cells.index(cell) + 1]
    out = next(o for o in cell.outputs if "data" in o)
    out["data"]["text/plain"] = out["data"]["text/plain"].replace("3x3", "4x4")
    assert out["data"]["text/plain"] != next(o for o in _explorer_cells(nb)[0].outputs if "data" in o)["data"]["text/plain"]
    bad = tmp_path / "tampered.ipynb"
    nbformat.write(tampered, bad)
    report = tmp_path / "report.xml"
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider", "-q",
         f"--junitxml={report}", str(NOTEBOOK), str(bad)],
        cwd=NOTEBOOK.parents[2], env=env, capture_output=True, text=True, timeout=240)
    log = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "--nbval-lax" not in " ".join(proc.args)
    cases = ET.parse(report).getroot().iter("testcase")
    results = {}
    for case in cases:
        failed = any(child.tag in ("failure", "error") for child in case)
        skipped = any(child.tag == "skipped" for child in case)
        results[(case.get("classname"), case.get("name"))] = "failed" if failed else "skipped" if skipped else "passed"
    good = {k: v for k, v in results.items() if "widgets_strict" in k[0]}
    bad_results = {k: v for k, v in results.items() if k not in good}     # the copy outside the repo
    assert len(good) == len([c for c in nb.cells if c.cell_type == "code"]), log
    assert set(good.values()) == {"passed"}, log
    assert len(bad_results) == len([c for c in tampered.cells if c.cell_type == "code"]), log
    assert list(bad_results.values()).count("failed") == 1, log
    assert proc.returncode == 1, log


def _regenerate():
    """Execute the notebook in place and drop the (large, optional) widget state metadata."""
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, NOTEBOOK)


if __name__ == "__main__" and "--regenerate" in sys.argv:
    _regenerate()
    print(f"wrote {NOTEBOOK}")
