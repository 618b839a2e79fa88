"""Data for the course: MNIST, Fashion-MNIST, scikit-learn's digits, and the lecture's synthetic sets.

This module is the only way the notebooks get data.

Real data sets (IDX files, parsed with NumPy)::

    images, labels = load_mnist("train")          # uint8 (60000, 28, 28), int64 (60000,)
    images, labels = load_fashion_mnist("test")   # uint8 (10000, 28, 28), int64 (10000,)

Where the files are looked for, in this order:

1. the ``root`` argument (files in ``root/<dataset>/`` or directly in ``root``);
2. the directory named by ``CNNLAB_DATA`` (files in ``$CNNLAB_DATA/mnist/`` and
   ``$CNNLAB_DATA/fashion-mnist/``, named like the official ``.gz`` files);
3. the per-user cache (``$CNNLAB_CACHE``, else ``$XDG_CACHE_HOME/cnnlab``, else
   ``~/.cache/cnnlab``);
4. Debian's ``/usr/share/datasets/fashion-mnist/`` (package ``dataset-fashion-mnist``);
5. a download from the official mirrors into ``root`` (if given) or the cache.

Integrity is checked on the *decompressed* content (SHA-256), so a genuine copy that
was re-compressed (Debian's, for instance) is accepted and a corrupt or truncated
one never is. A download goes to a temporary file, is checked, then renamed, so an
interrupted download never leaves a half file under the real name.

Modules: :mod:`~cnnlab.data.files` (the real data sets above), :mod:`~cnnlab.data.images`
(image shaping: scaling, channel axis, flattening, resizing, shifting, tensors) and
:mod:`~cnnlab.data.synthetic` (the lecture's own sets: :func:`make_separable`, points
with a known margin for the perceptron theorem, and :func:`make_xor`, Minsky and Papert's XOR).
:func:`~cnnlab.data.ensure.ensure_data` makes sure a notebook's data sets are on disk (the
lectures' set-up cell calls it; quick when they are).
"""
from cnnlab.data.files import (FASHION_MNIST_CLASSES, MNIST_CLASSES, Dataset, DatasetUnavailable, cache_dir,
                               data_dirs, load_digits, load_fashion_mnist, load_mnist, load_with_fallback,
                               parse_idx)
from cnnlab.data.ensure import ensure_data
from cnnlab.data.images import (as_images, as_tensors, downsample, flatten_images, shift, to_28x28,
                                to_nchw_float, valid_region)
from cnnlab.data.synthetic import SeparableData, make_separable, make_xor

__all__ = [
    "DatasetUnavailable", "load_mnist", "load_fashion_mnist", "load_digits", "load_with_fallback",
    "parse_idx", "data_dirs", "cache_dir", "MNIST_CLASSES", "FASHION_MNIST_CLASSES", "Dataset",
    "to_nchw_float", "as_images", "as_tensors", "flatten_images", "to_28x28", "downsample", "shift",
    "valid_region", "SeparableData", "make_separable", "make_xor", "ensure_data",
]
