"""The course's widgets, used as a student uses them: in JupyterLab, in a real browser.

For each notebook in WIDGET_NOTEBOOKS the test opens ``/lab/tree/notebooks/<name>.ipynb`` in Chromium, clears
the committed outputs, runs Run ▸ Run All Cells on a fresh kernel, waits until every code cell has run and the
kernel is idle, and checks that no error appeared. Then it finds the live widget and performs the notebook's
steps (type text, press a button, move a slider with the keyboard, pick an option); after each step the
widget's view must change (and show the expected text, where a step names one). Screenshots before and after
every step, the browser console and the server log land in test-artifacts/browser/.

"An error appeared" means any of:
- the kernel sent an ``error`` message on IOPub (an exception in a cell or in a widget callback);
- the kernel wrote to stderr text with a Python traceback ("Traceback (most recent call last)") or a line that
  starts with an exception name and a colon ("ValueError: ...");
- an output ``.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]`` (how JupyterLab shows
  stderr and errors) contains such text;
- an output area shows "Error displaying widget" or "Error rendering output" (a front-end failure);
- the page threw an uncaught JavaScript exception.
Warnings on stderr (a DeprecationWarning, say) are not errors.

Adding a notebook with a widget is one entry in WIDGET_NOTEBOOKS. A static test below (it needs no browser)
fails when a notebook uses a widget but has no entry.

Off unless LLM_MECHANICS_BROWSER_TESTS=1; see conftest.py.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
# Generous: a notebook's budget is 3 minutes on 2 cores, and a busy machine can take twice that.
RUN_ALL_TIMEOUT_S = float(os.environ.get("LLM_MECHANICS_BROWSER_RUN_ALL_TIMEOUT", "600"))
STEP_TIMEOUT_MS = 60_000  # one interaction: the front end, a kernel round trip and a re-render


class Step(NamedTuple):
    """One thing a student does to a widget. ``target`` is a Playwright selector inside the widget.

    action  value
    ------  -----------------------------------------------------------------------------------------------
    fill    the new text of an input/textarea (replaces what is there), then leave the field, as a click
            elsewhere does (widgets with continuous_update=False update then)
    type    text typed key by key at the end of what is there, then leave the field
    click   (none): click the target
    press   keys pressed with the target focused, space-separated: "ArrowRight ArrowRight"
    slider  "+N" / "-N": focus the slider's handle and press the right/left arrow N times; the slider's value
            must move that way
    select  the label of the option to pick in a <select> (an ipywidgets Dropdown), or "+N" / "-N": the option
            N places after / before the current one (wrapping round), whatever the notebook starts with

    ``expect``: text the widget's output must then contain. ``changes``: False for a step that only prepares
    the next one (text typed into a box that is sent by a button), so the output need not change yet."""
    action: str
    target: str
    value: str = ""
    expect: str | None = None
    changes: bool = True


class WidgetCase(NamedTuple):
    name: str  # for the screenshots' file names
    widget: str  # selector of the widget's root element, searched inside the cells' output areas (first match)
    output: str  # selector, inside the widget, of the view that must change after every step
    steps: list[Step] | None  # None: not written yet; the notebook is still run and must show a live widget


PENDING = [WidgetCase("widget", ".jupyter-widgets", "", None)]

# notebook name -> its widgets, each with the steps a student would take. Steps run in order, after Run All.
WIDGET_NOTEBOOKS: dict[str, list[WidgetCase]] = {
    "00_next_token_prediction": [
        # Next-token explorer (course_utils/widgets/next_token.py): Textarea, IntSlider "top k", Button, HTML.
        WidgetCase("explorer", ".widget-vbox:has(.widget-textarea):has(.widget-html)", ".widget-html-content", [
            Step("fill", ".widget-textarea textarea", "Once upon a time, there was a little boy",
                 expect="(40 characters)"),
            Step("click", "button:has-text('add the most likely token')", expect="(41 characters)"),
            Step("slider", ".widget-slider:has-text('top k')", "+2"),
        ]),
    ],
    # ---- Written while this test was: check these entries when the notebooks change. ------------------------
    "01_tokenization": [
        # BPE step-through (course_utils/widgets/bpe_stepper.py): corpus, ◀ back, step slider, merge ▶, HTML.
        WidgetCase("bpe-stepper", ".widget-vbox:has(.widget-slider):has(button:has-text('merge'))",
                   ".widget-html-content", [
            Step("click", "button:has-text('merge ▶')"),
            Step("slider", ".widget-slider:has-text('step')", "+3"),
            Step("click", "button:has-text('◀ back')"),
            Step("fill", ".widget-textarea textarea", "low lower lowest newer newest wider widest"),
        ]),
        # Tokenizer playground (course_utils/widgets/tokenizer_playground.py): Textarea and HTML.
        WidgetCase("playground", ".widget-vbox:has(textarea[placeholder='Type any text'])",
                   ".widget-html-content", [
            Step("fill", "textarea", "Once upon a time, there was a little boy named Tom.",
                 expect="51 characters"),
            Step("type", "textarea", " He had a dog.", expect="65 characters"),
        ]),
    ],
    "02_embeddings": [
        # Embedding explorer (course_utils/widgets/embedding_explorer.py): Dropdowns, ToggleButtons, Texts,
        # IntSlider, Checkbox; the map is an Image, the neighbours and messages an HTML panel.
        WidgetCase("explorer", ".widget-vbox:has(.widget-image):has(.widget-html)", ".widget-html-content", [
            Step("fill", ".widget-text:has-text('search') input", "princess", expect="nearest to princess"),
            Step("slider", ".widget-slider:has-text('neighbours')", "+2", expect="10 nearest to princess"),
            Step("select", ".widget-dropdown:has-text('vectors') select", "GPT contextual (block 4)",
                 expect="169 words"),
            Step("fill", ".widget-text:has-text('analogy') input", "woman - man + boy", expect="≈ girl"),
            Step("click", "button:has-text('t-SNE')", expect="map: t-SNE"),
            Step("fill", ".widget-text:has-text('search') input", "dragon", expect="'dragon' is not in"),
        ]),
    ],
    "03_attention": [
        # Attention viewer (course_utils/widgets/attention_viewer.py and .js, an anywidget): text box, "Show
        # attention", view buttons, layer/head/token menus; Python renders the SVG shown in .picture.
        WidgetCase("viewer", ".llmm-attn", ".picture", [
            Step("select", "select[title='head']", "+1"),  # pick another head
            Step("select", "select[title='layer']", "+1"),
            Step("click", "button:has-text('model view')"),
            Step("click", "button:has-text('neuron view')"),
            Step("click", "button:has-text('heat-map')", expect="Heat-map"),
            Step("click", "button:has-text('head view')"),
            # The text box sends its text 0.7 s after the last keystroke (or on Enter / "Show attention").
            Step("fill", "textarea", "Once upon a time, there was a little boy named Tom. He had a dog."),
        ]),
    ],
    "06_generation": [
        # Decoding explorer (course_utils/widgets/decoding_explorer.py): Textarea, temperature/top-k/top-p
        # sliders, seed, "sample again" button; the view is an HTML panel.
        WidgetCase("explorer", ".widget-vbox:has(.widget-textarea):has(.widget-html)", ".widget-html-content", [
            Step("fill", ".widget-textarea textarea", "Once there was a little boy named",
                 expect="33 characters of prompt"),
            Step("slider", ".widget-slider:has-text('temperature')", "-4", expect="temperature 1.3"),
            Step("slider", ".widget-slider:has-text('top-k')", "+3", expect="top-k 3"),
            Step("click", "button:has-text('sample again')", expect="seed 1"),
            Step("fill", ".widget-textarea textarea", "Once there was a dragon", expect="Not in this model"),
        ]),
    ],
}


# ------------------------------------------------------------------------------------------ what counts as an error

TRACEBACK = re.compile(r"Traceback \(most recent call last\)")
EXCEPTION_LINE = re.compile(r"^\s*[A-Za-z_][\w.]*(?:Error|Exception)(?::|\s*$)", re.MULTILINE)
FRONT_END_ERROR = re.compile(r"Error displaying widget|Error rendering output")


def looks_like_error(text: str) -> bool:
    return bool(TRACEBACK.search(text) or EXCEPTION_LINE.search(text))


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def parse_kernel_frame(payload) -> tuple[str, dict, dict] | None:
    """(channel, header, content) of one kernel websocket frame: JSON text (the legacy protocol) or the
    binary v1.kernel.websocket.jupyter.org protocol (uint64 offset count, offsets, channel, header,
    parent header, metadata, content, buffers)."""
    try:
        if isinstance(payload, str):
            msg = json.loads(payload)
            return msg.get("channel", ""), msg.get("header", {}), msg.get("content", {})
        count = int.from_bytes(payload[:8], "little")
        if not 6 <= count <= 64 or len(payload) < 8 * (count + 1):
            return None
        offsets = [int.from_bytes(payload[8 * (i + 1):8 * (i + 2)], "little") for i in range(count)]
        parts = [payload[offsets[i]:offsets[i + 1]] for i in range(count - 1)]
        return parts[0].decode("utf-8"), json.loads(parts[1]), json.loads(parts[4])
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


class ErrorWatch:
    """Errors as they happen: what the kernel reports on the page's kernel websockets, and uncaught
    JavaScript exceptions in the page."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("websocket", self._on_websocket)
        page.on("pageerror", lambda exc: self.errors.append(   # with its stack: which script threw
            f"uncaught JavaScript error: {exc}\n{(getattr(exc, 'stack', None) or '')[:1500]}"))

    def _on_websocket(self, ws) -> None:
        if "/api/kernels/" in ws.url and "/channels" in ws.url:
            ws.on("framereceived", self._on_frame)

    def _on_frame(self, payload) -> None:
        parsed = parse_kernel_frame(payload)
        if parsed is None:
            return
        channel, header, content = parsed
        kind = header.get("msg_type")
        if channel == "iopub" and kind == "error":
            trace = _strip_ansi("\n".join(content.get("traceback", [])))
            self.errors.append(f"kernel error {content.get('ename')}: {content.get('evalue')}\n{trace[-3000:]}")
        elif channel == "iopub" and kind == "stream" and content.get("name") == "stderr":
            text = _strip_ansi(content.get("text", ""))
            if looks_like_error(text):
                self.errors.append(f"kernel stderr:\n{text[-3000:]}")


