"""Colour-blind-safe colours (Okabe & Ito, 2008) and small plotting helpers.

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
