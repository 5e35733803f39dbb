"""The HTML book, as a reader gets it: every page of _toc.yml builds, shows the book and not the
machinery, fits a phone, and typesets every equation.

The book is built from the committed notebook outputs with execution off (nbval checks, in the
same `make test`, that those outputs are what the code produces now); `make book` executes.
The browser checks run headless Chromium (`make browser-deps`) at a desktop width (1280 px)
and a phone width (390 px); MathJax is loaded from a local copy (`make mathjax`, under
_build/), so the equations are checked offline, while the published book keeps the CDN.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import kvlib
from kvlib.book_runs import toc_files, toc_notebooks

ROOT = Path(__file__).resolve().parent.parent
WIDTHS = (1280, 390)
NOTEBOOK_PAGES = [p.relative_to(ROOT).with_suffix("").as_posix() for p in toc_notebooks(ROOT)]
PAGES = toc_files(ROOT)


def _local_mathjax() -> Path | None:
    """The MathJax 3 bundle `make mathjax` unpacks (or $KVLIB_MATHJAX), if there."""
    env = os.environ.get("KVLIB_MATHJAX")
    if env:
        return Path(env) if Path(env).is_file() else None
    found = sorted(ROOT.glob("_build/mathjax-3.*/es5/tex-mml-chtml.js"))
    return found[-1] if found else None


@pytest.fixture(scope="session")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    cfg["execute"]["execute_notebooks"] = "off"
    mathjax = _local_mathjax()
    if mathjax is not None:        # relative to _static: the bundle is linked in after the build
        cfg["sphinx"]["config"]["mathjax_path"] = "mathjax/tex-mml-chtml.js"
    cfg_path = out / "_config.yml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out), "--config",
                           str(cfg_path), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, (proc.stdout[-4000:] + proc.stderr[-4000:])
    site = out / "_build" / "html"
    if mathjax is not None:
        (site / "_static" / "mathjax").symlink_to(mathjax.parent, target_is_directory=True)
    return site


def _page(html: Path, name: str) -> str:
    return (html / f"{name}.html").read_text()


def _visible(page: str) -> str:
    """The page without scripts (widget state lives there) and without code listings."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return re.sub(r"<pre.*?</pre>", " ", page, flags=re.S)


def _text(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", _visible(page)).split())


def _article(page: str) -> str:
    """The page's own content, without the theme's header, menus (launch buttons) and footer."""
    m = re.search(r'<article class="bd-article"[^>]*>(.*)</article>', page, re.S)
    assert m, "no <article> in the page: has the theme changed?"
    return m.group(1)


def test_every_toc_page_exists(html):
    for f in PAGES:
        assert (html / f"{f}.html").exists(), f"{f} missing from the HTML book"


@pytest.mark.parametrize("nb", NOTEBOOK_PAGES)
def test_chapter_pages_read_cleanly(html, nb):
    page = _visible(_page(html, nb))
    if nb.startswith("book/0"):
        assert len(re.findall(r"<img [^>]*src=\"data:image/png|<img [^>]*src=\"[^\"]+\.png", page)) >= 1, \
            f"{nb}: no figure"
    for bad in ("Traceback (most recent call last)", "&lt;Figure size", "<Figure size",
                "UserWarning", "DeprecationWarning", "RuntimeWarning", "Error while", "undefined label"):
        assert bad not in page, f"{nb}: shows {bad!r}"
    # every glued number was substituted (an unresolved reference renders as the key itself)
    keys = re.findall(r"\{glue:text\}`([a-z0-9_]+)", (ROOT / f"{nb}.ipynb").read_text())
    text = re.sub(r"<[^>]+>", " ", page)
    for k in keys:
        assert k not in text, f"{nb}: glue key {k} not substituted"


# --- the machinery stays out of the page ---------------------------------------------------

@pytest.mark.parametrize("name", PAGES)
def test_no_test_machinery_in_the_html(html, name):
    """nbval marks checked cells with cell tags; nothing of the test shows (not even in code)."""
    hits = sorted(set(re.findall(r"NBVAL\w*", _page(html, name))))
    assert not hits, f"{name}: shows {hits}"


_TQDM_TEXT = re.compile(r"\d{1,3}%\|[^|\n]{0,80}\|\s*\d+/\d+|\d+(?:\.\d+)?\s*(?:it/s|s/it)\]")
_CONTROL = re.compile(r"(Slider|Dropdown|Button|Checkbox|Select|Text|Textarea|Play|Picker|Combobox|"
                      r"RadioButtons|ToggleButtons?)Model$")
_PROGRESS = re.compile(r"(Float|Int)ProgressModel$")


def _widgets(page: str) -> tuple[dict, list[set[str]]]:
    """The embedded widget state and, for each displayed widget, the model names it shows."""
    m = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S)
    state = json.loads(m.group(1))["state"] if m else {}
    shown = []
    for view in re.findall(r'<script type="application/vnd.jupyter.widget-view\+json">(.*?)</script>',
                           page, re.S):
        todo, names, seen = [json.loads(view)["model_id"]], set(), set()
        while todo:
            mid = todo.pop()
            if mid in seen or mid not in state:
                continue
            seen.add(mid)
            names.add(state[mid]["model_name"])
            kids = state[mid].get("state", {}).get("children", [])
            todo += [k.removeprefix("IPY_MODEL_") for k in kids if isinstance(k, str)]
        shown.append(names)
    return state, shown