# ------------------------------------------------------------------------------------------------------ page helpers

JS_RUN_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
                 && panel.sessionContext.session.kernel;
  if (!kernel || !panel.content) return {status: 'no kernel', total: 0, done: 0, running: 0};
  const cells = panel.content.widgets.filter(
      c => c.model.type === 'code' && c.model.sharedModel.getSource().trim() !== '');
  const running = cells.filter(c => (c.model.executionState || 'idle') !== 'idle').length;
  const done = cells.filter(c => c.model.executionCount !== null).length;
  return {status: kernel.status, connection: kernel.connectionStatus, total: cells.length, done, running};
}"""


def _wait_for_kernel(page, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        state = page.evaluate(JS_RUN_STATE)
        if state["status"] == "idle" and state.get("connection") == "connected":
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the kernel did not become idle within {timeout_s:.0f} s: {state}")
        page.wait_for_timeout(250)


def _wait_for_idle_after_interaction(page, watch: ErrorWatch, label: str) -> None:
    """Let the kernel finish what the interaction started (it may still be busy after the view changed)."""
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    while page.evaluate(JS_RUN_STATE)["status"] != "idle":
        if time.monotonic() > deadline:
            pytest.fail(f"{label}: the kernel stayed busy for {STEP_TIMEOUT_MS / 1000:.0f} s")
        page.wait_for_timeout(100)
    page.wait_for_timeout(150)  # the last messages reach the page
    _fail_on_errors(page, watch, label)


def _run_all_cells(page, watch: ErrorWatch, name: str) -> float:
    """Clear committed outputs (so what is checked is what this kernel produced), then Run ▸ Run All Cells."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    state = page.evaluate(JS_RUN_STATE)
    assert state["total"] > 0 and state["done"] == 0, f"{name}: clearing the outputs left {state}"
    start = time.monotonic()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()
    while True:
        page.wait_for_timeout(500)
        state = page.evaluate(JS_RUN_STATE)
        idle = state["status"] == "idle" and state["running"] == 0
        if idle and state["done"] == state["total"]:
            break
        if watch.errors and idle:  # Run All stops at the first error: report it now
            _fail_on_errors(page, watch, f"{name}: Run All Cells")
        if time.monotonic() - start > RUN_ALL_TIMEOUT_S:
            pytest.fail(f"{name}: Run All Cells did not finish within {RUN_ALL_TIMEOUT_S:.0f} s "
                        f"({state['done']} of {state['total']} code cells ran; kernel {state['status']})"
                        + ("\n" + "\n".join(watch.errors) if watch.errors else ""))
    return time.monotonic() - start


