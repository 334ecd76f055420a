// Attention viewer: the browser half of course_utils/widgets/attention_viewer.py (an anywidget ES module,
// no build step). Python renders the pictures (the `svg` trait); this file draws the controls, shows the
// picture, isolates a token's lines while the mouse is over it, and sends clicks and choices back.

const STYLE = `
.llmm-attn { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: inherit; max-width: 100%; }
.llmm-attn .bar { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; margin: 4px 0 8px; }
.llmm-attn textarea { width: 100%; box-sizing: border-box; min-height: 3.2em; font: 13px monospace; }
.llmm-attn button, .llmm-attn select { font: inherit; padding: 2px 8px; }
.llmm-attn button.on { font-weight: 600; background: #ffe9a8; border: 1px solid #b58900; }
.llmm-attn .picture { overflow: auto; max-height: 720px; background: white; border: 1px solid #ddd; }
.llmm-attn .note { color: #a33; }
.llmm-attn .hint { color: #777; font-size: 12px; }
.llmm-attn .tok, .llmm-attn .thumb { cursor: pointer; }
.llmm-attn svg.iso .att { display: none; }
.llmm-attn svg.iso .att.on { display: inline; }
.llmm-attn svg .tok.hover { font-weight: bold; fill: #b58900; }
.llmm-attn svg .thumb:hover rect:first-child { stroke: #b58900; stroke-width: 2; }
`;

const HINTS = {
  head: "Hover a token to isolate its lines; click it to keep only its row (click again to clear).",
  model: "Every layer × head at once; click a thumbnail to open it in the head view.",
  neuron: "Pick a query token (click a token, or the menu) and a head: q · k / √d, then softmax.",
  heatmap: "Rows are queries, columns keys; hover a cell for its weight. 'all' shows the mean of the heads.",
};

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

function render({ model, el: root }) {
  root.classList.add("llmm-attn");
  const style = el("style", { textContent: STYLE });
  const text = el("textarea", { value: model.get("text"), placeholder: "Type some text…" });
  const run = el("button", { textContent: "Show attention", title: "or press Enter, or pause typing" });
  const viewButtons = ["head", "model", "neuron", "heatmap"].map((v) =>
    el("button", { textContent: v === "heatmap" ? "heat-map" : `${v} view`, value: v }));
  const layer = el("select", { title: "layer" });
  const head = el("select", { title: "head" });
  const token = el("select", { title: "selected token" });
  const hint = el("span", { className: "hint" });
  const note = el("span", { className: "note" });
  const picture = el("div", { className: "picture" });
  root.replaceChildren(
    style, text,
    el("div", { className: "bar" }, [run, ...viewButtons,
      el("label", {}, ["layer ", layer]), el("label", {}, ["head ", head]), el("label", {}, ["token ", token])]),
    el("div", { className: "bar" }, [hint, note]),
    picture,
  );

  const send = (changes) => {
    for (const [key, value] of Object.entries(changes)) model.set(key, value);
    model.save_changes();
  };
  const options = (select, items, current) => {
    select.replaceChildren(...items.map(([value, label]) => el("option", { value: String(value), textContent: label })));
    select.value = String(current);
  };

  function update() {
    const view = model.get("view");
    const tokens = model.get("tokens");
    for (const b of viewButtons) b.classList.toggle("on", b.value === view);
    options(layer, [...Array(model.get("n_layers")).keys()].map((l) => [l, String(l)]), model.get("layer"));
    const heads = [...Array(model.get("n_heads")).keys()].map((h) => [h, String(h)]);
    options(head, view === "neuron" ? heads : [[-1, "all"], ...heads],
      view === "neuron" ? Math.max(model.get("head"), 0) : model.get("head"));
    options(token, [[-1, view === "neuron" ? "last token" : "none"],
      ...tokens.map((t, i) => [i, `${i}: ${t}`])], model.get("selected"));
    hint.textContent = HINTS[view] || "";
    note.textContent = model.get("note");
    picture.innerHTML = model.get("svg");
  }

  // Hovering is local (no round trip to Python): mark the lines of the token under the mouse.
  function isolate(target) {
    const svg = picture.querySelector("svg");
    if (!svg) return;
    for (const n of svg.querySelectorAll(".on, .hover")) n.classList.remove("on", "hover");
    const q = target?.dataset?.q, k = target?.dataset?.k;
    if (q === undefined && k === undefined) { svg.classList.remove("iso"); return; }
    target.classList.add("hover");
    const selector = q !== undefined ? `.att[data-q="${q}"]` : `.att[data-k="${k}"]`;
    for (const line of svg.querySelectorAll(selector)) line.classList.add("on");
    svg.classList.add("iso");
  }
  picture.addEventListener("mouseover", (e) => isolate(e.target.closest("[data-q], [data-k]")));
  picture.addEventListener("mouseleave", () => isolate(null));
  picture.addEventListener("click", (e) => {
    const thumb = e.target.closest("[data-layer]");
    if (thumb) {
      send({ layer: Number(thumb.dataset.layer), head: Number(thumb.dataset.head), view: "head" });
      return;
    }
    const tok = e.target.closest("[data-select]");
    if (tok) {
      const i = Number(tok.dataset.select);
      send({ selected: model.get("selected") === i && model.get("view") !== "neuron" ? -1 : i });
    }
  });

  // New text goes to Python on Enter, on the button, or after a pause in typing.
  let typing;
  const submit = () => { clearTimeout(typing); if (text.value !== model.get("text")) send({ text: text.value }); };
  run.addEventListener("click", submit);
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); submit(); }
  });
  text.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(submit, 700); });
  for (const b of viewButtons) {
    b.addEventListener("click", () => {
      const changes = { view: b.value };
      if (b.value === "neuron" && model.get("head") < 0) changes.head = 0;
      send(changes);
    });
  }
  layer.addEventListener("change", () => send({ layer: Number(layer.value) }));
  head.addEventListener("change", () => send({ head: Number(head.value) }));
  token.addEventListener("change", () => send({ selected: Number(token.value) }));

  const onText = () => { if (document.activeElement !== text) text.value = model.get("text"); };
  const traits = ["svg", "view", "layer", "head", "selected", "tokens", "n_layers", "n_heads", "note"];
  for (const name of traits) model.on(`change:${name}`, update);
  model.on("change:text", onText);
  update();
  return () => {  // clean up when the view is removed
    for (const name of traits) model.off(`change:${name}`, update);
    model.off("change:text", onText);
    clearTimeout(typing);
  };
}

export default { render };
