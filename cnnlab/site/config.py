"""Where the course lives online: the one place the launch links and the set-up cell read.

``pyproject.toml`` holds it, in ``[tool.cnnlab.site]``::

    repository = "https://github.com/cnnlab-course/cnnlab"   # a GitHub repository URL
    branch = "main"
    jupyterhub = "https://hub.example.edu"                   # nbgitpuller links go here
    binderhub = "https://mybinder.org"
    colab = "https://colab.research.google.com"

Only ``repository``, ``branch`` and ``jupyterhub`` are required; the other two have
the defaults shown.
"""
from __future__ import annotations

import re
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, published as tomli
    import tomli as tomllib
from dataclasses import dataclass
from pathlib import Path

TABLE = "tool.cnnlab.site"
DEFAULTS = {"binderhub": "https://mybinder.org", "colab": "https://colab.research.google.com"}
REQUIRED = ("repository", "branch", "jupyterhub")
GITHUB_REPOSITORY = re.compile(r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
HTTPS_URL = re.compile(r"^https?://[^\s/]+(/[^\s]*)?$")


class SiteConfigError(ValueError):
    """``[tool.cnnlab.site]`` is missing or holds a value that cannot make a link."""


@dataclass(frozen=True)
class SiteConfig:
    repository: str   # https://github.com/OWNER/NAME, no trailing slash or .git
    branch: str
    jupyterhub: str
    binderhub: str
    colab: str

    @property
    def install_source(self) -> str:
        """What ``pip install`` is given where cnnlab is missing: ``git+REPOSITORY@BRANCH``."""
        return f"git+{self.repository}@{self.branch}"


def load_config(pyproject: Path) -> SiteConfig:
    """Read and check ``[tool.cnnlab.site]`` of ``pyproject``; :class:`SiteConfigError` says what to fix."""
    try:
        table = tomllib.loads(Path(pyproject).read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise SiteConfigError(f"cannot read {pyproject}: {err}") from None
    for key in TABLE.split("."):
        table = table.get(key, {}) if isinstance(table, dict) else {}
    missing = [key for key in REQUIRED if not table.get(key)]
    if missing:
        raise SiteConfigError(f"{pyproject}: [{TABLE}] lacks {', '.join(missing)}; add e.g. "
                              f'repository = "https://github.com/OWNER/NAME", branch = "main", '
                              f'jupyterhub = "https://hub.example.edu"')
    unknown = sorted(set(table) - set(REQUIRED) - set(DEFAULTS))
    if unknown:
        raise SiteConfigError(f"{pyproject}: [{TABLE}] has unknown keys {unknown}; "
                              f"known: {', '.join(REQUIRED + tuple(DEFAULTS))}")
    values = {**DEFAULTS, **{key: str(value).strip().rstrip("/") for key, value in table.items()}}
    if not GITHUB_REPOSITORY.match(values["repository"]) or values["repository"].endswith(".git"):
        raise SiteConfigError(f"{pyproject}: [{TABLE}] repository = {values['repository']!r} is not a GitHub "
                              f"repository URL; write it as https://github.com/OWNER/NAME (no .git): Colab and "
                              f"Binder open notebooks from GitHub")
    if not re.fullmatch(r"[A-Za-z0-9_./-]+", values["branch"]):
        raise SiteConfigError(f"{pyproject}: [{TABLE}] branch = {values['branch']!r} is not a branch name")
    for key in ("jupyterhub", "binderhub", "colab"):
        if not HTTPS_URL.match(values[key]):
            raise SiteConfigError(f"{pyproject}: [{TABLE}] {key} = {values[key]!r} is not an http(s) URL")
    return SiteConfig(**values)