def _output_errors(page) -> list[str]:
    found = []
    for text in page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts():
        if looks_like_error(text):
            found.append(f"stderr/error output in the notebook:\n{text[-3000:]}")
    for text in page.locator(".jp-OutputArea-output").all_inner_texts():
        if FRONT_END_ERROR.search(text):
            found.append(f"front-end error in an output: {text[:500]}")
    return found


def _fail_on_errors(page, watch: ErrorWatch, label: str) -> None:
    errors = watch.errors + _output_errors(page)
    if errors:
        pytest.fail(f"{label}: an error appeared\n\n" + "\n\n".join(errors[:5]), pytrace=False)


def _perform(page, widget, step: Step, label: str) -> None:
    target = widget.locator(step.target).first
    target.wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
    if step.action == "fill":
        target.fill(step.value)
        target.blur()
    elif step.action == "type":
        target.click()
        target.press("Control+End")
        target.press_sequentially(step.value, delay=30)
        target.blur()
    elif step.action == "click":
        target.click()
    elif step.action == "press":
        target.focus()
        for key in step.value.split():
            page.keyboard.press(key)
    elif step.action == "slider":
        match = re.fullmatch(r"([+-])(\d+)", step.value)
        assert match, f"{label}: a slider step's value is '+N' or '-N', got {step.value!r}"
        handle = target.locator("[role=slider]").first
        before = float(handle.get_attribute("aria-valuenow"))
        handle.focus()
        key = "ArrowRight" if match.group(1) == "+" else "ArrowLeft"
        for _ in range(int(match.group(2))):
            page.keyboard.press(key)
        after = float(handle.get_attribute("aria-valuenow"))
        moved = after > before if match.group(1) == "+" else after < before
        assert moved, f"{label}: pressing {key} did not move the slider (value {before} → {after})"
    elif step.action == "select":
        relative = re.fullmatch(r"[+-]\d+", step.value)
        if relative:
            count = target.locator("option").count()
            current = target.evaluate("select => select.selectedIndex")
            target.select_option(index=(current + int(step.value)) % count)
        else:
            target.select_option(label=step.value)
    else:
        raise AssertionError(f"{label}: unknown action {step.action!r}")


