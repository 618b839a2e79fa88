"""The classifiers the lecture compares CNNs against, on the same images, with scikit-learn.

Lecture: "Support Vector Machine (Max-Margin Classifier)", "MNIST Challenge Test
Error: SVM vs. CNN" (LeCun et al. 1998: a plain SVM did as well as the tuned LeNets) and
the 2000-2010 era of SVMs and boosting: a kernel SVM, a linear classifier and a tree
ensemble (a random forest).

Each image ``(H, W)`` is flattened to a vector of ``H*W`` pixels scaled to [0, 1]; no
features are engineered. Kernel SVMs cost between ``O(n^2)`` and ``O(n^3)`` in the number
``n`` of training images, so the training-set size is a parameter: ``n_train=10_000``
takes about a minute on a laptop, all 60,000 far longer. For reference, the
Fashion-MNIST paper (Xiao et al. 2017) reports 89.7% for an RBF SVC (C=10) trained on
all 60,000 images, and about 84% for logistic regression.

BLAS runs on one thread here: the matrices are small (784 columns), and on a shared
2-core machine several BLAS threads competing with other work made logistic
regression five times slower than one.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from cnnlab.arith import check_int
from cnnlab.data.images import flatten_images

__all__ = ["BaselineResult", "svm_baseline", "linear_baseline", "forest_baseline"]


@dataclass
class BaselineResult:
    """Test ``accuracy`` in [0, 1], ``fit_seconds`` and ``predict_seconds`` of one run on
    ``n_train`` training and ``n_test`` test images."""

    name: str
    accuracy: float
    fit_seconds: float
    predict_seconds: float
    n_train: int
    n_test: int

    def to_dict(self) -> dict:
        return asdict(self)


def _subset(data, n, name: str, rng: np.random.Generator):
    X, y = data
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"{name}: X has {len(X)} images but y has {len(y)} labels")
    if n is None:
        return X, y
    if check_int(f"{name} size", n, 1) > len(X):
        raise ValueError(f"{name} size must be an integer in 1..{len(X)} (the images available), got {n!r}")
    keep = np.sort(rng.choice(len(X), size=n, replace=False))
    return X[keep], y[keep]


def _run(name: str, classifier, train, test, n_train, n_test, seed: int) -> BaselineResult:
    rng = np.random.default_rng(seed)
    X_train, y_train = _subset(train, n_train, "n_train", rng)
    X_test, y_test = _subset(test, n_test, "n_test", rng)
    with threadpool_limits(limits=1, user_api="blas"):
        start = time.perf_counter()
        classifier.fit(flatten_images(X_train), y_train)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        predictions = classifier.predict(flatten_images(X_test))
        predict_seconds = time.perf_counter() - start
    return BaselineResult(name, float(np.mean(predictions == y_test)), fit_seconds, predict_seconds,
                          len(X_train), len(X_test))


def svm_baseline(train, test, *, n_train: int | None = 10_000, n_test: int | None = None,
                 C: float = 10.0, gamma="scale", seed: int = 0) -> BaselineResult:
    """RBF-kernel SVM (``sklearn.svm.SVC``, one-vs-one) on ``n_train`` random training images.

    ``train``, ``test``: ``(X, y)`` with images ``(N, H, W)``; ``n_test=None`` uses the whole
    test set. ``C=10`` and ``gamma="scale"`` (``1 / (pixels * variance)``) follow the
    Fashion-MNIST paper's best SVC.
    """
    from sklearn.svm import SVC

    return _run("svm_rbf", SVC(C=C, kernel="rbf", gamma=gamma), train, test, n_train, n_test, seed)


def linear_baseline(train, test, *, n_train: int | None = 10_000, n_test: int | None = None,
                    C: float = 0.1, seed: int = 0) -> BaselineResult:
    """Multinomial logistic regression (a linear classifier: one weight vector per class on
    the raw pixels) on ``n_train`` random training images; ``C`` is the inverse L2 strength
    (0.1 converges within the iteration limit on pixel vectors and loses nothing to C=1)."""
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(C=C, max_iter=500)
    return _run("logistic_regression", classifier, train, test, n_train, n_test, seed)


def forest_baseline(train, test, *, n_train: int | None = 10_000, n_test: int | None = None,
                    n_trees: int = 100, n_jobs: int = -1, seed: int = 0) -> BaselineResult:
    """Random forest (Breiman 2001; ``sklearn.ensemble.RandomForestClassifier``) on
    ``n_train`` random training images: ``n_trees`` decision trees, each grown on a bootstrap
    sample of the images and choosing every split among ``sqrt(pixels)`` random pixels (28
    of 784); the forest predicts the class with the highest average vote. ``n_jobs`` trees
    grow at once (-1: one per CPU core); ``seed`` fixes the subset and the trees.

    A random forest rather than gradient boosting because it is fast on a small CPU: on the
    course's shared 2-core machine, 100 trees on 2,000 images took 2 s, 50 rounds of
    ``HistGradientBoostingClassifier`` (ten trees a round, one per class) over a minute.
    """
    from sklearn.ensemble import RandomForestClassifier

    classifier = RandomForestClassifier(n_estimators=n_trees, n_jobs=n_jobs, random_state=seed)
    return _run("random_forest", classifier, train, test, n_train, n_test, seed)
