"""Pictures of the explorer states (a thin layer over :mod:`cnnlab.widgets.state`).

Each ``*_figure`` function returns a ``matplotlib.figure.Figure`` built without pyplot,
so drawing never shows a stray inline figure in a notebook. :func:`to_png` gives the
static picture (GitHub, nbviewer, nbval); :func:`to_svg` gives the live picture, whose
output cells carry ids ``<uid>-out-<i>-<j>`` so a browser test can count what is drawn.

Colours are Okabe-Ito (blue input, vermillion window, bluish-green output) and every
state has a second cue: zero padding is hatched ``///`` with dashed edges, cells the
window never reaches are cross-hatched ``xx``, the window has a thick outline, and a
legend names each of them.
"""
from __future__ import annotations

import io
import re
from html import escape

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PatchCollection
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from cnnlab.plotting import OKABE_ITO
from cnnlab.widgets.state import ConvState, PoolState, ReceptiveFieldState, format_number

__all__ = ["conv_figure", "pool_figure", "receptive_field_figure", "to_png", "to_svg", "COLORS"]

COLORS = {
    "input": OKABE_ITO["blue"],
    "window": OKABE_ITO["vermillion"],
    "output": OKABE_ITO["bluish_green"],
    "picked": OKABE_ITO["orange"],
    "padding": "#777777",
    "unreached": OKABE_ITO["black"],
}


def _tint(color: str, amount: float) -> tuple:
    """``color`` mixed with white: amount 0 is white, 1 the full colour."""
    r, g, b = to_rgb(color)
    return (1 - amount * (1 - r), 1 - amount * (1 - g), 1 - amount * (1 - b))


def _cells(ax, cells, *, face="none", edge="none", hatch=None, linestyle="-", lw=0.8, gid=None, z=1):
    """Draw unit squares at ``(row, col)`` cells as one collection (row 0 at the top)."""
    cells = list(cells)
    if not cells:
        return
    patches = [Rectangle((c, r), 1, 1) for r, c in cells]
    coll = PatchCollection(patches, facecolor=face, edgecolor=edge, linewidth=lw, linestyle=linestyle,
                           hatch=hatch, zorder=z)
    if hatch:
        coll.set_hatchcolor(edge if edge != "none" else "black")
    if gid:
        coll.set_gid(gid)
    ax.add_collection(coll)


def _output_cell(ax, a: int, b: int, uid: str, current: bool, tint: float) -> None:
    """Output cell (row ``a``, column ``b``); the current one in the window's colour (``tint``)."""
    ax.add_patch(Rectangle(
        (b, a), 1, 1, gid=f"{uid}-out-{a}-{b}", zorder=4 if current else 1,
        facecolor=_tint(COLORS["window"], tint) if current else _tint(COLORS["output"], 0.22),
        edgecolor=COLORS["window"] if current else COLORS["output"], linewidth=3 if current else 0.8))


def _outline(ax, r0, c0, h, w, color, lw=2.5, linestyle="-", z=5, label=None):
    ax.add_patch(Rectangle((c0, r0), w, h, fill=False, edgecolor=color, linewidth=lw,
                           linestyle=linestyle, zorder=z, label=label))


def _grid_axes(ax, rows: int, cols: int, fontsize: float):
    ax.set_xlim(-0.05, cols + 0.05)
    ax.set_ylim(rows + 0.05, -0.05)
    ax.set_aspect("equal")
    ax.tick_params(length=0, labelsize=fontsize)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.grid(False)


def _index_ticks(ax, n: int, offset: int, fontsize: float):
    """Label real rows/columns 0..n-1 (padding cells get no number)."""
    step = 1 if n <= 12 else 2 if n <= 24 else 4
    ticks = [k + offset + 0.5 for k in range(0, n, step)]
    labels = [str(k) for k in range(0, n, step)]
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.tick_params(labelsize=fontsize)


def _cell_font(cells: int) -> float:
    return float(np.clip(150 / max(cells, 1), 4.5, 11))


def _legend(fig, handles, ncol=3):
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8.5, frameon=False,
               handlelength=1.6, handleheight=1.2, borderaxespad=0.3)


