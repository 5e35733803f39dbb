"""The HTML book, as a reader gets it: every page of _toc.yml builds, with figures, without errors.

The book is built from the committed notebook outputs (nbval checks, in the same `make test`,
that those outputs are what the code produces now); `make book` re-executes everything.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kvlib.bench import toc_files, toc_notebooks

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    cfg["execute"]["execute_notebooks"] = "off"
    cfg_path = out / "_config.yml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out), "--config",
                           str(cfg_path), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, (proc.stdout[-4000:] + proc.stderr[-4000:])
    return out / "_build" / "html"


def test_every_toc_page_exists(html):
    for f in toc_files(ROOT):
        assert (html / f"{f}.html").exists(), f"{f} missing from the HTML book"


def _visible(page: str) -> str:
    """The page without scripts (widget state lives there) and without code listings."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return re.sub(r"<pre.*?</pre>", " ", page, flags=re.S)


@pytest.mark.parametrize("nb", [p.relative_to(ROOT).with_suffix("").as_posix() for p in toc_notebooks(ROOT)])
def test_chapter_pages_read_cleanly(html, nb):
    page = _visible((html / f"{nb}.html").read_text())
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


def test_static_twins_are_embedded(html):
    for nb in toc_notebooks(ROOT):
        page = (html / nb.relative_to(ROOT).with_suffix(".html")).read_text()
        if "ipywidgets" in nb.read_text():
            assert "_anim_img" in page and ".next_frame()" in page, \
                f"{nb.name}: has a widget but no animated twin"


def test_api_reference_covers_every_module(html):
    page = (html / "book" / "appendix" / "api.html").read_text()
    mods = sorted(p.stem for p in (ROOT / "kvlib").glob("*.py") if not p.stem.startswith("_"))
    for m in mods:
        assert f'id="module-kvlib.{m}"' in page, f"kvlib.{m} missing from the API reference"
    intro = (html / "book" / "intro.html").read_text()
    assert "appendix/api.html" in intro or "api.html" in intro


def _browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
    except ImportError:
        return None
    if not (chromium and driver):
        return None
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--window-size=1280,1600"):
        opts.add_argument(flag)
    from selenium.webdriver.chrome.service import Service
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.fixture(scope="module")
def browser():
    b = _browser()
    if b is None:
        pytest.skip("headless Chromium, chromedriver or selenium not installed (make browser-deps)")
    yield b
    b.quit()


def test_static_twins_play_in_a_browser(html, browser):
    """Step every animation of every chapter in headless Chromium: the frame must change."""
    from selenium.webdriver.common.by import By
    stepped = 0
    for nb in toc_notebooks(ROOT):
        browser.get((html / nb.relative_to(ROOT).with_suffix(".html")).as_uri())
        for img in browser.find_elements(By.CSS_SELECTOR, "img[id^='_anim_img']"):
            anim = "anim" + img.get_attribute("id")[len("_anim_img"):]
            before = img.get_attribute("src")
            browser.execute_script(f"{anim}.next_frame(); {anim}.next_frame();")
            assert img.get_attribute("src") != before, f"{nb.name}: animation {anim} did not move"
            stepped += 1
        # third-party noise is not ours: offline network errors, and sphinx-thebe's script
        # being included twice by the theme (it declares THEBE_JS_URL again), the theme's mode notice
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
                  and not any(s in e["message"] for s in ("favicon", "ERR_", "THEBE_JS_URL", "invalid theme mode"))] \
            if hasattr(browser, "get_log") else []
        assert not errors, f"{nb.name}: JavaScript errors {errors[:3]}"
    assert stepped >= 1
