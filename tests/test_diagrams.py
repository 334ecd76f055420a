"""The mechanism diagrams: each draws, every label is legible (inside the figure, inside its box, clear of the
other labels), the boxes do not overlap, the numbers come from the arguments, and bad arguments are named."""
import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import FancyBboxPatch, Rectangle

from course_utils import diagrams

DIAGRAMS = ["attention_flow", "residual_stream", "encoder_decoder", "kv_cache", "lora_bypass", "dpo_pair"]


def _layout(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    texts = [t for t in ax.texts if t.get_text()]
    boxes = [p for p in ax.patches if isinstance(p, (FancyBboxPatch, Rectangle)) and p.get_gid() != "frame"]
    return renderer, ax, texts, boxes


def _overlap(a, b, pixels=1.0):
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > pixels) and (min(a.y1, b.y1) - max(a.y0, b.y0) > pixels)


@pytest.fixture(params=DIAGRAMS)
def drawn(request):
    fig = getattr(diagrams, request.param)()
    yield request.param, fig
    plt.close(fig)


def test_every_label_is_inside_the_figure(drawn):
    name, fig = drawn
    renderer, _, texts, _ = _layout(fig)
    page = fig.bbox
    for t in texts:
        e = t.get_window_extent(renderer)
        assert page.x0 <= e.x0 and e.x1 <= page.x1 and page.y0 <= e.y0 and e.y1 <= page.y1, \
            f"{name}: {t.get_text()!r} runs off the figure"


def test_no_two_labels_overlap(drawn):
    name, fig = drawn
    renderer, _, texts, _ = _layout(fig)
    extents = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    for (a, ea), (b, eb) in itertools.combinations(extents, 2):
        if a == "+" or b == "+":
            continue
        assert not _overlap(ea, eb), f"{name}: {a!r} and {b!r} overlap"


def test_each_box_holds_its_label_and_no_boxes_overlap(drawn):
    name, fig = drawn
    renderer, ax, texts, boxes = _layout(fig)
    assert boxes, f"{name} draws no boxes"
    box_extents = [b.get_window_extent(renderer) for b in boxes]
    for t in texts:
        centre = ax.transData.transform(t.get_position())
        for extent in box_extents:
            if extent.contains(*centre):
                label = t.get_window_extent(renderer)
                assert extent.x0 <= label.x0 and label.x1 <= extent.x1 and extent.y0 <= label.y0 \
                    and label.y1 <= extent.y1, f"{name}: {t.get_text()!r} does not fit its box"
    for a, b in itertools.combinations(box_extents, 2):
        assert not _overlap(a, b), f"{name}: two boxes overlap"


def _all_text(fig):
    return " ".join(t.get_text() for t in fig.axes[0].texts)


def test_the_numbers_come_from_the_arguments():
    fig = diagrams.kv_cache(prompt_tokens=4, new_tokens=2)
    assert "6 with the cache, 15 without" in _all_text(fig)        # 4 + 1 + 1 rows, against 4 + 5 + 6
    fig = diagrams.lora_bypass(d_in=32, d_out=96, rank=8)
    text = _all_text(fig)
    assert "3,072 numbers" in text and "trained: 1,024 numbers" in text and "8 × 32" in text
    fig = diagrams.attention_flow(n_tokens=7, d_model=48, d_head=12)
    assert "(7 × 48)" in _all_text(fig) and "(7 × 7)" in _all_text(fig)
    assert "0.5" in _all_text(diagrams.dpo_pair(beta=0.5))
    plt.close("all")


@pytest.mark.parametrize("call, message", [
    (lambda: diagrams.attention_flow(n_tokens=0), "n_tokens"),
    (lambda: diagrams.residual_stream(n_layer=2.5), "n_layer"),
    (lambda: diagrams.kv_cache(prompt_tokens=10, new_tokens=5), "at most 12"),
    (lambda: diagrams.lora_bypass(d_in=8, d_out=8, rank=9), "rank"),
    (lambda: diagrams.dpo_pair(beta=0), "beta"),
    (lambda: diagrams.dpo_pair(beta=True), "beta"),
])
def test_bad_arguments_say_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
