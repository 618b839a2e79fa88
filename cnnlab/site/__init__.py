"""``cnnlab site``: the course as a static, fully offline book, with launch links.

Modules:

- :mod:`~cnnlab.site.config`: ``[tool.cnnlab.site]`` of ``pyproject.toml`` (repository, branch,
  hub addresses), read and checked;
- :mod:`~cnnlab.site.launch`: the lectures' generated first code cell (install cnnlab where it
  is missing, fetch the data);
- :mod:`~cnnlab.site.execute`: runs the lectures for the build, each in a fresh kernel, into
  the build folder (never into the committed notebooks);
- :mod:`~cnnlab.site.build`: lays out the Sphinx sources (home page, course order, the
  executed lectures, the unexecuted exercises), runs Sphinx with myst-nb and
  sphinx-book-theme, and vendors MathJax so no page needs the network.
"""
