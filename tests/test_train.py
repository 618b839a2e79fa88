"""cnnlab.train: fit learns real Fashion-MNIST, is reproducible, does the work it is told
(fast mode does not change it), records the loss per batch, rejects bad input clearly;
evaluate / predict / batch-norm re-estimation / confusion matrix / misclassified helpers."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from cnnlab import config, nets  # noqa: E402
from cnnlab.data import as_tensors  # noqa: E402
from cnnlab.nets import VGG, LeNet5  # noqa: E402
from cnnlab.train import (History, TrainOptions, confusion_matrix, evaluate, fit,  # noqa: E402
                          plot_confusion_matrix, predict, recompute_bn_stats, show_misclassified)


pytestmark = pytest.mark.usefixtures("one_torch_thread")
QUIET = TrainOptions(progress=False)


def _tiny_model():
    """A cheap model with dropout (so reproducibility covers torch's random numbers)."""
    return VGG((4, "M"), hidden=(16,), dropout=0.5)


def _random_images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n)


def test_fit_learns_real_fashion_mnist(fashion_train, fashion_test):
    config.seed_everything(0)
    model = LeNet5()
    X, y = fashion_train
    history = fit(model, (X[:15000], y[:15000]), epochs=2, batch_size=32, lr=5e-3, optimizer="adam",
                  options=TrainOptions(schedule="cosine", progress=False))
    seen = 15000 // 32 * 32 if history.cuda_graphs else 15000  # CUDA graphs drop a partial batch
    assert len(history) == 2 and history.samples == [seen, seen]
    assert history.train_loss[1] < history.train_loss[0]
    accuracy = evaluate(model, (fashion_test[0][:2000], fashion_test[1][:2000]))
    assert accuracy > 0.80, f"test accuracy {accuracy:.3f}"
    assert history.device == str(config.get_device())


def test_fit_is_reproducible_on_cpu(fashion_train):
    data = (fashion_train[0][:1024], fashion_train[1][:1024])

    def run(seed):
        config.seed_everything(0)  # the same initial weights every time
        model = _tiny_model()
        history = fit(model, data, data, epochs=2, batch_size=64, lr=0.05, seed=seed, device="cpu",
                      options=QUIET)
        return history, torch.cat([p.detach().flatten() for p in model.parameters()])

    first, weights_1 = run(seed=3)
    second, weights_2 = run(seed=3)
    other, _ = run(seed=4)
    assert (first.train_loss, first.train_acc, first.val_acc) == (second.train_loss, second.train_acc, second.val_acc)
    assert torch.equal(weights_1, weights_2)
    assert other.train_loss != first.train_loss  # the seed does matter (shuffling, dropout)


def test_arrays_and_tensors_train_identically():
    X, y = _random_images(300)
    runs = []
    for data in [(X, y), (torch.from_numpy(X).float().div(255).unsqueeze(1), torch.from_numpy(y))]:
        config.seed_everything(1)
        runs.append(fit(LeNet5(), data, epochs=1, batch_size=100, lr=0.01, device="cpu", options=QUIET).train_loss)
    assert runs[0] == runs[1]
    X_t, y_t = as_tensors((X, y))
    assert X_t.shape == (300, 1, 28, 28) and X_t.dtype == torch.float32 and y_t.dtype == torch.int64
    assert float(X_t.max()) <= 1.0 and torch.equal(X_t[5, 0], torch.from_numpy(X[5]).float() / 255)


def test_device_helper_picks_cpu_here(monkeypatch):
    monkeypatch.delenv("CNNLAB_DEVICE", raising=False)
    mps = getattr(torch.backends, "mps", None)
    expected = "cuda" if torch.cuda.is_available() else "mps" if (mps and mps.is_available()) else "cpu"
    assert config.get_device().type == expected
    model = LeNet5()
    X, y = _random_images(64)
    history = fit(model, (X, y), epochs=1, lr=0.01, batch_size=64, options=QUIET)
    assert next(model.parameters()).device.type == expected and history.device.startswith(expected)


def test_fast_mode_does_not_change_fit(monkeypatch):
    """fit does what it is told: CNNLAB_FAST changes nothing, max_batches caps each epoch."""
    X, y = _random_images(400)
    Xv, yv = _random_images(300, seed=1)
    runs = {}
    for fast in ("1", "0"):
        monkeypatch.setenv("CNNLAB_FAST", fast)
        config.seed_everything(0)
        runs[fast] = fit(_tiny_model(), (X, y), (Xv, yv), epochs=1, batch_size=16, lr=0.01, device="cpu",
                         options=QUIET)
    assert runs["1"].samples == runs["0"].samples == [400]
    assert runs["1"].train_loss == runs["0"].train_loss and runs["1"].val_acc == runs["0"].val_acc
    model = _tiny_model()
    capped = fit(model, (X, y), (Xv, yv), epochs=2, batch_size=16, lr=0.01, max_batches=5, device="cpu",
                 options=QUIET)
    assert capped.samples == [5 * 16] * 2 and len(capped.batch_loss) == 10
    assert capped.val_acc[-1] == evaluate(model, (Xv, yv))   # all of the validation set
    with pytest.raises(ValueError, match="max_batches"):
        fit(_tiny_model(), (X, y), epochs=1, lr=0.01, max_batches=0, options=QUIET)