def exercise_notebook(browser, jupyter_lab, artifacts_dir: Path, name: str, path: str,
                      cases: list[WidgetCase]) -> None:
    """Open ``path`` (relative to the repository) in JupyterLab, run all cells, do each case's steps; fail on
    any error or on a step that leaves the widget's output unchanged."""
    for old in artifacts_dir.glob(f"{name}__*"):
        old.unlink()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    watch = ErrorWatch(page)
    console = []
    page.on("console", lambda message: console.append(f"[{message.type}] {message.text}"))

    def shot(suffix, locator=None):
        (locator or page).screenshot(path=str(artifacts_dir / f"{name}__{suffix}.png"))

    try:
        start = time.monotonic()
        page.goto(jupyter_lab.lab_url(path, workspace=f"{name}-{time.time_ns()}"))  # one notebook, one tab
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=120_000)
        tabs = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab").all_inner_texts()
        assert tabs == [Path(path).name], f"{name}: expected one tab, {Path(path).name}; JupyterLab shows {tabs}"
        _wait_for_kernel(page)
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # room for the notebook
        loaded = time.monotonic() - start
        ran = _run_all_cells(page, watch, name)
        _fail_on_errors(page, watch, f"{name}: Run All Cells")
        print(f"{name}: JupyterLab opened the notebook in {loaded:.1f} s, Run All Cells took {ran:.1f} s")

        pending = []
        for case in cases:
            widget = page.locator(f".jp-OutputArea-output {case.widget}").first
            try:
                widget.wait_for(state="visible", timeout=STEP_TIMEOUT_MS)
            except Exception:  # noqa: BLE001 - turned into a readable failure
                shot("no-widget")
                pytest.fail(f"{name}: no live widget {case.name!r} ({case.widget}) after Run All Cells",
                            pytrace=False)
            widget.scroll_into_view_if_needed()
            shot(f"{case.name}-00-after-run-all")
            if case.steps is None:
                pending.append(case.name)
                continue
            output = widget.locator(case.output).first
            output.wait_for(state="visible")
            for i, step in enumerate(case.steps, start=1):
                label = f"{name} {case.name} step {i} ({step.action} {step.target!r} {step.value!r})"
                prefix = f"{case.name}-{i:02d}-{step.action}"
                before = output.inner_html()
                shot(f"{prefix}-before", widget)
                _perform(page, widget, step, label)
                if not step.changes:
                    shot(f"{prefix}-after", widget)
                    continue
                try:
                    page.wait_for_function("([el, before]) => el.innerHTML !== before",
                                           arg=[output.element_handle(), before], timeout=STEP_TIMEOUT_MS)
                except Exception:  # noqa: BLE001 - turned into a readable failure below
                    shot(f"{prefix}-after", widget)
                    _fail_on_errors(page, watch, label)
                    pytest.fail(f"{label}: the widget's output ({case.output}) did not change", pytrace=False)
                if step.expect is not None:
                    try:
                        page.wait_for_function("([el, text]) => el.innerText.includes(text)",
                                               arg=[output.element_handle(), step.expect],
                                               timeout=STEP_TIMEOUT_MS)
                    except Exception:  # noqa: BLE001
                        shot(f"{prefix}-after", widget)
                        pytest.fail(f"{label}: the output does not show {step.expect!r}; it shows:\n"
                                    f"{output.inner_text()[:1000]}", pytrace=False)
                _wait_for_idle_after_interaction(page, watch, label)
                shot(f"{prefix}-after", widget)
        _fail_on_errors(page, watch, f"{name}: at the end")
    except BaseException as failure:
        if not isinstance(failure, pytest.skip.Exception):
            try:
                shot("failure")
            except Exception:  # noqa: BLE001 - the failure itself matters more
                pass
        raise
    else:
        if pending:
            pytest.skip(f"{name}: ran every cell without errors and a live widget rendered; interaction "
                        f"steps not written yet for {pending} (fill in WIDGET_NOTEBOOKS)")
    finally:
        (artifacts_dir / f"{name}__console.log").write_text("\n".join(console) + "\n", encoding="utf-8")
        context.close()
        jupyter_lab.shut_down_kernels()