@pytest.mark.parametrize("nb", NOTEBOOK_PAGES)
def test_no_finished_progress_bar(html, nb):
    page = _page(html, nb)
    state, shown = _widgets(page)
    bars = [names for names in shown if any(_PROGRESS.search(n) for n in names)]
    assert not bars, f"{nb}: shows {len(bars)} progress-bar widget(s) (KVLIB_PROGRESS=0 hides them)"
    stored = sorted({s["model_name"] for s in state.values() if _PROGRESS.search(s["model_name"])})
    assert not stored, f"{nb}: the page embeds progress-bar widget state {stored}"
    text = re.findall(_TQDM_TEXT, re.sub(r"<script.*?</script>", " ", page, flags=re.S))
    assert not text, f"{nb}: shows progress-bar text {text[:3]}"


_NOTE = re.compile(r"\b(live|interactive)\b[^.;]{0,160}\b(Jupyter|Colab|Binder)\b|"
                   r"\b(Jupyter|Colab|Binder)\b[^.;]{0,160}\b(live|interactive)\b", re.I)


def _twins(page: str) -> int:
    return len(set(re.findall(r'<img id="(_anim_img[0-9a-f]+)"', page)))


def _builds_widgets(nb: str) -> bool:
    cells = json.loads((ROOT / f"{nb}.ipynb").read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return bool(re.search(r"\bipywidgets\b|\binteract(ive)?\(", code))


@pytest.mark.parametrize("nb", NOTEBOOK_PAGES)
def test_live_controls_have_a_twin_and_a_note(html, nb):
    """A control that needs a kernel is useless on a static page: the page shows its animated
    twin and says that the control is live in Jupyter, Colab or Binder."""
    page = _page(html, nb)
    _, shown = _widgets(page)
    controls = [sorted(n for n in names if _CONTROL.search(n)) for names in shown]
    controls = [c for c in controls if c]
    if not controls and not _builds_widgets(nb):
        return
    twins, note = _twins(page), _NOTE.search(_text(_article(page)))
    problems = []
    if twins == 0:
        problems.append("no animated twin")
    if len(controls) > twins:
        problems.append(f"{len(controls)} live controls shown for {twins} twin(s)")
    if note is None:
        problems.append("no note that the control is live in Jupyter, Colab or Binder")
    assert not problems, f"{nb}: {'; '.join(problems)} (live controls shown: {controls})"


# --- what the page offers the reader -----------------------------------------------------------

def test_issue_and_edit_buttons(html):
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    nb = NOTEBOOK_PAGES[0]
    page = _page(html, nb)
    assert f"{repo}/issues/new" in page, "no issue button"
    assert f"{repo}/edit/main/{nb}.ipynb" in page, "no edit button"


def test_footer_states_version_and_licences(html):
    for name in (PAGES[0], NOTEBOOK_PAGES[0]):
        text = _text(_page(html, name))
        assert f"Version {kvlib.__version__}" in text, f"{name}: no version {kvlib.__version__} in the footer"
        assert "CC BY 4.0" in text and "MIT" in text, f"{name}: the footer does not state the licences"


def test_published_book_loads_mathjax_from_its_cdn():
    from sphinx.ext.mathjax import MATHJAX_URL
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "mathjax_path" not in cfg["sphinx"]["config"], "the published book keeps Sphinx's CDN MathJax"
    assert MATHJAX_URL.startswith("https://") and "mathjax@3" in MATHJAX_URL


def test_api_reference_covers_every_module(html):
    page = _page(html, "book/appendix/api")
    mods = sorted(p.stem for p in (ROOT / "kvlib").glob("*.py") if not p.stem.startswith("_"))
    for m in mods:
        assert f'id="module-kvlib.{m}"' in page, f"kvlib.{m} missing from the API reference"
    intro = _page(html, "book/intro")
    assert "appendix/api.html" in intro or "api.html" in intro


# --- in a browser --------------------------------------------------------------------------------

def _browser():
    chromium = shutil.which("chromium") or shutil.which("google-chrome") or shutil.which("chrome")
    driver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
    except ImportError:
        return None
    if not (chromium and driver):
        return None
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    # --hide-scrollbars: a phone's scrollbars overlay the page, so its viewport is the full width
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--hide-scrollbars", "--window-size=1280,1600"):
        opts.add_argument(flag)
    from selenium.webdriver.chrome.service import Service
    return webdriver.Chrome(service=Service(driver), options=opts)


#: One visit of a page: waits for MathJax's first typesetting, then measures.
_MEASURE = r"""
const done = arguments[arguments.length - 1];
const maths = () => document.querySelectorAll('div.math, span.math');
const wait = (t0) => new Promise((resolve) => {
  const tick = () => {
    if (!maths().length) return resolve('none');
    if (window.MathJax && MathJax.startup && MathJax.startup.promise)
      return MathJax.startup.promise.then(() => resolve('done'), (e) => resolve('failed: ' + e));
    if (performance.now() - t0 > 20000) return resolve('not loaded');
    setTimeout(tick, 100);
  };
  tick();
});
wait(performance.now()).then((mathjax) => {
  const de = document.documentElement, vw = de.clientWidth;
  const tooWide = [];
  for (const el of document.querySelectorAll(
      'article img, article canvas, article video, article iframe, article .animation, ' +
      'article .anim-controls, article svg:not(mjx-container svg)')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > vw + 1 || r.left < -1))
      tooWide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id.slice(0, 20) : '') +
                   ' ' + Math.round(r.width) + ' px wide, right edge at ' + Math.round(r.right));
  }
  const widest = [];
  if (de.scrollWidth > vw + 1) {
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.right <= vw + 1 || getComputedStyle(el).position === 'fixed') continue;
      let a = el.parentElement, outer = true;
      while (a && a !== document.body) {
        if (getComputedStyle(a).overflowX !== 'visible' || a.getBoundingClientRect().right > vw + 1) {
          outer = false; break;
        }
        a = a.parentElement;
      }
      if (outer) {
        const text = (el.textContent || '').trim().slice(0, 50);
        widest.push(el.tagName.toLowerCase() + '.' + String(el.className).split(' ')[0] +
                    ' "' + text + '" right edge at ' + Math.round(r.right));
      }
    }
  }
  const all = [...maths()];
  done({
    viewport: vw, scrollWidth: de.scrollWidth, widest: widest.slice(0, 6), tooWide: tooWide.slice(0, 6),
    mathjax, mathjaxVersion: (window.MathJax && MathJax.version) || null,
    maths: all.length,
    untypeset: all.filter((m) => !m.querySelector('mjx-container'))
                  .map((m) => m.textContent.slice(0, 60)).slice(0, 6),
    // a TeX error renders as <mjx-merror>; an undefined macro as red text (the noundefined package)
    errors: (mathjax === 'done' ? [...MathJax.startup.document.math] : []).flatMap((item) => {
      const root = item.typesetRoot;
      const bad = root && root.querySelector('mjx-merror, mjx-mtext[style*="color: red"]');
      if (!bad) return [];
      return [(bad.getAttribute('data-mjx-error') || 'undefined macro') + ' in ' + item.math.slice(0, 80)];
    }).slice(0, 6),
    controls: document.querySelectorAll('.widget-slider, .widget-dropdown, .widget-button, ' +
      '.widget-toggle-button, .widget-checkbox, .widget-select, .widget-play, .widget-text').length,
    bars: document.querySelectorAll('.widget-progress, progress').length,
  });
});
"""

#: Console noise that is not ours: offline network errors, sphinx-thebe's script included twice
#: by the theme (it declares THEBE_JS_URL again), the theme's mode notice.
_NOT_OURS = ("favicon", "ERR_", "THEBE_JS_URL", "invalid theme mode")


@pytest.fixture(scope="module")
def visits(html):
    """Every page at every width, measured once; animations stepped at the desktop width."""
    browser = _browser()
    if browser is None:
        pytest.skip("headless Chromium, chromedriver or selenium not installed (make browser-deps)")
    browser.set_script_timeout(60)
    out: dict = {}
    try:
        for width in WIDTHS:
            browser.set_window_size(width, 1000)
            for name in PAGES:
                browser.get((html / f"{name}.html").as_uri())
                rec = browser.execute_async_script(_MEASURE)
                if width == WIDTHS[0]:
                    rec["stuck"], rec["stepped"] = [], 0
                    for img in browser.find_elements("css selector", "img[id^='_anim_img']"):
                        anim = "anim" + img.get_attribute("id")[len("_anim_img"):]
                        before = img.get_attribute("src")
                        browser.execute_script(f"{anim}.next_frame(); {anim}.next_frame();")
                        rec["stepped"] += 1
                        if img.get_attribute("src") == before:
                            rec["stuck"].append(anim)
                    log = browser.get_log("browser") if hasattr(browser, "get_log") else []
                    rec["js_errors"] = [e["message"][:200] for e in log
                                        if e["level"] == "SEVERE"
                                        and not any(s in e["message"] for s in _NOT_OURS)]
                out[width, name] = rec
    finally:
        browser.quit()
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_wider_than_the_screen(visits, width):
    bad = {name: (f"document {v['scrollWidth']} px wide in a {v['viewport']} px viewport", v["widest"])
           for (w, name), v in visits.items() if w == width and v["scrollWidth"] > v["viewport"] + 1}
    assert not bad, f"at {width} px: {bad}"


@pytest.mark.parametrize("width", WIDTHS)
def test_figures_and_animations_fit_the_screen(visits, width):
    bad = {name: v["tooWide"] for (w, name), v in visits.items() if w == width and v["tooWide"]}
    assert not bad, f"at {width} px, cut off or scrolled sideways: {bad}"


def _need_local_mathjax():
    if _local_mathjax() is None:
        msg = "no local MathJax (make mathjax): the equations cannot be checked offline"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def test_every_equation_is_typeset(visits):
    _need_local_mathjax()
    bad = {}
    for (w, name), v in visits.items():
        if v["maths"] and (v["mathjax"] != "done" or v["untypeset"]):
            bad[f"{name} at {w} px"] = (v["mathjax"], v["untypeset"])
    assert not bad, f"equations MathJax did not typeset: {bad}"
    assert any(v["mathjaxVersion"] and v["mathjaxVersion"].startswith("3.") for v in visits.values())


def test_no_mathjax_errors(visits):
    _need_local_mathjax()
    bad = {name: v["errors"] for (w, name), v in visits.items() if w == WIDTHS[0] and v["errors"]}
    assert not bad, f"MathJax could not typeset: {bad}"


def test_no_live_control_without_twin_in_the_browser(visits):
    bad = {}
    for (w, name), v in visits.items():
        if w == WIDTHS[0] and v["controls"] and not v["stepped"]:
            bad[name] = f"{v['controls']} live control(s), no animated twin"
        if w == WIDTHS[0] and v["bars"]:
            bad[name] = f"{v['bars']} progress bar(s)"
    assert not bad, bad


def test_static_twins_play_in_a_browser(visits):
    """Step every animation of every page in headless Chromium: the frame must change."""
    stuck = {name: v["stuck"] for (w, name), v in visits.items() if w == WIDTHS[0] and v["stuck"]}
    assert not stuck, f"animations that did not move: {stuck}"
    assert sum(v["stepped"] for (w, _), v in visits.items() if w == WIDTHS[0]) >= 1


def test_no_javascript_errors(visits):
    bad = {name: v["js_errors"][:3] for (w, name), v in visits.items()
           if w == WIDTHS[0] and v["js_errors"]}
    assert not bad, f"JavaScript errors: {bad}"