def conv_figure(state: ConvState, step: int = 0, uid: str = "cnnlab", formula: bool = True) -> Figure:
    """Padded input with the window at ``step``, and the output grid with the current cell
    (``formula``: print the filled-in output-size formula on top, for the static picture)."""
    npad, p, n = state.padded_size, state.padding, state.n
    out = state.output_size or 0
    fig = Figure(figsize=(9, 4.9), dpi=100)
    FigureCanvasAgg(fig)
    ax_in, ax_out = fig.subplots(1, 2, gridspec_kw={"width_ratios": [npad, max(out, 0.45 * npad, 3)],
                                                    "wspace": 0.25})
    fig.subplots_adjust(left=0.06, right=0.98, top=0.8, bottom=0.22)
    if formula:
        fig.suptitle(state.formula(), fontsize=10.5, family="monospace")
    font = _cell_font(npad)

    real = [(r + p, c + p) for r in range(n) for c in range(n)]
    pad = [(r, c) for r in range(npad) for c in range(npad) if not (p <= r < p + n and p <= c < p + n)]
    unreached = [(r + p, c + p) for r, c in state.unreached()] if state.valid else []
    _cells(ax_in, real, face=_tint(COLORS["input"], 0.22), edge=COLORS["input"], gid=f"{uid}-input")
    _cells(ax_in, pad, face="white", edge=COLORS["padding"], hatch="///", linestyle="--", gid=f"{uid}-padding")
    _cells(ax_in, unreached, edge=COLORS["unreached"], hatch="xx", lw=0.8, z=2, gid=f"{uid}-unreached")
    if npad <= 16:
        for r, c in pad:
            ax_in.text(c + 0.5, r + 0.5, "0", ha="center", va="center", fontsize=font, color="#444444", zorder=3)
    _outline(ax_in, p, p, n, n, COLORS["input"], lw=2)
    _grid_axes(ax_in, npad, npad, font)
    _index_ticks(ax_in, n, p, font)
    ax_in.set_xlabel("input column", fontsize=9)
    ax_in.set_ylabel("input row", fontsize=9)
    pad_text = f", zero padding P={p} -> {npad}x{npad}" if p else ", no padding (P=0)"
    ax_in.set_title(f"input {n}x{n}{pad_text}\nwindow {state.f}x{state.f}"
                    + (f", dilation {state.dilation} (spans {state.f_eff})" if state.dilation > 1 else "")
                    + f", stride {state.stride}", fontsize=10)

    _grid_axes(ax_out, max(out, 1), max(out, 1), font)
    ax_out.set_xticks([])
    ax_out.set_yticks([])
    if state.valid:
        i, j = state.position(min(step, state.num_steps - 1))
        taps = [(r + p, c + p) for r, c in state.reads(i, j, include_padding=True)]
        _cells(ax_in, taps, face=_tint(COLORS["window"], 0.6), edge=COLORS["window"], lw=1.2, z=3,
               gid=f"{uid}-window")
        rows, cols = state.window(i, j)
        _outline(ax_in, rows.start + p, cols.start + p, state.f_eff, state.f_eff, COLORS["window"], lw=3, z=6)
        for a in range(out):
            for b in range(out):
                _output_cell(ax_out, a, b, uid, current=(a, b) == (i, j), tint=0.6)
        ax_out.text(j + 0.5, i + 0.5, f"{i},{j}", ha="center", va="center", fontsize=_cell_font(out) * 0.8,
                    zorder=5)
        ax_out.set_xlim(-0.05, out + 0.05)
        ax_out.set_ylim(out + 0.05, -0.05)
        verdict = "exact" if state.exact else f"floored from {format_number(float(state.exact_value))}"
        ax_out.set_title(f"output {out}x{out}\n({verdict})", fontsize=10)
        ax_out.set_xlabel(f"current cell ({i}, {j})", fontsize=9)
    else:
        ax_out.text(0.5, 0.5, "no output:\nwindow larger than\nthe padded input", ha="center", va="center",
                    fontsize=10, transform=ax_out.transAxes)
        ax_out.set_title("output: none", fontsize=10)

    handles = [
        Patch(facecolor=_tint(COLORS["input"], 0.22), edgecolor=COLORS["input"], label="input cell"),
        Patch(facecolor="white", edgecolor=COLORS["padding"], hatch="///", linestyle="--", label="zero padding"),
        Patch(facecolor=_tint(COLORS["window"], 0.6), edgecolor=COLORS["window"], linewidth=2,
              label="window (cells read now)"),
        Patch(facecolor="white", edgecolor=COLORS["unreached"], hatch="xx",
              label=f"never reached ({len(unreached)})"),
        Patch(facecolor=_tint(COLORS["output"], 0.22), edgecolor=COLORS["output"], label="output cell"),
        Patch(facecolor=_tint(COLORS["window"], 0.6), edgecolor=COLORS["window"], linewidth=2.5,
              label="current output cell"),
    ]
    _legend(fig, handles)
    return fig