def test_partial_batches_and_max_batches():
    X, y = _random_images(257)
    history = fit(_tiny_model(), (X, y), epochs=1, batch_size=64, lr=0.01, device="cpu", options=QUIET)
    assert history.samples == [256]  # a last batch of one example would break batch norm: dropped
    history = fit(_tiny_model(), (X[:250], y[:250]), epochs=1, batch_size=64, lr=0.01, device="cpu",
                  options=QUIET)
    assert history.samples == [250]
    history = fit(_tiny_model(), (X, y), epochs=1, batch_size=64, lr=0.01, max_batches=2, device="cpu",
                  options=QUIET)
    assert history.samples == [128]


def test_bad_input_to_fit_names_the_shapes():
    X, y = _random_images(100)
    with pytest.raises(ValueError, match=r"100 images but y has 99 labels.*\(100, 28, 28\).*\(99,\)"):
        fit(LeNet5(), (X, y[:99]), epochs=1, lr=0.1, options=QUIET)
    with pytest.raises(ValueError, match=r"val: X has 100 images but y has 98"):
        fit(LeNet5(), (X, y), (X, y[:98]), epochs=1, lr=0.1, options=QUIET)
    big = np.zeros((10, 32, 32), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"\(1, 32, 32\).*LeNet5 expects \(1, 28, 28\)"):
        fit(LeNet5(), (big, y[:10]), epochs=1, lr=0.1, options=QUIET)
    flat_model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))  # no input_shape: probed
    with pytest.raises(ValueError, match=r"Sequential cannot take images of shape \(3, 32, 32\)"):
        fit(flat_model, (np.zeros((10, 3, 32, 32), np.float32), y[:10]), epochs=1, lr=0.1, options=QUIET)
    with pytest.raises(ValueError, match=r"labels range over \[0, 12\] but the model has 10 outputs"):
        fit(LeNet5(), (X[:3], np.array([0, 12, 3])), epochs=1, lr=0.1, options=QUIET)
    with pytest.raises(ValueError, match=r"expected images \(N, H, W\) or \(N, C, H, W\)"):
        fit(LeNet5(), (X.reshape(100, -1), y), epochs=1, lr=0.1, options=QUIET)
    with pytest.raises(ValueError, match="integer class labels"):
        fit(LeNet5(), (X, y.astype(float)), epochs=1, lr=0.1, options=QUIET)
    with pytest.raises(ValueError, match="pair"):
        fit(LeNet5(), X, epochs=1, lr=0.1, options=QUIET)
    with pytest.raises(ValueError, match="optimizer"):
        fit(LeNet5(), (X, y), epochs=1, lr=0.1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="epochs"):
        fit(LeNet5(), (X, y), epochs=0, lr=0.1)


def test_history_plot_and_live_plot(capsys):
    pytest.importorskip("IPython")
    X, y = _random_images(128)
    history = fit(LeNet5(), (X, y), (X, y), epochs=2, batch_size=64, lr=0.01, device="cpu",
                  options=TrainOptions(live_plot=True, progress=False))
    assert "Figure" in capsys.readouterr().out  # the live plot went through IPython's display
    fig = history.plot()
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2
    per_batch = loss_ax.lines[0]                     # one point per batch, x in fractional epochs
    assert list(per_batch.get_xdata()) == [0.5, 1.0, 1.5, 2.0] == history.batch_epoch
    assert list(per_batch.get_ydata()) == history.batch_loss
    assert list(acc_ax.lines[1].get_ydata()) == history.val_acc
    assert set(history.to_dict()) >= {"train_loss", "train_acc", "val_acc", "seconds", "samples", "batch_loss"}
    assert isinstance(history, History) and len(history.seconds) == 2


def test_batch_losses_average_to_the_epoch_loss():
    X, y = _random_images(192)
    history = fit(_tiny_model(), (X, y), epochs=2, batch_size=64, lr=0.01, device="cpu", options=QUIET)
    assert len(history.batch_loss) == 6 and history.batch_epoch[2] == 1.0
    for epoch in range(2):                            # equal batches: the epoch loss is their mean
        assert np.mean(history.batch_loss[3 * epoch:3 * epoch + 3]) == pytest.approx(history.train_loss[epoch])


def test_progress_bar_names_what_it_trains(capsys):
    X, y = _random_images(64)
    history = fit(_tiny_model(), (X, y), epochs=1, batch_size=32, lr=0.01, device="cpu", desc="tiny VGG, lr 0.01")
    assert history.desc == "tiny VGG, lr 0.01"
    assert "tiny VGG, lr 0.01: epoch 1/1" in capsys.readouterr().err


