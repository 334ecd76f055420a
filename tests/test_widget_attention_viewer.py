"""Attention viewer: state in -> SVG out, the data taken from the course GPT, the anywidget shell, and its
ES module (checked by Node and, where Chromium is installed, run in a headless browser with a stand-in model)."""

import html
import json
import re
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils import coreference
from course_utils.widgets import attention_viewer as av
from course_utils.widgets.attention_viewer import (AttentionData, AttentionViewer, ViewState, head_view_svg,
                                                   heatmap_view_svg, model_view_svg, neuron_view_svg, render_svg)

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "course_utils" / "widgets" / "attention_viewer.js"
TEXT = "Once upon a time, there was a little girl named Lily. She had a red ball."


def made_up(T=6, L=2, H=3, hs=4, seed=0, tokens=None) -> AttentionData:
    """Random queries and keys, and the causal attention they give."""
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(L, H, T, hs, generator=g), torch.randn(L, H, T, hs, generator=g)
    scores = (q @ k.transpose(-2, -1) / hs ** 0.5).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), -1e9)
    tokens = tokens or ["\n"] + [f" w{i}" for i in range(1, T)]
    return AttentionData(tokens, scores.softmax(-1).numpy(), q.numpy(), k.numpy())


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def paths(svg: str, cls="att"):
    return re.findall(rf"<path class='{cls}' data-q='(\d+)' data-k='(\d+)'[^>]*stroke-opacity='([\d.]+)'", svg)


@pytest.fixture(scope="module")
def gpt():
    from course_utils.model import load_storyworld_gpt
    torch.manual_seed(0)
    model, tokenizer, _ = load_storyworld_gpt()
    return model, tokenizer


# ----- pure functions: state in, SVG out ------------------------------------------------------------------------

@pytest.mark.parametrize("state", [ViewState(), ViewState(layer=1, head=2), ViewState(selected=4),
                                   ViewState(head=0, selected=5), ViewState("model"), ViewState("model", selected=3),
                                   ViewState("neuron"), ViewState("neuron", layer=1, head=1, selected=2),
                                   ViewState("heatmap"), ViewState("heatmap", layer=1, head=2, selected=3)])
def test_every_view_is_well_formed_svg_and_deterministic(state):
    data = made_up()
    svg = render_svg(data, state)
    root = parse(svg)
    assert root.tag.endswith("svg") and root.get("class").startswith("llmm-attention")
    assert svg == render_svg(made_up(), state)


def test_head_view_draws_one_line_per_visible_weight():
    data = made_up()
    svg = head_view_svg(data, ViewState(layer=1, head=2))
    lines = paths(svg)
    a = data.attention[1, 2]
    expected = {(i, j) for i in range(6) for j in range(i + 1) if a[i, j] >= av.MIN_WEIGHT}
    assert {(int(i), int(j)) for i, j, _ in lines} == expected
    assert all(int(j) <= int(i) for i, j, _ in lines), "causal: no line to a later token"
    for i, j, opacity in lines:
        assert float(opacity) == pytest.approx(a[int(i), int(j)], abs=0.006)
    assert "layer 1 · head 2" in svg


def test_head_view_all_heads_uses_one_colour_per_head_and_selection_isolates():
    data = made_up()
    svg = head_view_svg(data, ViewState())
    for h in range(3):
        assert f"stroke='{av.HEAD_COLOURS[h]}'" in svg
    selected = head_view_svg(data, ViewState(head=1, selected=3))
    assert {int(i) for i, _, _ in paths(selected)} == {3}
    weights = [f"{w:.2f}" for w in data.attention[0, 1, 3, :4] if w >= 0.005]
    for w in weights:
        assert f">{w}</text>" in selected, "the selected token's weights are written out"


def test_model_view_has_every_layer_and_head():
    data = made_up()
    svg = model_view_svg(data)
    thumbs = re.findall(r"class='thumb' data-layer='(\d+)' data-head='(\d+)'", svg)
    assert sorted((int(l), int(h)) for l, h in thumbs) == [(l, h) for l in range(2) for h in range(3)]
    assert len(model_view_svg(data, ViewState("model", selected=5))) < len(svg)


def test_neuron_view_shows_scores_whose_softmax_is_the_weights():
    data = made_up(T=5, hs=8)
    state = ViewState("neuron", layer=1, head=2, selected=3)
    svg = neuron_view_svg(data, state)
    q, k = data.queries[1, 2, 3], data.keys[1, 2, :4]
    scores = k @ q / np.sqrt(8)
    for s in scores:
        assert f">{s:.2f}</text>" in svg
    assert np.allclose(np.exp(scores) / np.exp(scores).sum(), data.attention[1, 2, 3, :4], atol=1e-5)
    assert "1 later tokens: masked" in svg
    last = neuron_view_svg(data, ViewState("neuron"))   # no selection: the last token; head -1 shows head 0
    assert "query 4:" in last and "head 0" in last


