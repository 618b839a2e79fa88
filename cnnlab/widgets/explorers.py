"""The three explorers: live ipywidgets views over the state models, with a static fallback.

Displaying an explorer (last expression of a cell, or ``display(explorer)``) emits one
output with three representations:

* ``application/vnd.jupyter.widget-view+json`` - the live widget (JupyterLab, Notebook 7,
  VS Code with a kernel);
* ``image/png`` - a static picture of the current setting (GitHub, nbviewer, untrusted
  notebooks, any viewer without a widget manager);
* ``text/plain`` - the stable one-line text, e.g. ``ConvExplorer(n=7, f=3, padding=0, stride=2 -> 3x3)``.

nbval (strict ``--nbval``) compares ``text/plain`` and skips the widget view (random model
ids) and, unless ``--nbdime`` is given, images; so a cell displaying an explorer passes.

Keyboard operation (every explorer)
-----------------------------------
* ``Tab`` / ``Shift+Tab`` move between controls in reading order.
* Each number has a labelled spin box (its accessible name is the visible label, e.g.
  "stride S"): ``ArrowUp`` / ``ArrowDown`` change it by one, or type a number and press
  ``Enter``. The slider next to it mirrors the box for pointer users; when focused, its
  handle moves with ``ArrowLeft/Right/Up/Down``, ``PageUp/PageDown``, ``Home/End``.
* Preset and mode buttons activate with ``Space`` or ``Enter``; the checkbox with ``Space``.
* The play control's buttons (play/pause, stop, repeat) take ``Space``/``Enter``; the
  "position" box steps the same animation one cell at a time without it.
* The readout is an ARIA live region, so a screen reader announces the new formula, and
  the picture carries an ``aria-label`` describing the current state.
"""
from __future__ import annotations

from html import escape

import ipywidgets as widgets
import numpy as np

from cnnlab import arith
from cnnlab.widgets import draw
from cnnlab.widgets.base import LABEL_STYLE, Explorer, code
from cnnlab.widgets.state import ConvState, PoolState, ReceptiveFieldState, format_number

__all__ = ["ConvExplorer", "PoolExplorer", "ReceptiveFieldExplorer"]