@pytest.mark.parametrize("batch_norm", [nn.BatchNorm2d, nets.BatchNorm2d])
def test_recompute_bn_stats_sets_the_statistics_of_the_images(batch_norm):
    X, y = _random_images(96)
    model = nn.Sequential(batch_norm(1), nn.Flatten(), nn.Linear(784, 10))
    fit(model, (X, y), epochs=1, batch_size=32, lr=0.01, device="cpu", options=QUIET)
    model.eval()
    weights = [p.detach().clone() for p in model.parameters()]
    recompute_bn_stats(model, X, batch_size=len(X))    # one batch: the exact statistics of X
    pixels = torch.from_numpy(X).double() / 255
    bn = model[0]
    assert bn.running_mean.item() == pytest.approx(pixels.mean().item(), rel=1e-5)
    assert bn.running_var.item() == pytest.approx(pixels.var().item(), rel=1e-4)
    assert not model.training and bn.momentum == 0.1  # the mode and the momentum are restored
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))
    recompute_bn_stats(model, X, batch_size=32)       # three equal batches: their mean is the mean of X
    assert bn.running_mean.item() == pytest.approx(pixels.mean().item(), rel=1e-5)


class _LabelReader(nn.Module):
    """Predicts the class written in pixel (0, 0) as ``label * 20`` (a model with known answers)."""

    def forward(self, x):
        label = torch.round(x[:, 0, 0, 0] * 255 / 20).long().clamp(0, 9)
        return nn.functional.one_hot(label, 10).float()


def test_evaluate_confusion_matrix_and_misclassified():
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    rng = np.random.default_rng(5)
    y = rng.integers(0, 10, size=200)
    shown = y.copy()
    flip = rng.choice(200, size=30, replace=False)
    shown[flip] = (y[flip] + 1 + rng.integers(0, 9, size=30)) % 10     # 30 certainly wrong
    X = np.zeros((200, 28, 28), dtype=np.uint8)
    X[:, 0, 0] = shown * 20
    model = _LabelReader()
    assert np.array_equal(predict(model, X), shown)
    assert evaluate(model, (X, y)) == pytest.approx(170 / 200)
    cm = confusion_matrix(model, (X, y))
    assert np.array_equal(cm, sk_confusion_matrix(y, shown, labels=range(10)))
    assert np.array_equal(confusion_matrix(shown, y), cm)
    with pytest.raises(ValueError, match=r"shape \(199,\)"):
        confusion_matrix(shown[:199], y)
    ax = plot_confusion_matrix(cm, [f"c{i}" for i in range(10)])
    assert sorted(int(t.get_text()) for t in ax.texts) == sorted(cm.flatten())
    fig = show_misclassified(model, (X, y), [f"c{i}" for i in range(10)], n=12)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    first = np.flatnonzero(shown != y)[0]
    assert len(titled) == 12 and titled[0] == f"c{y[first]} ->\nc{shown[first]}"
    assert "30 of 200 misclassified" in fig.texts[0].get_text()
    assert min(ax.title.get_fontsize() for ax in fig.axes if ax.get_title()) >= 9, "thumbnail titles must be readable"
    fig.canvas.draw()  # titles of neighbouring rows must not overlap the row above's images
    renderer = fig.canvas.get_renderer()
    boxes = [(ax.title.get_window_extent(renderer), ax.images[0].get_window_extent(renderer))
             for ax in fig.axes if ax.get_title()]
    for title, _ in boxes:
        assert not any(title.overlaps(image) for other_title, image in boxes if other_title is not title), \
            "a thumbnail's title overlaps another thumbnail"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")
@pytest.mark.parametrize("optimizer,lr,schedule", [("sgd", 0.05, "constant"), ("adam", 3e-3, "cosine")])
def test_cuda_graph_steps_equal_eager_steps(fashion_train, optimizer, lr, schedule):
    """The captured step (after warm-up steps that are undone, with Adam's learning rate
    following the schedule through its device tensor) moves the weights like eager steps."""
    data = (fashion_train[0][:4096], fashion_train[1][:4096])
    config.seed_everything(0)
    initial = LeNet5()
    results = {}
    for graphs in (True, False):
        model = LeNet5()
        model.load_state_dict(initial.state_dict())
        history = fit(model, data, epochs=1, batch_size=512, lr=lr, optimizer=optimizer,
                      max_batches=3, device="cuda",
                      options=TrainOptions(schedule=schedule, cuda_graphs=graphs, progress=False))
        assert history.cuda_graphs is graphs
        results[graphs] = torch.cat([p.detach().float().flatten().cpu() for p in model.parameters()])
    start = torch.cat([p.detach().flatten() for p in initial.parameters()])
    moved = (results[False] - start).norm()
    assert moved > 0 and (results[True] - results[False]).norm() < 0.1 * moved


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")
def test_cuda_graph_training_learns(fashion_train):
    model = LeNet5()
    history = fit(model, (fashion_train[0][:20000], fashion_train[1][:20000]), epochs=3, batch_size=512,
                  lr=3e-3, optimizer="adam", device="cuda", options=QUIET)
    assert history.cuda_graphs and history.samples == [(20000 // 512) * 512] * 3
    assert history.train_acc[-1] > 0.7