def pool_figure(state: PoolState, step: int = 0, show_gradient: bool = False, uid: str = "cnnlab",
                formula: bool = True) -> Figure:
    """Input values with the pooling window at ``step``, the pooled output, and optionally
    where max pooling routes each output's gradient (counts per input cell)."""
    h, w = state.x.shape
    oh, ow = state.output_shape or (0, 0)
    panels = 3 if show_gradient else 2
    fig = Figure(figsize=(4.0 * panels + 1, 4.6), dpi=100)
    FigureCanvasAgg(fig)
    ratios = [w, max(ow, 0.5 * w, 2)] + ([w] if show_gradient else [])
    axes = fig.subplots(1, panels, gridspec_kw={"width_ratios": ratios, "wspace": 0.3})
    fig.subplots_adjust(left=0.05, right=0.98, top=0.8, bottom=0.2)
    if formula:
        fig.suptitle(state.formula(), fontsize=10.5, family="monospace")
    ax_in, ax_out = axes[0], axes[1]
    font = _cell_font(max(h, w)) * 1.15

    _cells(ax_in, [(r, c) for r in range(h) for c in range(w)], face=_tint(COLORS["input"], 0.22),
           edge=COLORS["input"], gid=f"{uid}-input")
    unreached = state.unreached() if state.valid else []
    _cells(ax_in, unreached, edge=COLORS["unreached"], hatch="xx", z=2, gid=f"{uid}-unreached")
    _grid_axes(ax_in, h, w, font)
    ax_in.set_xticks([c + 0.5 for c in range(w)], [str(c) for c in range(w)])
    ax_in.set_yticks([r + 0.5 for r in range(h)], [str(r) for r in range(h)])
    ax_in.set_title(f"input {h}x{w}\n{state.size}x{state.size} {state.mode} pooling, stride {state.stride}",
                    fontsize=10)
    _grid_axes(ax_out, max(oh, 1), max(ow, 1), font)
    ax_out.set_xticks([])
    ax_out.set_yticks([])

    picked = None
    if state.valid:
        i, j = state.position(min(step, state.num_steps - 1))
        rows, cols = state.window(i, j)
        _cells(ax_in, [(r, c) for r in rows for c in cols], face=_tint(COLORS["window"], 0.45),
               edge=COLORS["window"], z=3, gid=f"{uid}-window")
        _outline(ax_in, rows.start, cols.start, state.size, state.size, COLORS["window"], lw=3, z=6)
        if state.mode == "max":
            picked = state.argmax(i, j)
            ax_in.add_patch(Rectangle((picked[1] + 0.12, picked[0] + 0.12), 0.76, 0.76, fill=False,
                                      edgecolor="black", linewidth=2.2, zorder=7))
        output = state.output
        for a in range(oh):
            for b in range(ow):
                current = (a, b) == (i, j)
                _output_cell(ax_out, a, b, uid, current, tint=0.45)
                ax_out.text(b + 0.5, a + 0.5, format_number(output[a, b]), ha="center", va="center", fontsize=font,
                            fontweight="bold" if current else "normal", zorder=5)
        ax_out.set_xlim(-0.05, ow + 0.05)
        ax_out.set_ylim(oh + 0.05, -0.05)
        ax_out.set_title(f"output {oh}x{ow}" + ("" if state.exact else "\n(floored)"), fontsize=10)
        ax_out.set_xlabel(f"current cell ({i}, {j})", fontsize=9)
    else:
        ax_out.text(0.5, 0.5, "no output:\nwindow larger\nthan the input", ha="center", va="center",
                    fontsize=10, transform=ax_out.transAxes)
        ax_out.set_title("output: none", fontsize=10)
    for r in range(h):
        for c in range(w):
            ax_in.text(c + 0.5, r + 0.5, format_number(state.x[r, c]), ha="center", va="center", fontsize=font,
                       fontweight="bold" if (r, c) == picked else "normal", zorder=8)

    handles = [
        Patch(facecolor=_tint(COLORS["input"], 0.22), edgecolor=COLORS["input"], label="input value"),
        Patch(facecolor=_tint(COLORS["window"], 0.45), edgecolor=COLORS["window"], linewidth=2,
              label="current window"),
        Patch(facecolor=_tint(COLORS["output"], 0.22), edgecolor=COLORS["output"], label="output value"),
        Patch(facecolor="white", edgecolor=COLORS["unreached"], hatch="xx", label=f"in no window ({len(unreached)})"),
    ]
    if state.mode == "max":
        handles.insert(2, Patch(facecolor="white", edgecolor="black", linewidth=2.2, label="max picked (boxed)"))

    if show_gradient:
        ax_g = axes[2]
        grad = state.input_gradient()
        _grid_axes(ax_g, h, w, font)
        ax_g.set_xticks([])
        ax_g.set_yticks([])
        zero = [(r, c) for r in range(h) for c in range(w) if grad[r, c] == 0]
        some = [(r, c) for r in range(h) for c in range(w) if grad[r, c] != 0]
        _cells(ax_g, some, face=_tint(COLORS["picked"], 0.5), edge=COLORS["picked"], gid=f"{uid}-grad")
        _cells(ax_g, zero, face="white", edge="#999999", hatch="..", gid=f"{uid}-nograd")
        for r in range(h):
            for c in range(w):
                ax_g.text(c + 0.5, r + 0.5, format_number(grad[r, c]), ha="center", va="center", fontsize=font, zorder=5)
        ax_g.set_title("gradient reaching each input\n(upstream gradient 1 per output)", fontsize=10)
        handles += [Patch(facecolor=_tint(COLORS["picked"], 0.5), edgecolor=COLORS["picked"], label="gets gradient"),
                    Patch(facecolor="white", edgecolor="#999999", hatch="..", label="gets none (0)")]
    _legend(fig, handles, ncol=4 if show_gradient else 3)
    return fig


