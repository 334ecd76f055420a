"""Interactive views for the notebooks, one file per widget.

Each widget is three things: a pure function from state to a picture or HTML (unit-tested: state in,
output out), a thin ipywidgets shell around it, and a static rendering of its default state that is
displayed first, so the notebook reads well on GitHub and when executed headless.
"""
