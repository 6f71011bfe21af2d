"""A headless Debian chromium driven by selenium, and the page as a test sees it.

Both binaries are named explicitly (no selenium-manager download, no PATH
guessing): `chromium` and `chromium-driver` come from the same Debian upload,
so their versions match. Without them (or without selenium) the browser tests
skip with the reason, except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BROWSER_DEADLINE_S = 15.0
# A condition the page should meet within this long; generous for a loaded CI machine
# (a reconnect waits out a backoff of up to 10 s).

FLAGS = (
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    # Several users are tabs of one browser: a tab in the background keeps its timers
    # (the reconnect backoff) at full speed.
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--window-size=1100,700",
)


def missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path, _package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install chromium chromium-driver; scripts/test does it)"
    return None


@contextmanager
def chromium(window_size: str = "1100,700") -> Iterator[WebDriver]:
    """One headless chromium with a new empty profile, quit (and its profile removed) afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chatroom-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={window_size}")
    options.add_argument(f"--user-data-dir={profile}")
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # chromium refuses to run as root with its sandbox
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The https:// test serves a certificate of a CA made for the test run (trustme).
    options.accept_insecure_certs = True
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(BROWSER_DEADLINE_S)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """One user's tab: typing into the page's inputs and waiting for what it shows."""

    def __init__(self, driver: WebDriver, handle: str, url: str) -> None:
        self.driver = driver
        self.handle = handle
        self.url = url

    @classmethod
    def open(cls, driver: WebDriver, url: str, *, new_tab: bool = True) -> Page:
        if new_tab:
            driver.switch_to.new_window("tab")
        driver.get(url)
        return cls(driver, driver.current_window_handle, url)

    def focus(self) -> WebDriver:
        if self.driver.current_window_handle != self.handle:
            self.driver.switch_to.window(self.handle)
        return self.driver

    def wait(
        self, condition: Callable[[WebDriver], Any], what: str, timeout: float = BROWSER_DEADLINE_S
    ) -> Any:
        """Wait until `condition(driver)` is truthy; on timeout say what was awaited, and the page."""
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        driver = self.focus()
        wait = WebDriverWait(
            driver, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
        )
        try:
            return wait.until(condition)
        except TimeoutException:
            raise AssertionError(
                f"{what}: not within {timeout:g} s; the page shows:\n{self.visible_text()}"
            ) from None

    def find(self, css: str) -> WebElement:
        from selenium.webdriver.common.by import By

        return self.focus().find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        from selenium.webdriver.common.by import By

        return self.focus().find_elements(By.CSS_SELECTOR, css)

    def visible_text(self) -> str:
        try:
            return str(self.focus().execute_script("return document.body.innerText"))
        except Exception as error:  # the report of a failure must not fail itself
            return f"(cannot read the page: {error})"

    def type_into(self, css: str, text: str) -> None:
        from selenium.webdriver.common.keys import Keys

        self.find(css).send_keys(text + Keys.ENTER)

    def login(self, name: str) -> None:
        """Type `name` into the first text input, Enter, and wait until the chat shows."""
        from selenium.webdriver.common.by import By

        first = self.focus().find_elements(By.CSS_SELECTOR, "input[type=text]")[0]
        first.send_keys(name)
        from selenium.webdriver.common.keys import Keys

        first.send_keys(Keys.ENTER)
        self.wait(lambda d: self.find("#chat").is_displayed(), f"{name} registered")
        self.wait_connected()

    def wait_connected(self) -> None:
        self.wait(lambda d: self.find("#conn").get_attribute("data-state") == "open", "the page connected")

    def say(self, text: str) -> None:
        self.type_into("#input", text)

    def lines(self, css: str = ".line") -> list[str]:
        """The text of the lines of the room shown (css narrows them: '.msg', '.private', ...)."""
        script = (
            "return [...document.querySelectorAll('.pane:not([hidden]) ' + arguments[0])]"
            ".map(e => e.textContent)"
        )
        return [str(text) for text in self.focus().execute_script(script, css)]

    def wait_line(self, needle: str, css: str = ".line") -> str:
        """The first line of the room shown that contains `needle`, once there is one."""

        def found(_: WebDriver) -> str | None:
            return next((line for line in self.lines(css) if needle in line), None)

        return str(self.wait(found, f"a {css} line with {needle!r}"))

    def _script(self, code: str) -> Any:
        """Read the page in one go (the lists are redrawn: element references go stale)."""
        return self.focus().execute_script(code)

    def rooms(self) -> list[str]:
        return [
            str(r)
            for r in self._script(
                "return [...document.querySelectorAll('#rooms li')].map(e => e.dataset.room)"
            )
        ]

    def current_room(self) -> str:
        return str(
            self._script(
                "const e = document.querySelector('#rooms li.current'); return e ? e.dataset.room : ''"
            )
        )

    def members(self) -> list[str]:
        return [
            str(m)
            for m in self._script(
                "return [...document.querySelectorAll('#members li')].map(e => e.textContent)"
            )
        ]

    def text_of(self, css: str) -> str:
        return str(self._script(f"const e = document.querySelector({css!r}); return e ? e.textContent : ''"))

    def errors(self) -> list[str]:
        """Severe messages of the browser's console (a CSP violation, an exception)."""
        return [entry["message"] for entry in browser_log(self.focus()) if entry["level"] == "SEVERE"]


def browser_log(driver: WebDriver) -> list[dict[str, Any]]:
    """The console messages since the last call, of every tab (reading the log empties it)."""
    entries: list[dict[str, Any]] = cast(Any, driver).get_log(
        "browser"
    )  # chromium's, not in WebDriver's type
    return entries
