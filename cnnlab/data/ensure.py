"""Make sure a notebook's data sets are on disk before it runs (the lectures' set-up cell calls this).

    ensure_data("fashion-mnist")    # -> {"fashion-mnist": True}

Quick when the files are already there (it only looks for them, in
:func:`~cnnlab.data.files.data_dirs` order; loading checks their integrity later).
A missing file is downloaded and verified, as a loader would. It never raises for
missing data: offline, it prints why and returns ``False`` for that set, and the
notebook's loaders fall back to scikit-learn's digits as they always do.
"""
from __future__ import annotations

from cnnlab.data.files import DatasetUnavailable, _idx_array, data_dirs

SPLIT_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DATASETS = ("mnist", "fashion-mnist")


def _on_disk(dataset: str, name: str) -> bool:
    return any((folder / f"{name}.gz").is_file() for folder in data_dirs(dataset))


def ensure_data(*datasets: str) -> dict[str, bool]:
    """For each of ``datasets`` (``"mnist"``, ``"fashion-mnist"``): ``True`` when its four IDX
    files are on disk, after downloading any that were not; ``False`` (with a printed reason)
    when a download failed."""
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise ValueError(f"unknown data set(s) {unknown}; choose from {list(DATASETS)}")
    ready = {}
    for dataset in datasets:
        try:
            for name in SPLIT_FILES:
                if not _on_disk(dataset, name):
                    _idx_array(dataset, name, root=None, download=True)
            ready[dataset] = True
        except DatasetUnavailable as err:
            print(f"{dataset} is not available, so the notebook falls back to other data:\n{err}")
            ready[dataset] = False
    return ready