def test_empty_long_escaped_and_unknown_input():
    empty = AttentionData((), np.zeros((2, 3, 0, 0)))
    for view in ("head", "model", "neuron", "heatmap"):
        assert "No tokens" in render_svg(empty, ViewState(view))
    nasty = made_up(T=3, tokens=["<script>", " a&b", " " + "x" * 40])
    svg = head_view_svg(nasty)
    parse(svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a&amp;b" in svg
    assert "x" * 14 not in svg and "…" in svg, "long tokens are elided"
    assert "neuron view needs" in neuron_view_svg(AttentionData(nasty.tokens, nasty.attention))


def test_state_is_clamped_and_bad_input_rejected():
    data = made_up()
    assert ViewState(layer=9, head=9, selected=99).clamped(data) == ViewState(layer=1, head=2, selected=-1)
    assert ViewState(layer=-3, head=-5).clamped(data) == ViewState(layer=0, head=-1)
    with pytest.raises(ValueError):
        render_svg(data, ViewState("bogus"))
    with pytest.raises(ValueError):
        AttentionData(["a", "b"], np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError):
        AttentionData(["a"], np.zeros((1, 1, 1, 1)), queries=np.zeros((1, 2, 1, 4)))


def test_display_token():
    assert av.display_token(" Lily") == "Lily"
    assert av.display_token("\n") == "⏎"
    assert av.display_token(" ") == "␣"


# ----- data from the course GPT ---------------------------------------------------------------------------------

def test_from_model_matches_the_model_attention(gpt):
    model, tokenizer = gpt
    data = AttentionData.from_model(model, tokenizer, TEXT)
    idx = torch.tensor([tokenizer.encode("\n" + TEXT)])
    recorded = coreference.attention_maps(model, idx)[0].numpy()
    assert data.tokens == tuple(tokenizer.pieces("\n" + TEXT))
    assert data.attention.shape == recorded.shape and np.abs(data.attention - recorded).max() < 1e-5
    assert data.queries.shape == (4, 4, len(data.tokens), 32) and data.note == ""


def test_from_model_handles_empty_unknown_and_too_long_text(gpt):
    model, tokenizer = gpt
    empty = AttentionData.from_model(model, tokenizer, "", prefix="")
    assert empty.tokens == () and "No tokens" in render_svg(empty)
    unknown = AttentionData.from_model(model, tokenizer, "Lily saw a zebra.")
    assert "<unk>" in unknown.tokens and "&lt;unk&gt;" in render_svg(unknown)
    long = AttentionData.from_model(model, tokenizer, "Lily had a ball. " * 100)
    assert len(long.tokens) == model.config.block_size
    assert long.note == f"showing the first 128 of {len(tokenizer.encode(chr(10) + 'Lily had a ball. ' * 100))} tokens"
    assert long.note in render_svg(long, ViewState("model"))
    with pytest.raises(TypeError):
        AttentionData.from_model(model, tokenizer, 42)


# ----- the widget -----------------------------------------------------------------------------------------------

def test_viewer_rerenders_on_every_change(gpt):
    model, tokenizer = gpt
    viewer = AttentionViewer(model, tokenizer, TEXT)
    assert viewer.n_layers == 4 and viewer.n_heads == 4 and viewer.tokens[0] == "⏎"
    assert viewer.svg == render_svg(viewer.data, ViewState())
    seen = {viewer.svg}
    for change in (dict(layer=2), dict(head=1), dict(selected=5), dict(view="model"), dict(view="neuron")):
        for name, value in change.items():
            setattr(viewer, name, value)
        assert viewer.svg == render_svg(viewer.data, viewer.state.clamped(viewer.data))
        seen.add(viewer.svg)
    assert len(seen) == 6
    viewer.text = "Once, Tom had a dog."
    assert viewer.selected == -1 and viewer.tokens == ["⏎", "Once", ",", "Tom", "had", "a", "dog", "."]
    assert "Tom" in viewer.svg
    viewer.text = ""
    assert viewer.tokens == ["⏎"]
    viewer.text = "Lily had a ball. " * 100
    assert viewer.note.startswith("showing the first 128")
    viewer.layer = 99  # out of range from the front end: drawn clamped, never an error
    assert "layer 3" in viewer.svg
    with pytest.raises(ValueError):
        AttentionViewer(model, tokenizer, TEXT, view="bogus")


def test_viewer_output_carries_a_static_picture(gpt):
    model, tokenizer = gpt
    viewer = AttentionViewer(model, tokenizer, TEXT, layer=2, head=1, selected=14)
    assert (viewer.layer, viewer.head, viewer.selected) == (2, 1, 14), "the constructor's state is kept"
    assert viewer.svg == render_svg(viewer.data, ViewState("head", 2, 1, 14))
    data, _ = viewer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/html"] == f"<div>{viewer.svg}</div>"
    assert data["text/plain"] == "AttentionViewer(4 layers × 4 heads, 20 tokens, view='head')"


# ----- the ES module --------------------------------------------------------------------------------------------

def test_js_is_shipped_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["course_utils"]
    assert any(Path("widgets/attention_viewer.js").match(p) for p in patterns)
    assert AttentionViewer._esm.__class__.__name__ == "FileContents" and "export default" in str(AttentionViewer._esm)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_js_is_a_valid_es_module(tmp_path):
    module = tmp_path / "attention_viewer.mjs"
    module.write_text(JS.read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(["node", "--check", str(module)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_js_renders_hovers_and_sends_changes_in_a_browser(tmp_path):
    data = made_up(T=6, L=2, H=3)
    state = {"text": "w1 w2", "view": "head", "layer": 0, "head": -1, "selected": -1,
             "svg": head_view_svg(data), "tokens": [av.display_token(t) for t in data.tokens],
             "n_layers": 2, "n_heads": 3, "note": ""}
    script = JS.read_text(encoding="utf-8").replace("export default { render };", "")
    page = f"""<!doctype html><html><body><div id="root"></div><pre id="out">not run</pre>
<script type="module">
{script}
const state = {json.dumps(state)};
const sent = [];
const handlers = {{}};
const model = {{
  get: (k) => state[k],
  set: (k, v) => {{ state[k] = v; sent.push([k, v]); }},
  save_changes: () => {{}},
  on: (name, f) => {{ (handlers[name] ||= []).push(f); }},
  off: () => {{}},
}};
const root = document.getElementById("root");
render({{ model, el: root }});
const svg = () => root.querySelector(".picture svg");
const hover = root.querySelector('.picture [data-q="4"]');
hover.dispatchEvent(new MouseEvent("mouseover", {{ bubbles: true }}));
const isolated = svg().classList.contains("iso");
const shown = [...root.querySelectorAll(".att.on")].map((n) => n.dataset.q);
root.querySelector(".picture").dispatchEvent(new MouseEvent("mouseleave"));
const cleared = !svg().classList.contains("iso");
root.querySelector('.picture [data-select="2"]').dispatchEvent(new MouseEvent("click", {{ bubbles: true }}));
[...root.querySelectorAll("button")].find((b) => b.value === "model").click();
state.svg = "<svg xmlns='http://www.w3.org/2000/svg'><g class='thumb' data-layer='1' data-head='2'><rect width='9' height='9'/></g></svg>";
for (const f of handlers["change:svg"]) f();
root.querySelector(".picture .thumb rect").dispatchEvent(new MouseEvent("click", {{ bubbles: true }}));
const text = root.querySelector("textarea");
text.value = "Tom had a dog.";
text.dispatchEvent(new KeyboardEvent("keydown", {{ key: "Enter", bubbles: true }}));
text.value = "Tom had a cat.";
text.dispatchEvent(new Event("input"));  // typing, then a pause: sent once, after the pause
const selects = [...root.querySelectorAll("select")].map((s) => s.options.length);
const beforePause = sent.length;
setTimeout(() => {{
  document.getElementById("out").textContent = JSON.stringify({{ isolated, shown, cleared, sent, selects, beforePause }});
}}, 1500);
</script></body></html>"""
    harness = tmp_path / "harness.html"
    harness.write_text(page, encoding="utf-8")
    result = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-background-networking", "--virtual-time-budget=5000", "--dump-dom",
                             harness.as_uri()], capture_output=True, text=True, timeout=120)
    match = re.search(r'<pre id="out">(.*?)</pre>', result.stdout, re.S)
    assert match, f"no output from Chromium:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    out = json.loads(html.unescape(match.group(1)))
    assert out["isolated"] and out["cleared"]
    assert out["shown"] and set(out["shown"]) == {"4"}, "hovering a query isolates its lines only"
    assert out["sent"] == [["selected", 2], ["view", "model"], ["layer", 1], ["head", 2], ["view", "head"],
                           ["text", "Tom had a dog."], ["text", "Tom had a cat."]]
    assert out["beforePause"] == 6, "typing is sent after a pause, not on every keystroke"
    assert out["selects"] == [2, 4, 7], "layers; all + 3 heads; none + 6 tokens"


def test_heatmap_has_one_cell_per_causal_weight_with_its_value():
    data = made_up(T=5)
    svg = heatmap_view_svg(data, ViewState("heatmap", layer=1, head=2))
    parse(svg)
    cells = re.findall(r"fill-opacity='([\d.]+)'><title>[^<]*: ([\d.]+)</title>", svg)
    assert len(cells) == 5 * 6 // 2, "the lower triangle, diagonal included: the causal mask hides the rest"
    weights = data.attention[1, 2][np.tril_indices(5)]
    assert [float(w) for _, w in cells] == pytest.approx(weights, abs=0.005)
    mean = heatmap_view_svg(data, ViewState("heatmap", layer=1, head=-1))
    assert "mean of all heads" in mean
    first_row = float(re.findall(r"<title>[^<]*: ([\d.]+)</title>", mean)[0])
    assert first_row == pytest.approx(1.0), "the first query can only attend to itself"
    long = AttentionData(data.tokens, data.attention, note="the first 5 of 300 tokens")
    assert "the first 5 of 300 tokens" in heatmap_view_svg(long, ViewState("heatmap"))
