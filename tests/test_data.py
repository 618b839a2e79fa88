"""cnnlab.data: real files through CNNLAB_DATA, and the download path against a local HTTP server.

The server (127.0.0.1, a free port) serves the genuine files of ``CNNLAB_DATA`` under
several behaviours chosen by the first path segment: ``good``, ``truncated``,
``corrupt`` (bytes flipped), ``tampered`` (valid gzip of altered content), ``missing``
(404), ``stall`` (headers, then silence) and ``slow`` (a trickle, for the kill test).
"""
from __future__ import annotations

import gzip
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import cnnlab.data as data


# --------------------------------------------------------------------------- real data

def test_fashion_mnist_train_is_genuine(fashion_train):
    images, labels = fashion_train
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.int64
    assert labels[:4].tolist() == [9, 0, 0, 3]
    assert np.bincount(labels).tolist() == [6000] * 10


def test_fashion_mnist_test_is_genuine(fashion_test):
    images, labels = fashion_test
    assert images.shape == (10000, 28, 28)
    assert np.bincount(labels).tolist() == [1000] * 10


def test_mnist_test_through_cnnlab_data(data_root, monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_DATA", str(data_root))
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    images, labels = data.load_mnist("test", download=False)
    assert images.shape == (10000, 28, 28)
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    # a digit is dark background with bright strokes
    assert images[0].max() == 255 and np.median(images[0]) == 0


def test_missing_mnist_train_images_offline_message(data_root, monkeypatch, tmp_path):
    """No training images on disk and no network: the error names file, URL, folder and CNNLAB_DATA."""
    monkeypatch.setenv("CNNLAB_DATA", str(data_root))
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNLAB_MIRROR", "http://127.0.0.1:9/{dataset}/{file}")  # port 9: refused
    with pytest.raises(data.DatasetUnavailable) as info:
        data.load_mnist("train")
    message = str(info.value)
    for needed in ("train-images-idx3-ubyte.gz", "http://127.0.0.1:9/mnist/train-images-idx3-ubyte.gz",
                   str(tmp_path / "cache" / "mnist"), "CNNLAB_DATA"):
        assert needed in message


def test_recompressed_copy_is_accepted(data_root, monkeypatch, tmp_path):
    """Integrity is checked on decompressed content, so another gzip wrapper is fine."""
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "mine" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        content = gzip.decompress((data_root / "fashion-mnist" / f"{name}.gz").read_bytes())
        (folder / f"{name}.gz").write_bytes(gzip.compress(content, compresslevel=1, mtime=12345))
    images, labels = data.load_fashion_mnist("test", root=tmp_path / "mine", download=False)
    assert images.shape == (10000, 28, 28) and labels[:3].tolist() == [9, 2, 1]


@pytest.mark.parametrize("damage", ["truncate", "flip", "tamper"])
def test_corrupt_local_file_is_a_clear_error(data_root, monkeypatch, tmp_path, damage):
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "bad" / "mnist"
    folder.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        raw = (data_root / "mnist" / f"{name}.gz").read_bytes()
        (folder / f"{name}.gz").write_bytes(raw)
    target = folder / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(_damaged(target.read_bytes(), damage))
    with pytest.raises(data.DatasetUnavailable) as info:
        data.load_mnist("test", root=tmp_path / "bad", download=False)
    message = str(info.value)
    assert str(target) in message and "Delete it" in message


def _damaged(raw: bytes, damage: str) -> bytes:
    if damage == "truncate":
        return raw[: len(raw) // 2]
    if damage == "flip":
        middle = len(raw) // 2
        return raw[:middle] + bytes(b ^ 0xFF for b in raw[middle:middle + 64]) + raw[middle + 64:]
    content = bytearray(gzip.decompress(raw))
    content[-1] ^= 0x01  # one pixel changed: valid gzip, wrong data
    return gzip.compress(bytes(content))


def test_parse_idx_rejects_bad_headers():
    with pytest.raises(ValueError, match="magic"):
        data.parse_idx(b"\x01\x00\x08\x01" + b"\x00" * 8)
    header = b"\x00\x00\x08\x01" + (5).to_bytes(4, "big")
    assert data.parse_idx(header + bytes(range(5))).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="holds 4 bytes"):
        data.parse_idx(header + bytes(4))


def test_bad_split_is_a_clear_error():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load_mnist("validation")


# --------------------------------------------------------------------------- downloads

class _Handler(http.server.BaseHTTPRequestHandler):
    root: Path  # set on the subclass

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802 (http.server's naming)
        mode, _, rest = self.path.lstrip("/").partition("/")
        path = self.root / rest
        if mode == "missing" or not path.is_file():
            self.send_error(404, "no such file")
            return
        raw = path.read_bytes()
        if mode in ("truncated", "corrupt", "tampered"):
            raw = _damaged(raw, {"truncated": "truncate", "corrupt": "flip", "tampered": "tamper"}[mode])
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        try:
            if mode == "stall":
                self.wfile.write(raw[:100])
                self.wfile.flush()
                time.sleep(5)
            elif mode == "slow":
                for start in range(0, len(raw), 4096):
                    self.wfile.write(raw[start:start + 4096])
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server(data_root):
    handler = type("Handler", (_Handler,), {"root": data_root})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No CNNLAB_DATA, an empty cache: every load must come from the server."""
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("CNNLAB_CACHE", str(cache))
    monkeypatch.setenv("CNNLAB_DOWNLOAD_TIMEOUT", "1")
    return cache


def _mirror(monkeypatch, server, mode):
    monkeypatch.setenv("CNNLAB_MIRROR", f"{server}/{mode}/{{dataset}}/{{file}}")


def test_good_download_lands_in_cache_and_is_reused(server, isolated, monkeypatch):
    _mirror(monkeypatch, server, "good")
    images, labels = data.load_mnist("test")
    assert labels[:5].tolist() == [7, 2, 1, 0, 4] and images.shape == (10000, 28, 28)
    assert sorted(p.name for p in (isolated / "mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    _mirror(monkeypatch, server, "missing")  # the cache now serves it
    assert np.array_equal(data.load_mnist("test")[1], labels)


@pytest.mark.parametrize("mode", ["truncated", "corrupt", "tampered", "missing", "stall"])
def test_bad_download_raises_and_leaves_nothing(server, isolated, monkeypatch, mode):
    _mirror(monkeypatch, server, mode)
    started = time.monotonic()
    with pytest.raises(data.DatasetUnavailable) as info:
        data.load_mnist("test")
    assert time.monotonic() - started < 4, "the stall must be cut by the download timeout"
    assert f"{server}/{mode}/mnist/t10k-images-idx3-ubyte.gz" in str(info.value)
    leftovers = list((isolated / "mnist").iterdir()) if (isolated / "mnist").exists() else []
    assert leftovers == []


def test_corrupt_cache_file_is_replaced_by_a_fresh_download(server, isolated, monkeypatch, data_root):
    folder = isolated / "mnist"
    folder.mkdir(parents=True)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not a gzip file")
    _mirror(monkeypatch, server, "good")
    assert data.load_mnist("test")[1][:5].tolist() == [7, 2, 1, 0, 4]
    assert (folder / "t10k-labels-idx1-ubyte.gz").read_bytes() == \
        (data_root / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()


def _download_under_way(folder: Path) -> bool:
    return any(p.stat().st_size > 8192 for p in folder.glob(".*.part")) if folder.exists() else False


def test_killed_download_leaves_no_half_file(server, isolated, monkeypatch):
    _mirror(monkeypatch, server, "slow")
    env = {**os.environ, "CNNLAB_DOWNLOAD_TIMEOUT": "30"}
    child = subprocess.Popen([sys.executable, "-c", "import cnnlab.data as d; d.load_mnist('test')"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = isolated / "mnist"
    try:
        deadline = time.monotonic() + 30
        while not _download_under_way(folder):
            assert time.monotonic() < deadline, "the download never started"
            assert child.poll() is None, "the child exited before it could be killed"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert not (folder / "t10k-images-idx3-ubyte.gz").exists(), "a half file took the real name"
    _mirror(monkeypatch, server, "good")
    assert data.load_mnist("test")[0].shape == (10000, 28, 28)
    assert list(folder.glob(".*.part")) == [], "the next load must clean up the dead download"


# --------------------------------------------------------------------------- other sets

def test_load_digits_is_the_offline_fallback():
    images, labels = data.load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8 and images.max() == 255
    assert set(labels.tolist()) == set(range(10))


def test_load_with_fallback_says_what_it_used(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path))
    dataset = data.load_with_fallback(download=False)
    if Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists():
        assert dataset.name == "fashion-mnist"
    else:
        assert dataset.name == "digits"
        assert "mnist is unavailable" in dataset.note and "fashion-mnist is unavailable" in dataset.note
        assert len(dataset.train[0]) == 1500 and len(dataset.test[0]) == 297


@pytest.mark.parametrize("seed", range(20))
def test_make_separable_has_the_stated_margin(seed):
    rng = np.random.default_rng(seed)
    margin = float(rng.uniform(0.01, 0.3))
    s = data.make_separable(n=int(rng.integers(10, 200)), dim=int(rng.integers(2, 6)),
                            margin=margin, radius=1.0, rng=seed)
    assert np.isclose(np.linalg.norm(s.w), 1.0)
    functional = s.y * (s.X @ s.w + s.b)
    assert functional.min() >= margin and np.isclose(functional.min(), s.gamma)
    assert s.R <= 1.0 and np.isclose(s.R, np.linalg.norm(s.X, axis=1).max())
    assert set(s.y.tolist()) == {-1, 1}


def test_make_separable_rejects_impossible_margin():
    with pytest.raises(ValueError, match="margin"):
        data.make_separable(margin=0.6, radius=1.0)


def test_make_xor_is_not_linearly_separable():
    X, y = data.make_xor(n=400, noise=0.1, rng=0)
    assert set(y.tolist()) == {0, 1}
    assert np.all((np.sign(X[:, 0]) != np.sign(X[:, 1])) == (y == 1))
    _, signed = data.make_xor(n=8, signed=True, rng=0)
    assert set(signed.tolist()) == {-1, 1}
