"""Interactive widgets of the course, one module per widget; import the one you need::

    from course_utils.widgets import bpe_stepper
    bpe_stepper.show("cats lovely love cats lovely low cat love")

Each widget is a pure function from state to HTML or a picture (unit-tested), a thin ipywidgets shell around it,
and a static rendering of its default state, so a notebook reads well on GitHub and when run headless. Widgets
import the stage of the course they show, never the other way round. Nothing is imported here, so that loading
one widget does not load them all.

- ``next_token``: a context's next-token probabilities under several models (notebook 00)
- ``tokenizer_playground``: text -> the tokens of several tokenizers side by side (notebook 01)
- ``bpe_stepper``: BPE training merge by merge on a small corpus (notebook 01)
- ``embedding_explorer``: word vectors on a map, nearest neighbours, analogies (notebook 02)
- ``attention_viewer``: attention weights of each head (notebook 03)
- ``decoding_explorer``: temperature, top-k and top-p sampling (notebook 06)
"""
