"""MNIST, Fashion-MNIST and scikit-learn's digits: where the files are looked for, how
they are checked and downloaded, and how IDX files are parsed (see :mod:`cnnlab.data`).

    images, labels = load_mnist("train")          # uint8 (60000, 28, 28), int64 (60000,)
    images, labels = load_fashion_mnist("test")   # uint8 (10000, 28, 28), int64 (10000,)
"""
from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DatasetUnavailable", "load_mnist", "load_fashion_mnist", "load_digits", "load_with_fallback",
    "parse_idx", "data_dirs", "cache_dir", "MNIST_CLASSES", "FASHION_MNIST_CLASSES", "Dataset",
]

DATA_ENV = "CNNLAB_DATA"
CACHE_ENV = "CNNLAB_CACHE"
MIRROR_ENV = "CNNLAB_MIRROR"          # a URL template with {dataset} and {file}, overrides the mirrors
TIMEOUT_ENV = "CNNLAB_DOWNLOAD_TIMEOUT"
DEBIAN_DIRS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}

MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

#: Official mirrors (those torchvision uses); ``{file}`` is the ``.gz`` file name.
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/{file}",
              "http://yann.lecun.com/exdb/mnist/{file}"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{file}"],
}

#: SHA-256 of the decompressed IDX content (robust to re-compression).
SHA256 = {
    ("fashion-mnist", "train-images-idx3-ubyte"): "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ("fashion-mnist", "train-labels-idx1-ubyte"): "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ("fashion-mnist", "t10k-images-idx3-ubyte"): "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ("fashion-mnist", "t10k-labels-idx1-ubyte"): "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ("mnist", "t10k-images-idx3-ubyte"): "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ("mnist", "t10k-labels-idx1-ubyte"): "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ("mnist", "train-labels-idx1-ubyte"): "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}
#: MD5 of the canonical ``.gz`` download, for files whose decompressed hash we do not hold.
GZ_MD5 = {
    ("mnist", "train-images-idx3-ubyte"): "f68b3c2dcbeaaa9fbdd348bbdeb94873",
}
#: Expected array shapes, checked after parsing.
SHAPES = {"train-images-idx3-ubyte": (60000, 28, 28), "train-labels-idx1-ubyte": (60000,),
          "t10k-images-idx3-ubyte": (10000, 28, 28), "t10k-labels-idx1-ubyte": (10000,)}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetUnavailable(RuntimeError):
    """The data set can't be had: files missing (and no download possible) or corrupt."""


# --------------------------------------------------------------------------- locations

def cache_dir() -> Path:
    """The per-user cache: ``$CNNLAB_CACHE``, else ``$XDG_CACHE_HOME/cnnlab``, else ``~/.cache/cnnlab``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "cnnlab"


def data_dirs(dataset: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for ``dataset``'s files, in look-up order (see the module docstring)."""
    dirs: list[Path] = []
    if root is not None:
        root = Path(root).expanduser()
        dirs += [root / dataset, root]
    if os.environ.get(DATA_ENV):
        dirs.append(Path(os.environ[DATA_ENV]).expanduser() / dataset)
    dirs.append(cache_dir() / dataset)
    if dataset in DEBIAN_DIRS:
        dirs.append(DEBIAN_DIRS[dataset])
    return dirs


def _download_dir(dataset: str, root) -> Path:
    return Path(root).expanduser() / dataset if root is not None else cache_dir() / dataset


# --------------------------------------------------------------------------- integrity

def _read_verified(path: Path, dataset: str, name: str) -> bytes:
    """Decompress ``path`` and check it; return the IDX bytes or raise ``DatasetUnavailable``."""
    raw = path.read_bytes()
    try:
        content = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetUnavailable(
            f"{path} is not a valid gzip file ({err}); it is corrupt or truncated. "
            f"Delete it and load again to download a fresh copy.") from None
    expected = SHA256.get((dataset, name))
    if expected is not None:
        got = hashlib.sha256(content).hexdigest()
        if got != expected:
            raise DatasetUnavailable(
                f"{path}: decompressed SHA-256 {got[:16]}... does not match the genuine "
                f"{dataset} file ({expected[:16]}...); the file is corrupt or not the real data. "
                f"Delete it and load again to download a fresh copy.")
    else:
        got = hashlib.md5(raw).hexdigest()
        if got != GZ_MD5[(dataset, name)]:
            raise DatasetUnavailable(
                f"{path}: MD5 {got} does not match the canonical download "
                f"{GZ_MD5[(dataset, name)]}; the file is corrupt or re-packed. "
                f"Delete it and load again to download a fresh copy.")
    return content


def parse_idx(content: bytes) -> np.ndarray:
    """Parse IDX bytes (LeCun's format): 2 zero bytes, a type code, ndim, ndim big-endian
    uint32 sizes, then the data. Returns a native-endian array of that shape."""
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in _IDX_DTYPES:
        raise ValueError("not an IDX file: bad magic number")
    ndim = content[3]
    dims = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[content[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(content) - offset != expected:
        raise ValueError(f"IDX header says {dims} but the file holds {len(content) - offset} bytes of data")
    return np.frombuffer(content, dtype=dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))


# --------------------------------------------------------------------------- download

def _mirror_urls(dataset: str, file: str) -> list[str]:
    templates = [os.environ[MIRROR_ENV]] if os.environ.get(MIRROR_ENV) else MIRRORS[dataset]
    return [t.format(dataset=dataset, file=file) for t in templates]


def _download(url: str, dest: Path, dataset: str, name: str) -> None:
    """Fetch ``url`` into a temporary file beside ``dest``, verify it, then rename it to ``dest``."""
    from tqdm.auto import tqdm

    timeout = float(os.environ.get(TIMEOUT_ENV, "30"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.{os.getpid()}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, leave=False) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
        _read_verified(tmp, dataset, name)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _remove_stale_parts(folder: Path) -> None:
    """Delete temporary files left by downloads that were killed.

    A temporary file is named ``.<file>.<pid>.<random>.part``; it is stale when no
    process with that id is alive (a download still running elsewhere is left alone).
    """
    for part in folder.glob(".*.part") if folder.is_dir() else []:
        try:
            pid = int(part.name.split(".")[-3])
        except (IndexError, ValueError):
            continue
        if not _process_alive(pid):
            part.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


# --------------------------------------------------------------------------- loading

def _idx_array(dataset: str, name: str, root, download: bool) -> np.ndarray:
    file = f"{name}.gz"
    problems: list[str] = []
    for folder in data_dirs(dataset, root):
        path = folder / file
        if path.is_file():
            try:
                return _checked_array(_read_verified(path, dataset, name), path, name)
            except DatasetUnavailable as err:
                problems.append(str(err))
    dest = _download_dir(dataset, root) / file
    tried: list[str] = []
    if download:
        _remove_stale_parts(dest.parent)
        for url in _mirror_urls(dataset, file):
            try:
                _download(url, dest, dataset, name)
                return _checked_array(_read_verified(dest, dataset, name), dest, name)
            except (urllib.error.URLError, OSError, DatasetUnavailable) as err:
                tried.append(f"{url}: {getattr(err, 'reason', None) or err}")
    raise DatasetUnavailable(_unavailable_message(dataset, file, root, problems, tried, download))


def _checked_array(content: bytes, path: Path, name: str) -> np.ndarray:
    try:
        array = parse_idx(content)
    except ValueError as err:
        raise DatasetUnavailable(f"{path}: {err}") from None
    if array.shape != SHAPES[name]:
        raise DatasetUnavailable(f"{path}: expected shape {SHAPES[name]}, found {array.shape}")
    return array


def _unavailable_message(dataset, file, root, problems, tried, download) -> str:
    folders = "\n".join(f"  - {d}" for d in data_dirs(dataset, root))
    lines = [f"{dataset} file {file} is not available.", "Looked in:", folders]
    if problems:
        lines += ["Found but rejected:"] + [f"  - {p}" for p in problems]
    if tried:
        lines += ["Download failed:"] + [f"  - {t}" for t in tried]
    elif not download:
        lines.append("Download was not allowed (download=False).")
    lines.append(
        f"Fix: download {file} from {_mirror_urls(dataset, file)[0]} and put it in "
        f"{_download_dir(dataset, root)} (or in a folder <DIR>/{dataset}/ and set {DATA_ENV}=<DIR>).")
    return "\n".join(lines)


def _load(dataset: str, split: str, root, download: bool) -> tuple[np.ndarray, np.ndarray]:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    prefix = "train" if split == "train" else "t10k"
    images = _idx_array(dataset, f"{prefix}-images-idx3-ubyte", root, download)
    labels = _idx_array(dataset, f"{prefix}-labels-idx1-ubyte", root, download)
    return images.astype(np.uint8, copy=False), labels.astype(np.int64)


def load_mnist(split: str = "train", root=None, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits (LeCun et al. 1998): ``(images uint8 (N,28,28), labels int64 (N,))``,
    N = 60000 for ``"train"`` and 10000 for ``"test"``. Raises :class:`DatasetUnavailable`."""
    return _load("mnist", split, root, download)


def load_fashion_mnist(split: str = "train", root=None, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (Xiao et al. 2017), same format as MNIST; class names in
    :data:`FASHION_MNIST_CLASSES`. Raises :class:`DatasetUnavailable`."""
    return _load("fashion-mnist", split, root, download)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1797 images, no download), the offline fallback.

    Returns ``(images uint8 (1797, 8, 8) scaled from 0..16 to 0..255, labels int64 (1797,))``.
    """
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return images, bunch.target.astype(np.int64)


@dataclass
class Dataset:
    """A train/test pair with its name, class names and a sentence saying where it came from."""
    name: str
    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    class_names: list[str]
    note: str


def load_with_fallback(preferred=("mnist", "fashion-mnist", "digits"), root=None,
                       download: bool = True) -> Dataset:
    """Load the first data set of ``preferred`` that can be had, and say which in ``note``.

    ``"digits"`` (always available) is split 1500 train / 297 test with a fixed seed.
    """
    reasons = []
    for name in preferred:
        if name == "digits":
            images, labels = load_digits()
            order = np.random.default_rng(0).permutation(len(labels))
            train, test = order[:1500], order[1500:]
            note = "Using scikit-learn's 8x8 digits" + (f" because {'; '.join(reasons)}" if reasons else "")
            return Dataset("digits", (images[train], labels[train]), (images[test], labels[test]),
                           MNIST_CLASSES, note)
        loader = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}.get(name)
        if loader is None:
            raise ValueError(f"unknown data set {name!r}; choose from 'mnist', 'fashion-mnist', 'digits'")
        try:
            train = loader("train", root=root, download=download)
            test = loader("test", root=root, download=download)
        except DatasetUnavailable as err:
            reasons.append(f"{name} is unavailable ({str(err).splitlines()[0]})")
            continue
        classes = FASHION_MNIST_CLASSES if name == "fashion-mnist" else MNIST_CLASSES
        note = f"Using {name}" + (f" because {'; '.join(reasons)}" if reasons else "")
        return Dataset(name, train, test, classes, note)
    raise DatasetUnavailable("none of the data sets could be loaded: " + "; ".join(reasons))
