"""The embedding-space explorer: a pure function state -> (figure, HTML), and a thin ipywidgets shell."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_utils.embeddings import WordVectors
from course_utils.widgets.embedding_explorer import (EmbeddingExplorer, ExplorerState, ExplorerView,
                                                     category_colours, figure_png, parse_expression, project,
                                                     render_explorer)

CATEGORIES = {"king": "person", "queen": "person", "prince": "person", "princess": "person",
              "red": "colour", "blue": "colour", "green": "colour", "dog": "animal", "cat": "animal"}


@pytest.fixture(scope="module")
def sets():
    words = ["king", "queen", "prince", "princess", "red", "blue", "green", "dog", "cat", "the"]
    # axes: person, colour, animal, female, child, function word
    rows = {"king": [1, 0, 0, 0, 0, 0], "queen": [1, 0, 0, 1, 0, 0], "prince": [1, 0, 0, 0, 1, 0],
            "princess": [1, 0, 0, 1, 1, 0], "red": [0, 1, 0, 0, 0, 0], "blue": [0, 1, 0, 0, 0, 0.1],
            "green": [0, 1, 0, 0, 0, 0.2], "dog": [0, 0, 1, 0, 0, 0], "cat": [0, 0, 1, 0, 0, 0.1],
            "the": [0, 0, 0, 0, 0, 1]}
    g = torch.Generator().manual_seed(0)
    structured = torch.tensor([rows[w] for w in words], dtype=torch.float32)
    structured = structured + 0.01 * torch.randn(structured.shape, generator=g)
    return {"structured": WordVectors(words, structured, "structured"),
            "random": WordVectors(words, torch.randn(len(words), 4, generator=g), "random")}


def test_default_state_renders_a_figure_and_a_panel(sets):
    view = render_explorer(ExplorerState("structured"), sets, CATEGORIES)
    assert isinstance(view, ExplorerView) and isinstance(view.figure, Figure)
    assert view.neighbours == [] and view.analogy == [] and view.messages == []
    assert "structured" in view.html and "search box" in view.html
    assert figure_png(view.figure).startswith(b"\x89PNG")


def test_search_shows_the_k_nearest_neighbours_with_cosines(sets):
    view = render_explorer(ExplorerState("structured", query="red", k=2), sets, CATEGORIES)
    assert view.neighbours == sets["structured"].nearest("red", 2)
    assert {w for w, _ in view.neighbours} == {"blue", "green"}
    for word, cos in view.neighbours:
        assert f">{word}<" in view.html and f"{cos:.3f}" in view.html
    assert "colour ✓" in view.html
    # k larger than the vocabulary: every other word, no error
    assert len(render_explorer(ExplorerState("structured", query="red", k=50), sets, CATEGORIES).neighbours) == 9


def test_analogy_box(sets):
    view = render_explorer(ExplorerState("structured", analogy="queen - king + prince"), sets, CATEGORIES)
    assert view.analogy[0][0] == "princess"
    assert "<b>princess</b>" in view.html and "queen − king + prince" in view.html


def test_unknown_words_give_a_clear_message_not_an_error(sets):
    view = render_explorer(ExplorerState("structured", query="kingg", analogy="queen - dragon + prince"), sets,
                           CATEGORIES)
    assert view.neighbours == [] and view.analogy == []
    assert any("'kingg' is not in the structured vocabulary" in m and "did you mean 'king'" in m
               for m in view.messages)
    assert any("'dragon'" in m for m in view.messages)
    assert "⚠" in view.html
    malformed = render_explorer(ExplorerState("structured", analogy="queen - "), sets, CATEGORIES)
    assert malformed.messages and "could not read" in malformed.messages[0]


def test_very_long_and_odd_input_is_shortened_and_escaped(sets):
    long_word = "x" * 10_000
    view = render_explorer(ExplorerState("structured", query=long_word, analogy=long_word), sets, CATEGORIES)
    assert len(view.messages) == 2
    assert all(len(m) < 300 for m in view.messages)
    assert len(view.html) < 5_000
    view = render_explorer(ExplorerState("structured", query="<script>"), sets, CATEGORIES)
    assert "<script>" not in view.html and "&lt;script&gt;" in view.html


def test_parse_expression():
    assert parse_expression("queen - king + prince") == [(1, "queen"), (-1, "king"), (1, "prince")]
    assert parse_expression("-a+b") == [(-1, "a"), (1, "b")]
    assert parse_expression("queen − king") == [(1, "queen"), (-1, "king")]  # typographic minus
    assert parse_expression("  ") == []
    assert parse_expression("small→home - small") == [(1, "small→home"), (-1, "small")]
    for bad in ("queen -", "a -- b", "a" + " + a" * 8, "x" * 300):
        with pytest.raises(ValueError):
            parse_expression(bad)
    with pytest.raises(TypeError):
        parse_expression(3)


def test_projections_are_reproducible_and_shaped(sets):
    vectors = sets["structured"].vectors
    a, b = project(vectors, "pca"), project(vectors, "pca")
    assert a.shape == (10, 2) and np.array_equal(a, b)
    from sklearn.decomposition import PCA

    unit = (vectors / vectors.norm(dim=1, keepdim=True)).double().numpy()
    reference = PCA(2).fit_transform(unit)
    signs = np.sign((a * reference).sum(0))               # PCA's axes are defined up to sign
    assert np.abs(a - reference * signs).max() < 1e-6   # (float32 input)
    t = project(vectors, "tsne", seed=0)
    assert t.shape == (10, 2) and np.isfinite(t).all()
    assert project(torch.zeros(0, 3)).shape == (0, 2)
    assert project(torch.ones(1, 3)).shape == (1, 2)
    with pytest.raises(ValueError):
        project(vectors, "umap")


def test_switching_sets_projections_labels_and_zoom(sets):
    for name in sets:
        for projection in ("pca", "tsne"):
            for labels in ("categories", "all", "highlighted", "none"):
                state = ExplorerState(name, projection, query="cat", k=3, labels=labels, zoom=True)
                view = render_explorer(state, sets, CATEGORIES)
                assert view.neighbours and view.figure.axes
    with pytest.raises(ValueError, match="unknown embedding set"):
        render_explorer(ExplorerState("word2vec"), sets, CATEGORIES)
    with pytest.raises(ValueError):
        render_explorer(ExplorerState("structured", labels="some"), sets, CATEGORIES)
    with pytest.raises(ValueError):
        render_explorer(ExplorerState("structured"), sets, CATEGORIES, coords=np.zeros((3, 2)))


def test_an_empty_set_renders():
    empty = {"empty": WordVectors([], torch.zeros(0, 4), "empty")}
    view = render_explorer(ExplorerState("empty", query="king"), empty, CATEGORIES)
    assert view.messages and view.neighbours == []


def test_colours_are_distinct_and_stable():
    colours = category_colours(CATEGORIES)
    assert list(colours) == ["animal", "colour", "person"]
    assert len(set(colours.values())) == 3
    assert category_colours(dict(reversed(list(CATEGORIES.items())))) == colours


def test_widget_shell_follows_its_controls(sets):
    explorer = EmbeddingExplorer(sets, CATEGORIES, query="king", k=2)
    assert explorer.view.neighbours == sets["structured"].nearest("king", 2)
    explorer.query_box.value = "dog"
    assert explorer.state.query == "dog" and ">cat<" in explorer.panel.value
    explorer.set_box.value = "random"
    assert explorer.state.set_name == "random" and "random" in explorer.panel.value
    explorer.analogy_box.value = "queen - king + prince"
    assert explorer.view.analogy
    explorer.query_box.value = "nonsense"
    assert "not in the random vocabulary" in explorer.panel.value
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"].startswith("EmbeddingExplorer(set='random'")
    assert bundle["text/html"] == explorer.view.html
    assert bytes(explorer.image.value).startswith(b"\x89PNG")
    with pytest.raises(ValueError):
        EmbeddingExplorer({}, CATEGORIES)


def test_typing_an_unknown_word_updates_the_panel_without_redrawing_the_map(sets):
    explorer = EmbeddingExplorer(sets, CATEGORIES)
    explorer.query_box.value = "ki"
    picture = bytes(explorer.image.value)
    figure = explorer.view.figure
    explorer.query_box.value = "kin"           # still unknown: same picture, new message
    assert explorer.view.figure is figure and bytes(explorer.image.value) == picture
    assert "'kin' is not in" in explorer.view.messages[0] and "kin" in explorer.panel.value
    explorer.query_box.value = "king"          # known: the map highlights it
    assert explorer.view.figure is not figure and bytes(explorer.image.value) != picture
    explorer.projection_box.value = "tsne"
    assert explorer.state.projection == "tsne" and explorer.view.neighbours
