"""Colour-blind-safe colours (Okabe & Ito, 2008) and small plotting helpers: a grid of
images (:func:`image_grid`) and a small array drawn as a grid of numbers with highlighted
cells (:func:`draw_number_grid`, for pictures of what a layer does cell by cell).

Every plot in the course uses these colours *and* a second cue (labels, line
style, markers or hatching), so nothing depends on colour alone.
"""
from __future__ import annotations

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Colour cycle for line plots, most distinguishable first.
CYCLE = [OKABE_ITO[k] for k in ("blue", "vermillion", "bluish_green", "orange",
                                   "reddish_purple", "sky_blue", "yellow", "black")]
#: Line styles and markers paired with CYCLE, so series differ without colour too.
LINESTYLES = ["-", "--", "-.", ":", "-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def series_style(i: int) -> dict:
    """Keyword arguments for ``plt.plot`` for the i-th series: colour, line style, marker."""
    return {"color": CYCLE[i % len(CYCLE)], "linestyle": LINESTYLES[i % len(LINESTYLES)],
            "marker": MARKERS[i % len(MARKERS)]}


def use_course_style() -> None:
    """Set matplotlib's colour cycle to Okabe-Ito and a readable default size."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams["axes.prop_cycle"] = cycler(color=CYCLE)
    mpl.rcParams["figure.dpi"] = 100
    mpl.rcParams["axes.grid"] = True
    mpl.rcParams["grid.alpha"] = 0.3


def image_grid(images, labels=None, class_names=None, ncols=10, title=None, cmap="gray_r", size=1.2,
               captions=None, fontsize=8):
    """Show ``images`` (N, H, W) in a grid, each about ``size`` inches wide, titled by its label
    (``labels``, named by ``class_names``) or by its entry of ``captions`` (strings); returns
    the figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    images = np.asarray(images)
    n = len(images)
    nrows = max(1, -(-n // ncols))
    title_lines = max((str(c).count("\n") + 1 for c in captions), default=1) if captions is not None else 1
    row_height = size + 0.1 + 0.22 * title_lines * fontsize / 8  # room for the titles above each image
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, row_height * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap=cmap)
        if captions is not None:
            ax.set_title(captions[i], fontsize=fontsize)
        elif labels is not None:
            label = int(labels[i])
            ax.set_title(class_names[label] if class_names else str(label), fontsize=fontsize)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def draw_number_grid(ax, values, title: str | None = None, highlight=None,
                     colour: str = OKABE_ITO["orange"], text=None, fontsize: int = 11):
    """Draw the 2-D array ``values (rows, cols)`` on ``ax`` as a grid with one number per cell
    (row 0 at the top, like an image), and return ``ax``.

    ``highlight``: optional boolean array of the same shape; those cells are filled with
    ``colour``, hatched and their text set in bold. ``text``: optional array of strings of the
    same shape that replaces the numbers (e.g. ``"8\\n+30"`` for a value and the gradient it
    receives).
    """
    import numpy as np

    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values must be a 2-D array (rows, cols), got shape {values.shape}")
    for name, extra in (("highlight", highlight), ("text", text)):
        if extra is not None and np.shape(extra) != values.shape:
            raise ValueError(f"{name} must have the shape of values {values.shape}, got {np.shape(extra)}")
    lit = np.zeros(values.shape, dtype=bool) if highlight is None else np.asarray(highlight, dtype=bool)
    rows, cols = values.shape
    ax.set(xlim=(-0.5, cols - 0.5), ylim=(rows - 0.5, -0.5), aspect="equal",
           xticks=range(cols), yticks=range(rows))
    ax.grid(False)
    for r in range(rows):
        for c in range(cols):
            ax.add_patch(_cell(r, c, lit[r, c], colour))
            label = f"{values[r, c]:g}" if text is None else str(text[r][c])
            ax.text(c, r, label, ha="center", va="center", fontsize=fontsize,
                    fontweight="bold" if lit[r, c] else "normal")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def _cell(r: int, c: int, lit: bool, colour: str):
    from matplotlib.patches import Rectangle

    return Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=colour if lit else "white",
                     alpha=0.5 if lit else 1.0, hatch="//" if lit else None, edgecolor="grey")
