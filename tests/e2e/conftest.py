"""Browser tests: Debian's Chromium driven by Playwright (no browser download).

In CI (CI=true) a missing browser fails the run; elsewhere the tests skip, naming the
package to install.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = (
            f"no Chromium at {CHROMIUM}: install Debian's 'chromium' package "
            "(apt-get install chromium) to run the browser tests"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; the Django ORM calls made
    # by the tests themselves are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda msg: errors.append(_console_error(msg)) if msg.type == "error" else None
    )
    page.js_errors = errors
    yield page
    context.close()


def _console_error(message) -> str:
    """The console's text, with the address it names (which resource failed to load)."""
    where = (message.location or {}).get("url")
    return f"{message.text} ({where})" if where else message.text


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# axe-core rule sets run on every page: WCAG 2.1 A and AA, and Deque's best practices.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
FAILING_IMPACTS = {"serious", "critical"}


def assert_accessible(page) -> list[dict]:
    """Run axe-core (bundled by axe-playwright-python) on the page as it is: fail on a
    serious or critical violation; return (and print) the minor and moderate ones."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page, options=AXE_OPTIONS).response["violations"]
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    others = [v for v in violations if v["impact"] not in FAILING_IMPACTS]
    for violation in others:
        print(f"axe {violation['impact']} on {page.url}: {_describe(violation)}")
    assert not failing, f"axe on {page.url}:\n" + "\n".join(_describe(v) for v in failing)
    return others


def _describe(violation: dict) -> str:
    targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
    more = len(violation["nodes"]) - 5
    if more > 0:
        targets += f" and {more} more"
    return f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}"


def assert_no_sideways_scroll(page) -> None:
    """The document is no wider than the window: wide tables scroll inside their own
    wrapper, the page itself never scrolls sideways."""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth,"
        " [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right"
        " > window.innerWidth + 1 && !e.closest('.scroll, .table-wrap')).slice(0, 5)"
        ".map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))]"
    )
    scroll_width, window_width, culprits = widths
    assert scroll_width <= window_width + 1, (
        f"{page.url} is {scroll_width}px wide in a {window_width}px window: {culprits}"
    )
