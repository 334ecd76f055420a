"""Sphinx configuration of the course website (Sphinx + myst-nb + sphinx-book-theme, Jupyter Book 1's stack).

Do not run Sphinx on this folder directly: ``python scripts/build_site.py`` lays out the pages (the committed,
executed notebooks, the README as the landing page, the instructor guide) in website/_build/src, copies this
file and a local MathJax there, and builds website/_build/html. Nothing is executed and nothing is fetched:
the pages show the outputs saved in the notebooks, and the built site loads no file from another server.
"""

from __future__ import annotations

import os

from docutils import nodes
from sphinx.transforms import SphinxTransform

project = "LLM Mechanics"
author = "LLM Mechanics authors"
copyright = "LLM Mechanics authors. Code: MIT. Course text: CC BY 4.0"
html_title = "LLM Mechanics"

# myst_nb brings myst_parser with it; githubpages writes .nojekyll, so GitHub Pages serves _static/ and _images/
# even from a branch.
extensions = ["myst_nb", "sphinx.ext.githubpages"]
root_doc = "index"
exclude_patterns = ["_build", "_static"]

# Markdown as GitHub and JupyterLab read it: $...$ and $$...$$ math, \begin{align} blocks, and the anchors
# GitHub gives headings, so links such as README.md#quick-start keep working on the site.
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 4

# The notebooks are committed executed: show their saved outputs, never run them.
nb_execution_mode = "off"
nb_merge_streams = True
# A live widget needs a kernel, so the site shows each widget's static picture (its text/html or image
# fallback) rather than the widget manager's JavaScript, which myst-nb would load from a CDN.
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

# MathJax from _static (scripts/build_site.py copies it there), not from a CDN.
mathjax_path = "mathjax/tex-mml-chtml.js"
html_static_path = ["_static"]

html_theme = "sphinx_book_theme"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,  # the page's .ipynb, and a PDF via the browser's print
    "home_page_in_toc": True,
    "navbar_persistent": [],  # search sits in the sidebar; no second search box in a header of its own
}
# Light by default (the notebooks' figures are drawn on white); the reader can switch. Without a default the
# theme's script logs an error to the console.
html_context = {"default_mode": "light"}
# On GitHub Actions the repository is known: link it from every page (a plain link; nothing is loaded from it).
if os.environ.get("GITHUB_REPOSITORY"):
    html_theme_options.update(
        repository_url=f"{os.environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{os.environ['GITHUB_REPOSITORY']}",
        use_repository_button=True,
    )


class RemoteImagesAsText(SphinxTransform):
    """A picture served from elsewhere (a badge such as "Launch on Binder") becomes its alt text, still a link:
    the site then works offline and loads nothing from another server."""

    default_priority = 100

    def apply(self, **kwargs) -> None:
        for image in list(self.document.findall(nodes.image)):
            uri = image.get("uri", "")
            if "://" not in uri and not uri.startswith("//"):
                continue
            text = nodes.Text(image.get("alt") or uri)
            if isinstance(image.parent, nodes.reference):
                image.replace_self(text)
            else:
                image.replace_self(nodes.reference("", "", text, refuri=uri))


def setup(app):
    app.add_transform(RemoteImagesAsText)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