class ConvExplorer(Explorer):
    """Stride, padding and dilation of a convolution window on a square input.

    ``ConvExplorer(n=7, f=3, padding=0, stride=1, dilation=1)`` shows the input with its zero
    padding (hatched, dashed), the ``f x f`` window at the current output position, and the
    output grid, with the readout ``N_out = floor((N - F + 2P)/S) + 1`` filled in. Settings that
    do not tile exactly (7x7 input, 3x3 filter, stride 3: 2.33) are shown, not hidden: the
    readout says so with :mod:`cnnlab.arith`'s message and never-reached cells are
    cross-hatched. Presets: "valid" (P=0), "same" (P=(F_eff-1)/2, stride 1), "full"
    (P=F_eff-1, stride 1).

    Attributes: ``state`` (:class:`ConvState`), ``output_shape`` ``(N_out, N_out)`` or None,
    ``controls`` (name -> spin box: n, f, padding, stride, dilation, step), ``widget``.

    Keyboard: ``Tab`` to a spin box ("input size W", "filter size F", "padding P", "stride S",
    "dilation D", "output position") and press ``ArrowUp``/``ArrowDown``; ``Tab`` once more
    reaches its slider (``ArrowLeft``/``ArrowRight``); presets and play take ``Space``/``Enter``.
    """

    def __init__(self, n: int = 7, f: int = 3, padding: int = 0, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.state = ConvState(n, f, padding, stride, dilation)       # validates the arguments
        params = widgets.VBox([
            self._number("n", "input size W", n, 1, 16, "input width and height W (pixels)"),
            self._number("f", "filter size F", f, 1, 9, "filter width and height F"),
            self._number("padding", "padding P", padding, 0, 8, "zeros added on each side P"),
            self._number("stride", "stride S", stride, 1, 6, "step of the window S"),
            self._number("dilation", "dilation D", dilation, 1, 4, "spacing of the filter taps D"),
        ])
        self.presets = {}
        for key, text, tip in (("valid", "valid (P=0)", "no padding"),
                               ("same", "same (P=(F-1)/2)", "padding that keeps the size at stride 1"),
                               ("full", "full (P=F-1)", "every partial overlap, stride 1")):
            button = widgets.Button(description=text, tooltip=f"preset {key}: {tip}",
                                    layout=widgets.Layout(width="auto"))
            button.on_click(lambda _b, key=key: self.preset(key))
            self.presets[key] = button
        stepper = self._stepper("output position", "output cell the window is on (row-major order)")
        right = widgets.VBox([widgets.HTML("<b>Presets</b>"), widgets.HBox(list(self.presets.values())),
                              widgets.HTML("<b>Slide the window</b>"), stepper])
        self.widget = widgets.VBox([widgets.HBox([params, right]), self.readout, self.picture],
                                   layout=widgets.Layout(border="1px solid #ccc", padding="6px"))
        self.widget.add_class("cnnlab-conv-explorer")
        self._refresh()

    def preset(self, name: str):
        """Apply a padding preset: ``"valid"``, ``"same"`` or ``"full"`` (see class docstring)."""
        f_eff = self.state.f_eff
        if name == "valid":
            values = {"padding": 0}
        elif name == "same":
            try:
                values = {"padding": arith.same_padding(f_eff), "stride": 1}
            except ValueError as err:       # even span: no symmetric padding; say so, change nothing
                self._note = f"preset 'same' not possible: {escape(str(err))}"
                self._refresh()
                return self
        elif name == "full":
            values = {"padding": f_eff - 1, "stride": 1}
        else:
            raise ValueError(f"unknown preset {name!r}; use 'valid', 'same' or 'full'")
        box = self.controls["padding"]
        box.max = max(box.max, values["padding"])
        self._note = f"preset '{name}': " + ", ".join(f"{k} = {v}" for k, v in values.items())
        return self.set(**values)

    def _update_state(self):
        c = self.controls
        self.state = ConvState(c["n"].value, c["f"].value, c["padding"].value, c["stride"].value,
                               c["dilation"].value)
        self._set_step_max(self.state.num_steps - 1)

    def _readout_lines(self):
        s = self.state
        lines = [code(s.formula())]
        if s.dilation_formula():
            lines.append(code(s.dilation_formula()))
        mark = "&#10003; exact" if s.exact else ("&#9888; not exact" if s.valid else "&#10007; invalid")
        lines.append(f"<b>{mark}:</b> {escape(s.exactness())}")
        if s.valid:
            step = self.controls["step"].value
            lines.append(f"<b>output {s.output_size}x{s.output_size}</b>, position {step + 1} of "
                         f"{s.num_steps}: {escape(s.describe_step(step))}")
        if self._note:
            lines.append(f"<i>{self._note}</i>")
            self._note = None
        return lines

    def _figure(self, static: bool):
        step = self.controls["step"].value if self.state.valid else 0
        return draw.conv_figure(self.state, step, uid=self._uid, formula=static)

    def _picture_label(self):
        s = self.state
        out = f"output {s.output_size} by {s.output_size}" if s.valid else "no output"
        return (f"Input {s.n} by {s.n} with zero padding {s.padding}, {s.f} by {s.f} window, stride {s.stride}, "
                f"dilation {s.dilation}: {out}; {len(s.unreached()) if s.valid else 0} input cells never reached.")


class PoolExplorer(Explorer):
    """Max or average pooling of one 2-D slice, window by window.

    ``PoolExplorer(x=None, size=2, stride=2, mode="max")``: ``x`` defaults to the lecture's
    4x4 example, whose 2x2 max pooling with stride 2 gives ``[[6, 8], [3, 4]]``. Overlapping
    windows (``size=3, stride=2``) work. The boxed cell is the one max pooling picks (first
    maximum on ties, like torch); "show gradient routing" adds a panel with the gradient each
    input cell receives when every output passes back 1.

    Attributes: ``state`` (:class:`PoolState`), ``output`` (NumPy array), ``output_shape``,
    ``controls`` (size, stride, step), ``mode``, ``show_gradient``, ``widget``.

    Keyboard: ``Tab`` to "window size F", "stride S" or "output position" and press
    ``ArrowUp``/``ArrowDown``; ``Space`` picks a pooling mode button or toggles
    "show gradient routing".
    """

    def __init__(self, x=None, size: int = 2, stride: int | None = 2, mode: str = "max"):
        super().__init__()
        kwargs = {} if x is None else {"x": x}
        self.state = PoolState(size=size, stride=stride, mode=mode, **kwargs)   # validates
        h, w = self.state.x.shape
        self.mode = widgets.ToggleButtons(options=[("max", "max"), ("average", "avg")], value=mode,
                                          description="pooling", style=LABEL_STYLE,
                                          tooltips=["max pooling", "average pooling"])
        self.show_gradient = widgets.Checkbox(value=False, description="show gradient routing",
                                              indent=False)
        for control in (self.mode, self.show_gradient):
            control.observe(self._on_control, names="value")
        params = widgets.VBox([
            self._number("size", "window size F", size, 1, max(h, w), "pooling window width and height F"),
            self._number("stride", "stride S", self.state.stride, 1, max(h, w), "step of the window S"),
            self.mode, self.show_gradient,
        ])
        stepper = self._stepper("output position", "output cell the window is on (row-major order)")
        right = widgets.VBox([widgets.HTML("<b>Slide the window</b>"), stepper])
        self.widget = widgets.VBox([widgets.HBox([params, right]), self.readout, self.picture],
                                   layout=widgets.Layout(border="1px solid #ccc", padding="6px"))
        self.widget.add_class("cnnlab-pool-explorer")
        self._refresh()

    @property
    def output(self) -> np.ndarray:
        """Pooled values (copy), shape ``output_shape``."""
        return self.state.output.copy()

    def _update_state(self):
        c = self.controls
        self.state = PoolState(self.state.x, c["size"].value, c["stride"].value, self.mode.value)
        self._set_step_max(self.state.num_steps - 1)

    def _readout_lines(self):
        s = self.state
        lines = [code(s.formula())]
        mark = "&#10003; exact" if s.exact else ("&#9888; not exact" if s.valid else "&#10007; invalid")
        lines.append(f"<b>{mark}:</b> {escape(s.exactness())}")
        if s.valid:
            rows = ", ".join("[" + ", ".join(format_number(v) for v in row) + "]" for row in s.output)
            lines.append(f"<b>output {s.output_shape[0]}x{s.output_shape[1]}</b> = {code('[' + rows + ']')}")
            lines.append(escape(s.describe_step(self.controls["step"].value)))
        return lines

    def _figure(self, static: bool):
        step = self.controls["step"].value if self.state.valid else 0
        return draw.pool_figure(self.state, step, show_gradient=self.show_gradient.value, uid=self._uid,
                                formula=static)

    def _picture_label(self):
        s = self.state
        h, w = s.x.shape
        out = "no output" if not s.valid else f"output {s.output_shape[0]} by {s.output_shape[1]}"
        return f"{s.mode} pooling of a {h} by {w} input, window {s.size}, stride {s.stride}: {out}."


class ReceptiveFieldExplorer(Explorer):
    """Which input pixels one cell of a deep layer depends on, traced layer by layer.

    ``ReceptiveFieldExplorer(layers=[(3, 1)] * 3)`` stacks ``(kernel, stride)`` layers without
    padding on an input just large enough (or ``n``); pick a last-layer cell and step the
    "trace depth" down to the input: three 3x3 layers see 7x7 pixels, like one 7x7 layer,
    with 27C^2 instead of 49C^2 weights (the VGG argument).

    Attributes: ``state`` (:class:`ReceptiveFieldState`), ``receptive_field``, ``output_shape``
    (last layer), ``controls`` (layers, k1..k6, s1..s6, row, col, channels, step), ``widget``.

    Keyboard: ``Tab`` to "layers L", "layer i kernel", "layer i stride", "chosen row/column",
    "channels C" or "trace depth" and press ``ArrowUp``/``ArrowDown`` (or type and ``Enter``).
    """

    MAX_LAYERS = 6

    def __init__(self, layers=((3, 1),) * 3, n: int | None = None, cell=None, channels: int = 64):
        super().__init__()
        self.state = ReceptiveFieldState(tuple(layers), n, cell)          # validates
        self._n = n
        layers = self.state.layers
        if len(layers) > self.MAX_LAYERS:
            raise ValueError(f"at most {self.MAX_LAYERS} layers can be explored, got {len(layers)}")
        count = self._number("layers", "layers L", len(layers), 1, self.MAX_LAYERS, "number of layers")
        self._layer_rows = []
        for i in range(self.MAX_LAYERS):
            k, s = layers[min(i, len(layers) - 1)]
            row = widgets.HBox([
                self._number(f"k{i + 1}", f"layer {i + 1} kernel", k, 1, 7, f"kernel size of layer {i + 1}",
                             slider=False),
                self._number(f"s{i + 1}", f"layer {i + 1} stride", s, 1, 3, f"stride of layer {i + 1}",
                             slider=False),
            ])
            self._layer_rows.append(row)
        last = self.state.sizes[-1]
        cell_rows = widgets.VBox([
            self._number("row", "chosen row", self.state.cell[0], 0, last - 1, "row of the last-layer cell"),
            self._number("col", "chosen column", self.state.cell[1], 0, last - 1, "column of the last-layer cell"),
            self._number("channels", "channels C", channels, 1, 4096, "channels in and out of every layer",
                         slider=False),
        ])
        stepper = self._stepper("trace depth", "how many layers down from the top are traced")
        left = widgets.VBox([count] + self._layer_rows)
        right = widgets.VBox([widgets.HTML("<b>Chosen cell</b>"), cell_rows,
                              widgets.HTML("<b>Trace it down</b>"), stepper])
        self.widget = widgets.VBox([widgets.HBox([left, right]), self.readout, self.picture],
                                   layout=widgets.Layout(border="1px solid #ccc", padding="6px"))
        self.widget.add_class("cnnlab-rf-explorer")
        self._busy = True
        self.controls["step"].max = len(layers)
        self.controls["step"].value = len(layers)
        self._busy = False
        self._refresh()

    @property
    def receptive_field(self) -> int:
        return self.state.receptive_field

    def _update_state(self):
        c = self.controls
        count = c["layers"].value
        for i, row in enumerate(self._layer_rows):
            row.layout.display = None if i < count else "none"
        layers = tuple((c[f"k{i + 1}"].value, c[f"s{i + 1}"].value) for i in range(count))
        old_depth, old_count = c["step"].value, len(self.state.layers)
        try:
            state = ReceptiveFieldState(layers, self._n, (c["row"].value, c["col"].value))
        except ValueError:
            state = None
        if state is None:       # cell outside the new last layer, or the fixed n too small
            try:
                state = ReceptiveFieldState(layers, self._n)
            except ValueError as err:
                state = ReceptiveFieldState(layers)
                self._note = f"{escape(str(err))}; using the smallest input that fits, n = {state.n}"
        self.state = state
        last = state.sizes[-1]
        for name, value in (("row", state.cell[0]), ("col", state.cell[1])):
            c[name].max = last - 1
            c[name].value = value
        self._set_step_max(count)
        if count != old_count and old_depth == old_count:
            c["step"].value = count           # keep "fully traced" when layers are added

    def _readout_lines(self):
        s = self.state
        r = s.receptive_field
        depth = self.controls["step"].value
        layer = len(s.layers) - depth
        span = s.region_span(layer)
        lines = [code(s.formula()),
                 f"<b>{len(s.layers)} layers on a {s.n}x{s.n} input</b> (sizes "
                 f"{' -> '.join(map(str, s.sizes))}); cell {s.cell} of the last layer sees "
                 f"<b>{r}x{r}</b> input pixels.",
                 f"traced {depth} of {len(s.layers)} layers: it depends on {span}x{span} cells of "
                 + ("the input" if layer == 0 else f"layer {layer}") + ".",
                 code(s.weights_text(self.controls["channels"].value))]
        if self._note:
            lines.append(f"<i>{self._note}</i>")
            self._note = None
        return lines

    def _figure(self, static: bool):
        return draw.receptive_field_figure(self.state, self.controls["step"].value, uid=self._uid)

    def _picture_label(self):
        s = self.state
        return (f"{len(s.layers)} layers on a {s.n} by {s.n} input; cell {s.cell} of the last layer has a "
                f"receptive field of {s.receptive_field} by {s.receptive_field} input pixels.")
