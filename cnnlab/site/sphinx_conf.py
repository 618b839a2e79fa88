"""Sphinx configuration of the course site (copied into the build folder as ``conf.py``).

Everything that varies (repository, branch, hub addresses, title) comes from
``cnnlab_site.json`` beside this file, which :mod:`cnnlab.site.build` writes.
Notebooks arrive executed (or, for exercises, deliberately unexecuted): myst-nb only
renders them. Nothing is loaded from the network: MathJax is served from ``_static``,
and no widget JavaScript (require.js, the widget manager) is added.
"""
import json
from pathlib import Path

settings = json.loads((Path(__file__).parent / "cnnlab_site.json").read_text(encoding="utf-8"))

project = settings["title"]
author = settings["author"]
copyright = settings["copyright"]
extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
master_doc = "index"

# myst-nb: render the stored outputs, execute nothing, load no widget JavaScript
nb_execution_mode = "off"
nb_ipywidgets_js = {}
nb_merge_streams = True
nb_render_markdown_format = "myst"  # Markdown a cell displays (tables of results) gets its $math$ too
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_dmath_double_inline = True     # $$...$$ inside a paragraph is display math, as in Jupyter
suppress_warnings = ["mystnb.unknown_mime_type"]

# MathJax 3 from the site itself (SVG output: no font files to fetch)
mathjax_path = settings["mathjax_path"]
mathjax3_config = {"svg": {"fontCache": "global"}}

html_theme = "sphinx_book_theme"
html_title = settings["title"]
html_static_path = ["_static"]
html_last_updated_fmt = None
html_show_search_summary = False    # summaries fetch() each page, which browsers refuse from file://
html_context = {"default_mode": "auto"}   # a first visit has no stored light/dark choice
html_theme_options = {
    "repository_url": settings["repository"],
    "repository_branch": settings["branch"],
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "launch_buttons": {
        "notebook_interface": "jupyterlab",
        "binderhub_url": settings["binderhub"],
        "colab_url": settings["colab"],
        "jupyterhub_url": settings["jupyterhub"],
    },
}