# ------------------------------------------------------------------------------------------------------------ tests

@pytest.mark.browser
@pytest.mark.parametrize("name", list(WIDGET_NOTEBOOKS))
def test_widget_in_jupyterlab(name, browser, jupyter_lab, artifacts_dir):
    notebook = NOTEBOOKS / f"{name}.ipynb"
    if not notebook.exists():
        pytest.skip(f"notebooks/{name}.ipynb is not written yet")
    exercise_notebook(browser, jupyter_lab, artifacts_dir, name, f"notebooks/{notebook.name}",
                      WIDGET_NOTEBOOKS[name])
    # Autosave is off and nothing saves; the server logs every save ("Saving file at ..."). (The log, not the
    # files' hashes: someone may be editing the notebook while the test runs.)
    saves = [line for line in jupyter_lab.log_tail(100_000).splitlines()
             if "Saving file at" in line and f"notebooks/{name}." in line]
    assert not saves, f"{name}: the browser test wrote the notebook to disk:\n" + "\n".join(saves)


# Notebooks 05 and 10 show no widget but the training loop's progress bar (tqdm.auto in course_utils.train) beside
# its live loss plot. Running them whole in the browser would only repeat nbval's run of the same cells, at
# several minutes each on 2 cores; this notebook drives the same code (train() with a LiveLossPlot) on a tiny
# model in seconds, and the bar must render as a live widget and reach its last step.
TRAINING_PROGRESS = [
    "import torch\n"
    "from course_utils.model import GPT, GPTConfig\n"
    "from course_utils.train import LiveLossPlot, TrainConfig, train",
    "ids = torch.arange(7).repeat(100)\n"
    "torch.manual_seed(0)\n"
    "model = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=1, n_embd=16))\n"
    "run = train(model, ids, ids, TrainConfig(max_steps=200, batch_size=4, warmup_steps=5, eval_interval=50),\n"
    "            on_eval=LiveLossPlot(floor=0.0, title='a tiny run'))",
]
TRAINING_PROGRESS_CASES = [
    WidgetCase("progress", ".widget-hbox:has(.widget-hprogress):has-text('200/200')", ".widget-html-content", []),
]


def _write_notebook(folder: Path, name: str, sources: list[str]) -> str:
    """A notebook of these code cells in ``folder`` (under the artefacts folder); its path for JupyterLab."""
    import nbformat

    folder.mkdir(exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}
    nbformat.write(notebook, folder / f"{name}.ipynb")
    return (folder / f"{name}.ipynb").relative_to(REPO).as_posix()


@pytest.mark.browser
def test_training_progress_bar_in_jupyterlab(browser, jupyter_lab, artifacts_dir):
    path = _write_notebook(artifacts_dir / "training", "training_progress", TRAINING_PROGRESS)
    exercise_notebook(browser, jupyter_lab, artifacts_dir, "training_progress", path, TRAINING_PROGRESS_CASES)


