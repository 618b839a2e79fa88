"""One training loop for every torch model of the course, and the helpers to look at the result.

Lecture: the second half (LeNet-5 to batch normalization) trains every network with it.

    history = fit(LeNet5(), (X_train, y_train), (X_test, y_test), epochs=10, lr=0.05, desc="LeNet-5")
    evaluate(model, (X_test, y_test))            # accuracy in [0, 1]

Modules
-------
loop      :func:`fit` (the loop), :class:`TrainOptions` (its rarely changed settings),
          :func:`evaluate`, :func:`predict`, :func:`recompute_bn_stats`
steps     one optimizer step: eager, or replayed as a CUDA graph
record    :class:`History` (per epoch and per batch) and its plots, the live plot
report    confusion matrix, misclassified images

Data
    ``(X, y)`` pairs of NumPy arrays or tensors. ``X``: ``uint8`` images ``(N, H, W)`` or
    ``(N, C, H, W)`` (scaled to float32 in [0, 1], a channel axis added when missing), or
    float images of the same shapes; ``y``: integer labels ``(N,)`` (see
    :func:`cnnlab.data.as_tensors`). The whole set is moved to the device once and batches
    are taken by indexing it: no DataLoader and no worker processes (they hang in Jupyter
    on some systems). Each epoch visits the examples in a fresh random order.

Amount of work
    ``fit`` does what it is told: ``epochs`` whole epochs, or ``max_batches`` batches per
    epoch when that is given. Fast mode (``CNNLAB_FAST``) is the notebook's business: it
    chooses sizes with :func:`cnnlab.config.pick`, e.g. ``epochs=pick(10, 1)``,
    ``max_batches=pick(None, 20)``.

Device
    ``device=None`` takes :func:`cnnlab.config.get_device` (CUDA, then MPS, then CPU;
    ``CNNLAB_DEVICE`` overrides). On a CPU training is float32 and eager (``torch.compile``
    is slower than eager on a laptop's few cores). On CUDA it uses bf16 autocast (where
    the GPU supports bf16), channels-last memory and a CUDA graph of the whole training
    step (forward, backward, optimizer), replayed once per batch (with a constant learning
    rate, or any schedule with Adam, whose rate then lives in a device tensor); the graph
    needs equal-sized batches, so a last partial batch is dropped there (if capture fails,
    a warning says so and training runs eagerly). The epoch's loss and accuracy are summed
    on the device and read once per epoch, so the GPU is never stalled by a per-step
    ``.item()``. Each speed-up can be turned off in :class:`TrainOptions`.

Reproducibility
    ``seed`` fixes the shuffling order and torch's random numbers (dropout). On a CPU two
    runs of the same model (built after the same ``seed_everything``) with the same seed
    give identical histories. The model's initial weights are the caller's business.
"""
from cnnlab.train.loop import TrainOptions, evaluate, fit, predict, recompute_bn_stats
from cnnlab.train.record import History
from cnnlab.train.report import confusion_matrix, plot_confusion_matrix, show_misclassified

__all__ = ["fit", "TrainOptions", "History", "evaluate", "predict", "recompute_bn_stats", "confusion_matrix",
           "plot_confusion_matrix", "show_misclassified"]
