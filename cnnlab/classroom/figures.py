"""The report's PNG figures (matplotlib, Agg, no pyplot; Okabe-Ito colours, every bar labelled).

Each function writes one PNG and returns its alt text, which says what the figure shows
in words, so the page reads without the image too.
"""
from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7"


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def score_histogram(scores: list[float], max_score: float, title: str, path: Path) -> str:
    """Histogram of scores (0 .. max_score, about ten bins)."""
    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.add_subplot()
    top = max(max_score, max(scores, default=0), 1)
    bins = [top * i / 10 for i in range(11)]
    counts, _, bars = ax.hist(scores, bins=bins, color=BLUE, edgecolor="white")
    ax.bar_label(bars, labels=[f"{int(c)}" if c else "" for c in counts])
    ax.set(xlabel=f"score (of {max_score:g})", ylabel="students", title=title)
    _save(fig, path)
    mean = sum(scores) / len(scores) if scores else 0
    return (f"Histogram of {len(scores)} scores in {title}, out of {max_score:g}: lowest {min(scores, default=0):g}, "
            f"mean {mean:.1f}, highest {max(scores, default=0):g}.")


def pass_rates(rates: list[tuple[str, float]], title: str, path: Path) -> str:
    """Horizontal bars of each test's pass rate, hardest (lowest) at the top."""
    fig = Figure(figsize=(5.5, 0.45 * len(rates) + 1.2))
    ax = fig.add_subplot()
    names = [name for name, _ in rates][::-1]
    values = [100 * rate for _, rate in rates][::-1]
    bars = ax.barh(names, values, color=[VERMILLION if v < 50 else GREEN for v in values], hatch="")
    for bar, v in zip(bars, values):
        if v < 50:
            bar.set_hatch("//")
    ax.bar_label(bars, labels=[f"{v:.0f}%" for v in values], padding=2)
    ax.set(xlim=(0, 115), xlabel="students who passed (%)", title=title)
    _save(fig, path)
    return f"Pass rate per test in {title}, hardest first: " + "; ".join(f"{n} {100 * r:.0f}%" for n, r in rates) + "."


def status_counts(counts: dict[str, int], title: str, path: Path) -> str:
    """Bars of how many submissions ended with each status."""
    fig = Figure(figsize=(5.5, 0.45 * len(counts) + 1.2))
    ax = fig.add_subplot()
    names = list(counts)[::-1]
    bars = ax.barh(names, [counts[n] for n in names], color=[SKY if n == "ok" else ORANGE for n in names])
    ax.bar_label(bars, padding=2)
    ax.set(xlabel="submissions", title=title)
    ax.set_xlim(0, max(counts.values(), default=1) * 1.2 + 0.5)
    _save(fig, path)
    return f"Submissions per status in {title}: " + "; ".join(f"{n} {c}" for n, c in counts.items()) + "."
