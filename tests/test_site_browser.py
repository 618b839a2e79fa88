"""Real-browser test of the course site: every page opened from disk with the network cut.

Uses the session's ``site`` fixture (tests/conftest.py: built once, fast setting) and headless
Chromium through Playwright (the system binary from the ``chromium_path`` fixture, launched
as tests/test_widgets_browser.py does). Every page is opened as a ``file://`` URL; every
request that is not for a local file is aborted and recorded. For every page: no request
left the machine or failed, no console error or uncaught exception, every image loaded
(``naturalWidth > 0``) with alt text that describes it (not a file name) or a caption, every formula
typeset by MathJax with no raw ``$...$`` left, every internal link pointing at a file in the
site, and on notebook pages the Colab, Binder and JupyterHub launch links. Then the search
page, offline, finds "convolution".

Skipped only when ``CNNLAB_SKIP_BROWSER=1`` says so (never under ``CI=true``).
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.test_widgets_browser import CHROMIUM_FLAGS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# text outside code, math and scripts that still looks like unrendered TeX
RAW_TEX = re.compile(r"\$[^$\s][^$]{0,200}?\$|\\\(|\\\[")
READ_PAGE = """() => {
  const skip = (n) => n.closest('pre, code, script, style, mjx-container, .highlight, textarea, .MathJax');
  const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT);
  const text = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) { if (!skip(n.parentElement)) text.push(n.textContent); }
  return {
    text: text.join(' '),
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0,
                                             alt: (i.getAttribute('alt') || '').trim(),
                                             caption: ((i.closest('figure') || {}).querySelector?.('figcaption')
                                                       ?.innerText || '').trim()})),
    math: document.querySelectorAll('.math').length,
    unrendered: [...document.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container')).length,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  };
}"""


def _file_of(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def _looks_like_a_file_name(alt: str) -> bool:
    return bool(re.search(r"\.(png|jpe?g|svg|gif)$", alt, re.I)) or "_images/" in alt


def _open(page, url: str) -> None:
    page.goto(url, wait_until="load", timeout=60_000)
    page.wait_for_function("() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)", timeout=30_000)
    page.evaluate("() => window.MathJax ? MathJax.startup.promise.then(() => true) : true")


def test_every_page_works_offline_in_chromium(site, chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser test needs Playwright for Python (pip install playwright; "
                    "no browser download is needed: it drives the system Chromium)")
    pages = sorted(p for p in site.rglob("*.html") if "_static" not in p.parts)
    notebooks = {f"{d}/{p.stem}" for d in ("lectures", "exercises") for p in (site / d).glob("*.html")}
    assert len(notebooks) >= 20
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 900})
            context.set_offline(True)
            current: dict[str, str] = {}

            def block_network(route):
                if route.request.url.startswith(LOCAL_SCHEMES):
                    route.continue_()
                else:
                    problems.append(f"{current['page']}: tried to fetch {route.request.url}")
                    route.abort()

            context.route("**/*", block_network)
            page = context.new_page()
            page.on("requestfailed", lambda r: problems.append(
                f"{current['page']}: request failed {r.url} ({r.failure})"))
            page.on("console", lambda m: problems.append(f"{current['page']}: console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"{current['page']}: uncaught {e}"))
            images = 0
            for path in pages:
                name = current["page"] = path.relative_to(site).as_posix()
                _open(page, path.as_uri())
                seen = page.evaluate(READ_PAGE)
                for image in seen["images"]:
                    images += 1
                    if not image["ok"]:
                        problems.append(f"{name}: image not loaded {image['src']}")
                    if (not image["alt"] or _looks_like_a_file_name(image["alt"])) and not image["caption"]:
                        problems.append(f"{name}: image without alt text or caption that describes it "
                                        f"({image['src'].rsplit('/', 1)[-1]}, alt={image['alt']!r})")
                if seen["unrendered"]:
                    problems.append(f"{name}: {seen['unrendered']} of {seen['math']} formulas not typeset")
                raw = RAW_TEX.search(seen["text"])
                if raw:
                    problems.append(f"{name}: raw TeX left in the text: {raw.group(0)[:80]!r}")
                for link in seen["links"]:
                    if link.startswith("file:") and not _file_of(link).is_file():
                        problems.append(f"{name}: internal link to a missing file {link}")
                    if link.startswith("file:") and site not in _file_of(link).parents:
                        problems.append(f"{name}: internal link outside the site {link}")
                docname = name.removesuffix(".html")
                if docname in notebooks:
                    wanted = {"Colab": f"blob/main/{docname}.ipynb", "Binder": f"lab/tree/{docname}.ipynb",
                              "JupyterHub": "git-pull?"}
                    for label, part in wanted.items():
                        if not any(part in link for link in seen["links"]):
                            problems.append(f"{name}: no {label} launch link")
                if docname.startswith("lectures/") and not seen["images"]:
                    problems.append(f"{name}: a lecture page without a single figure")

            current["page"] = "search.html?q=convolution"
            _open(page, (site / "search.html").as_uri() + "?q=convolution")
            page.wait_for_selector("#search-results li", timeout=60_000)
            found = page.locator("#search-results li").count()
            assert found >= 3, f"offline search for 'convolution' found {found} pages"
        finally:
            browser.close()
    print(f"{len(pages)} pages, {images} images checked offline; search found {found} pages")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:60])
