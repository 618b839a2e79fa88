"""Shared fixtures, and the one rule for tests that need an outside part.

Real data (``CNNLAB_DATA``) and a real browser (Chromium) are outside parts. On a
user's machine a missing data directory skips the tests that need it, with a reason
saying how to provide it; a browser test is skipped only when ``CNNLAB_SKIP_BROWSER=1``
says so explicitly. Under CI (``CI=true``) both are failures, never skips.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


# Property tests explore new random cases on every local run; under CI they replay a
# fixed set, so a red CI always means a change broke something, not a lucky draw.
settings.register_profile("ci", derandomize=True, deadline=None)
if under_ci():
    settings.load_profile("ci")


def missing_outside_part(message: str) -> None:
    """Fail under CI, skip elsewhere: the single policy for absent data."""
    if under_ci():
        pytest.fail(f"{message} (CI=true: outside parts must be present in CI)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real-data directory named by ``CNNLAB_DATA`` (holding ``mnist/`` and ``fashion-mnist/``)."""
    value = os.environ.get("CNNLAB_DATA")
    if not value:
        missing_outside_part(
            "real-data test: set CNNLAB_DATA to a folder holding fashion-mnist/ and mnist/ "
            "IDX .gz files (e.g. CNNLAB_DATA=../shared/data)")
    root = Path(value).expanduser().resolve()
    if not (root / "fashion-mnist" / "train-labels-idx1-ubyte.gz").is_file():
        missing_outside_part(f"real-data test: CNNLAB_DATA={value} has no fashion-mnist/train-labels-idx1-ubyte.gz")
    return root


@pytest.fixture(scope="session")
def fashion_train(data_root):
    """Real Fashion-MNIST training set ``(images uint8 (60000,28,28), labels int64 (60000,))``."""
    from cnnlab.data import load_fashion_mnist
    return load_fashion_mnist("train", root=data_root, download=False)


@pytest.fixture(scope="session")
def fashion_test(data_root):
    """Real Fashion-MNIST test set ``(images uint8 (10000,28,28), labels int64 (10000,))``."""
    from cnnlab.data import load_fashion_mnist
    return load_fashion_mnist("test", root=data_root, download=False)


def find_chromium() -> str:
    """Path of the Chromium binary: ``CNNLAB_CHROMIUM`` if set, else ``chromium`` on the PATH.
    ``LookupError`` saying what to do when there is none, or when the variable names no
    executable file."""
    named = os.environ.get("CNNLAB_CHROMIUM")
    if named:
        if not (os.path.isfile(named) and os.access(named, os.X_OK)):
            raise LookupError(f"CNNLAB_CHROMIUM={named} is not an executable file: point it at the Chromium "
                              f"binary (Debian: /usr/bin/chromium) or unset it to use chromium from the PATH")
        return named
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise LookupError("real-browser test needs Chromium: install it (Debian: apt-get install chromium), "
                          "point CNNLAB_CHROMIUM at the binary, or set CNNLAB_SKIP_BROWSER=1 to skip explicitly")
    return path


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of a Chromium binary for real-browser tests (:func:`find_chromium`)."""
    if os.environ.get("CNNLAB_SKIP_BROWSER", "").strip() == "1" and not under_ci():
        pytest.skip("browser test skipped explicitly by CNNLAB_SKIP_BROWSER=1")
    try:
        return find_chromium()
    except LookupError as err:
        pytest.fail(str(err))


# tests/notebooks/ holds notebooks that tests execute themselves (e.g. under strict nbval);
# they are not collected by the lax run of the README's test command.
collect_ignore_glob = ["notebooks/*"]


@pytest.fixture
def one_torch_thread():
    """Run a test on one torch thread (modules opt in with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``).

    Their tensors are tiny: a second thread only adds waiting, up to 100x on a busy
    2-core machine (torch parallelizes even a 5x4x3x3 batch norm)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The course site, built once per session in the fast setting (``cnnlab site --out``): the HTML
    folder. ``CNNLAB_SITE_DIR`` names a site built before (say with ``--full``) to check instead.
    The ``site`` extra is an outside part here (README's set-up installs only ``test``)."""
    import importlib.util

    from cnnlab.site.build import MARKER

    if os.environ.get("CNNLAB_SITE_DIR"):
        built = Path(os.environ["CNNLAB_SITE_DIR"]).resolve()
        if not (built / MARKER).is_file():
            pytest.fail(f"CNNLAB_SITE_DIR={built} holds no site built by `cnnlab site` (no {MARKER})")
        return built

    missing = [m for m in ("sphinx", "myst_nb", "sphinx_book_theme", "mathjax") if not importlib.util.find_spec(m)]
    if missing:
        missing_outside_part(f"site test: {', '.join(missing)} not installed; "
                             f'install the site extra: python -m pip install -e ".[site]"')
    from cnnlab.site.build import build_site

    return build_site(REPO, tmp_path_factory.mktemp("site") / "html", full=False)