# The checks above must be able to fail: two small notebooks, written into the artefacts folder, that break.
SELFTEST_WIDGET = """import ipywidgets as widgets
slider = widgets.IntSlider(value=3, min=0, max=10, description="n")
view = widgets.HTML("n = 3")
def on_change(change):
    view.value = f"n = {change['new']}"
    if change["new"] >= 5:
        raise ValueError("boom in a widget callback")
slider.observe(on_change, names="value")
widgets.VBox([slider, view])"""
SELFTEST_CASES = [WidgetCase("slider", ".widget-vbox:has(.widget-slider)", ".widget-html-content",
                             [Step("slider", ".widget-slider", "+1", expect="n = 4"),
                              Step("slider", ".widget-slider", "+1", expect="n = 5")])]
SELFTESTS = {
    "error_in_a_cell": (["x = 1", "1 / 0", "print('never runs')"], "ZeroDivisionError: division by zero"),
    "error_in_a_widget_callback": ([SELFTEST_WIDGET], "ValueError: boom in a widget callback"),
}


@pytest.mark.browser
@pytest.mark.parametrize("selftest", list(SELFTESTS))
def test_the_browser_test_sees_errors(selftest, browser, jupyter_lab, artifacts_dir):
    sources, expected = SELFTESTS[selftest]
    path = _write_notebook(artifacts_dir / "selftest", selftest, sources)
    with pytest.raises(pytest.fail.Exception, match=re.escape(expected)) as failure:
        exercise_notebook(browser, jupyter_lab, artifacts_dir, f"selftest_{selftest}", path, SELFTEST_CASES)
    if selftest == "error_in_a_widget_callback":  # the first step worked; the error came with the second
        assert "step 2" in str(failure.value), str(failure.value)


def test_kernel_frames_are_parsed_in_both_protocols():
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    header = {"msg_type": "error", "msg_id": "1"}
    content = {"ename": "ValueError", "evalue": "boom", "traceback": []}
    binary = serialize_msg_to_ws_v1([json.dumps(p).encode() for p in (header, {}, {}, content)], "iopub")
    assert parse_kernel_frame(binary) == ("iopub", header, content)
    text = json.dumps({"channel": "iopub", "header": header, "content": content})
    assert parse_kernel_frame(text) == ("iopub", header, content)
    assert parse_kernel_frame(b"\x00garbage") is None


def test_what_counts_as_an_error():
    assert looks_like_error("Traceback (most recent call last):\n  File ...")
    assert looks_like_error("oops\nValueError: boom\n")
    assert looks_like_error("torch.OutOfMemoryError: CUDA out of memory")
    assert not looks_like_error("/x.py:3: DeprecationWarning: old\n  warnings.warn(...)")
    assert not looks_like_error("No such comm target registered: jupyter.widget.control")
    assert not looks_like_error("100%|##########| 10/10 [00:01<00:00]")


def _uses_widgets(notebook: Path) -> bool:
    """A notebook that shows an ipywidgets/anywidget widget: it imports one, or a committed output is one."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", []))
        if re.search(r"^\s*(from|import)\s+(course_utils\.widgets|ipywidgets|anywidget)\b", source, re.MULTILINE):
            return True
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data and not _is_progress_bar(data):
                return True
    return False


def _is_progress_bar(data: dict) -> bool:
    """A tqdm bar's saved output ("training: 100%|██████████| 600/600 [...]"): the training loop's progress,
    covered once by test_training_progress_bar_in_jupyterlab."""
    return bool(re.match(r"[\w ]*: +\d+%\|", "".join(data.get("text/plain", ""))))


def test_every_notebook_with_a_widget_has_a_browser_test():
    """Static (no browser): a new notebook with a widget needs an entry in WIDGET_NOTEBOOKS."""
    with_widgets = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb") if _uses_widgets(p))
    assert "00_next_token_prediction" in with_widgets, "the scan no longer sees notebook 00's explorer"
    bars = [json.loads((NOTEBOOKS / "05_pretraining.ipynb").read_text(encoding="utf-8"))]
    assert any(_is_progress_bar(out.get("data", {})) for nb in bars for c in nb["cells"] if c["cell_type"] == "code"
               for out in c.get("outputs", [])), "the scan no longer recognizes notebook 05's progress bar"
    missing = [name for name in with_widgets if name not in WIDGET_NOTEBOOKS]
    assert not missing, (f"notebooks with a widget but no entry in WIDGET_NOTEBOOKS "
                         f"(tests/browser/test_widgets_in_jupyterlab.py): {missing}; add one (PENDING at least)")
