"""What :func:`cnnlab.train.fit` records (:class:`History`) and how it is drawn, at the end
(:meth:`History.plot`) or live in a notebook after every epoch (:class:`LivePlot`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from cnnlab.plotting import series_style

__all__ = ["History", "LivePlot"]


@dataclass
class History:
    """Record of :func:`cnnlab.train.fit`.

    Per epoch: ``train_loss`` (mean cross-entropy over the epoch), ``train_acc`` (accuracy
    on the training batches as they were trained on), ``val_acc`` (empty without
    validation data), ``seconds`` (wall time of the epoch, validation included) and
    ``samples`` (training examples seen). Per batch: ``batch_loss`` (the batch's mean
    cross-entropy) at ``batch_epoch`` (fractional epochs: batch ``i`` of ``s`` in epoch
    ``e`` (from 0) sits at ``e + (i + 1) / s``). ``setup_seconds`` is the time spent before
    the first epoch (moving data, capturing a CUDA graph); ``desc`` the label of the run.
    """

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    samples: list = field(default_factory=list)
    batch_loss: list = field(default_factory=list)
    batch_epoch: list = field(default_factory=list)
    setup_seconds: float = 0.0
    device: str = "cpu"
    cuda_graphs: bool = False
    desc: str = ""

    def __len__(self) -> int:
        return len(self.train_loss)

    def to_dict(self) -> dict:
        return asdict(self)

    def plot(self, axes=None):
        """Loss per batch (left; x in epochs, so a single epoch is a curve, not a dot) and
        accuracy per epoch (right), Okabe-Ito colours plus distinct markers and line styles;
        returns the figure."""
        import matplotlib.pyplot as plt

        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
        else:
            fig = axes[0].figure
        epochs = range(1, len(self) + 1)
        ax_loss, ax_acc = axes
        ax_loss.plot(self.batch_epoch, self.batch_loss, label="train loss per batch",
                     **{**series_style(0), "marker": None, "linewidth": 1})
        ax_loss.plot(epochs, self.train_loss, label="epoch mean", **{**series_style(1), "linestyle": "none"})
        ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
        ax_acc.plot(epochs, self.train_acc, label="train", **series_style(0))
        if self.val_acc:
            ax_acc.plot(epochs, self.val_acc, label="validation", **series_style(1))
        ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        for ax in axes:
            ax.legend()
        if self.desc:
            fig.suptitle(self.desc)
        fig.tight_layout()
        return fig


class LivePlot:
    """Loss and accuracy redrawn in place in a notebook after every epoch."""

    def __init__(self):
        try:
            from IPython.display import display
        except ImportError as err:
            raise ValueError("live_plot=True needs IPython (run fit in a Jupyter notebook)") from err
        import matplotlib.pyplot as plt

        self.fig, self.axes = plt.subplots(1, 2, figsize=(9, 3.2))
        plt.close(self.fig)  # shown through the display handle only, not again at the cell's end
        self.handle = display(self.fig, display_id=True)

    def update(self, history: History) -> None:
        for ax in self.axes:
            ax.clear()
        history.plot(axes=self.axes)
        if self.handle is not None:  # None outside a notebook kernel: nothing to redraw
            self.handle.update(self.fig)