def receptive_field_figure(state: ReceptiveFieldState, depth: int | None = None,
                           uid: str = "cnnlab") -> Figure:
    """One grid per layer (input left), the chosen last-layer cell, and the region it depends
    on, traced ``depth`` layers down from the top (all layers by default)."""
    nlayers = len(state.layers)
    depth = nlayers if depth is None else int(np.clip(depth, 0, nlayers))
    sizes = state.sizes
    fig = Figure(figsize=(min(3.0 + 2.4 * (nlayers + 1), 15), 4.6), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, nlayers + 1, gridspec_kw={"width_ratios": [max(s, 0.25 * sizes[0], 2) for s in sizes],
                                                     "wspace": 0.35})
    fig.subplots_adjust(left=0.03, right=0.96, top=0.76, bottom=0.2)
    for layer, (ax, n) in enumerate(zip(axes, sizes)):
        font = _cell_font(n)
        traced = layer >= nlayers - depth
        rows, cols = state.region(layer)
        inside = {(r, c) for r in rows for c in cols} if traced else set()
        _cells(ax, [(r, c) for r in range(n) for c in range(n) if (r, c) not in inside],
               face=_tint(COLORS["input"] if layer == 0 else COLORS["output"], 0.18),
               edge=COLORS["input"] if layer == 0 else COLORS["output"], lw=0.6, gid=f"{uid}-layer{layer}")
        if traced:
            top = layer == nlayers
            _cells(ax, sorted(inside), face=_tint(COLORS["window"], 0.9 if top else 0.5), edge=COLORS["window"],
                   hatch=None if top else "//", lw=0.8, z=3, gid=f"{uid}-region{layer}")
            _outline(ax, rows[0], cols[0], rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1, COLORS["window"],
                     lw=2.5, z=6)
        _grid_axes(ax, n, n, font)
        ax.set_xticks([])
        ax.set_yticks([])
        span = rows[-1] - rows[0] + 1
        if layer == 0:
            title = f"input {n}x{n}"
        else:
            k, s = state.layers[layer - 1]
            title = f"layer {layer}: {k}x{k}, stride {s}\n{n}x{n}"
        ax.set_title(title, fontsize=9.5)
        if layer == nlayers:
            note = f"chosen cell {state.cell}"
        elif traced:
            note = f"depends on {span}x{span}"
        else:
            note = "not traced yet"
        ax.set_xlabel(note, fontsize=9)
    r = state.receptive_field
    a, b = state.stack_weights(1), state.single_layer_weights(1)
    fig.suptitle(f"receptive field of one layer-{nlayers} cell: {r}x{r} input pixels "
                 f"(growth {' -> '.join(map(str, state.growth()))})\n"
                 f"weights with C channels: this stack {a}C\u00b2, one {r}x{r} layer {b}C\u00b2", fontsize=10.5)
    handles = [
        Patch(facecolor=_tint(COLORS["input"], 0.18), edgecolor=COLORS["input"], label="input pixel"),
        Patch(facecolor=_tint(COLORS["output"], 0.18), edgecolor=COLORS["output"], label="feature-map cell"),
        Patch(facecolor=_tint(COLORS["window"], 0.5), edgecolor=COLORS["window"], hatch="//",
              label="in the receptive field"),
        Patch(facecolor=_tint(COLORS["window"], 0.9), edgecolor=COLORS["window"], label="chosen cell"),
    ]
    _legend(fig, handles, ncol=4)
    return fig


def to_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig`` (the static picture)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, facecolor="white")
    return buf.getvalue()


_SVG_HEAD = re.compile(r"^.*?(?=<svg)", re.S)
_SVG_STYLE = re.compile(r"<style[^>]*>.*?</style>", re.S)


def to_svg(fig: Figure, label: str) -> str:
    """Inline SVG markup of ``fig`` with ``role="img"`` and ``label`` as its accessible name.

    Text stays text (``svg.fonttype = none``), ids are deterministic, and the global
    ``<style>`` matplotlib writes is dropped so it cannot restyle the host page.
    """
    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "cnnlab"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, facecolor="white")
    svg = _SVG_STYLE.sub("", _SVG_HEAD.sub("", buf.getvalue(), count=1))
    return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" '
                                f'style="max-width:100%;height:auto" ', 1)
