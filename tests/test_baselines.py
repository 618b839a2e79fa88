"""cnnlab.baselines: the SVM, linear and random-forest classifiers on real Fashion-MNIST pixels."""
from __future__ import annotations

import pytest

from cnnlab.baselines import forest_baseline, linear_baseline, svm_baseline


@pytest.mark.parametrize("baseline,floor", [(svm_baseline, 0.77), (linear_baseline, 0.72),
                                            (forest_baseline, 0.74)])
def test_baselines_learn_real_fashion_mnist(baseline, floor, fashion_train, fashion_test):
    result = baseline(fashion_train, fashion_test, n_train=1000, n_test=500, seed=1)
    assert result.n_train == 1000 and result.n_test == 500
    assert result.accuracy > floor, result        # chance is 0.10
    assert result.fit_seconds > 0 and result.predict_seconds > 0
    again = baseline(fashion_train, fashion_test, n_train=1000, n_test=500, seed=1)
    assert again.accuracy == result.accuracy      # the subset is chosen by the seed
    assert set(result.to_dict()) == {"name", "accuracy", "fit_seconds", "predict_seconds", "n_train", "n_test"}


def test_more_training_images_help_the_svm(fashion_train, fashion_test):
    small = svm_baseline(fashion_train, fashion_test, n_train=100, n_test=500)
    large = svm_baseline(fashion_train, fashion_test, n_train=1000, n_test=500)
    assert large.accuracy > small.accuracy


def test_more_trees_help_the_forest(fashion_train, fashion_test):
    few = forest_baseline(fashion_train, fashion_test, n_train=1000, n_test=500, n_trees=3)
    many = forest_baseline(fashion_train, fashion_test, n_train=1000, n_test=500, n_trees=100)
    assert many.accuracy > few.accuracy + 0.03 and many.name == "random_forest"


def test_bad_sizes_are_clear_errors(fashion_test):
    with pytest.raises(ValueError, match=r"n_train size must be an integer in 1\.\.10000"):
        svm_baseline(fashion_test, fashion_test, n_train=20000)
    with pytest.raises(ValueError, match="n_train size must be >= 1, got 0"):
        linear_baseline(fashion_test, fashion_test, n_train=0)
    with pytest.raises(TypeError, match="n_test size must be an integer"):
        linear_baseline(fashion_test, fashion_test, n_test=0.5)
    X, y = fashion_test
    with pytest.raises(ValueError, match="10000 images but y has 9999 labels"):
        svm_baseline((X, y[:-1]), fashion_test, n_train=100)
