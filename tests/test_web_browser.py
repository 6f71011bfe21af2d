"""The web page in a real browser: headless Debian chromium, driven by selenium, against the real server.

Each test starts `server.py --web-port 0` and opens its users as tabs of one
browser (started once for the module: starting chromium costs a second or
two). A terminal user is a raw CHAT/1.0 socket. Every wait is on a condition
the page shows, never a fixed sleep. Without chromium, chromium-driver or
selenium the tests skip with the reason; under CI (the CI variable set) they
fail instead, since scripts/test installs all three.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.browser import BROWSER_DEADLINE_S, Page, browser_log, chromium, missing
from support.peer import Peer
from support.processes import ServerFactory, ServerProcess
from support.tls import make_certs

from chatroom.client.render import PALETTE_256
from chatroom.protocol.names import username_key

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

WEB_BANNER = "Will wait for web browsers at port "

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    reason = missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests cannot run under CI: {reason}", pytrace=False)
        pytest.skip(reason)
    with chromium() as browser:
        yield browser


@pytest.fixture
def server(start_server: ServerFactory) -> ServerProcess:
    """A server with the web gateway on a port the OS picked."""
    return start_server("--web-port", "0")


@pytest.fixture
def browser(driver: WebDriver) -> Iterator[WebDriver]:
    """The module's browser with one blank tab: every tab a test opened is closed after it."""
    yield driver
    handles = driver.window_handles
    for handle in handles[1:]:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(handles[0])
    driver.get("about:blank")
    browser_log(driver)  # the next test judges only its own console messages


def web_port(server: ServerProcess) -> int:
    return int(server.wait_for_log(WEB_BANNER).removeprefix(WEB_BANNER))


def url_of(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{web_port(server)}/"


def open_user(browser: WebDriver, url: str, name: str) -> Page:
    """A new tab on the page, registered as `name`."""
    first = browser.current_url == "about:blank" and len(browser.window_handles) == 1
    page = Page.open(browser, url, new_tab=not first)
    page.login(name)
    return page


def wait_for_line(peer: Peer, needle: str) -> str:
    """The terminal user's next line containing `needle` (lines before it are read and dropped)."""
    seen: list[str] = []
    while True:
        try:
            line = peer.recv_line().decode()
        except AssertionError as error:
            raise AssertionError(f"no line with {needle!r}; got {seen}: {error}") from None
        if needle in line:
            return line
        seen.append(line)


def colour_class(name: str) -> str:
    """The CSS class of `name`'s colour: chatroom/client/render.py's choice of PALETTE_256."""
    return f"c{PALETTE_256[zlib.crc32(username_key(name).encode()) % len(PALETTE_256)]}"


def name_classes(page: Page, name: str) -> set[str]:
    return {
        cls
        for el in page.find_all(f'.pane:not([hidden]) .name[data-name="{name}"]')
        for cls in (el.get_attribute("class") or "").split()
    }


def page_errors(page: Page) -> list[str]:
    """Console errors: a CSP violation, an exception, a file the page asks for and does not get."""
    return page.errors()


# -- scenarios ------------------------------------------------------------------------------


def test_two_browser_users_and_a_terminal_user_chat(browser: WebDriver, server: ServerProcess) -> None:
    url = url_of(server)
    alice = open_user(browser, url, "alice")
    bob = open_user(browser, url, "bob")
    carol = server.register("carol")  # the terminal user speaks CHAT/1.0

    alice.say("hello from the browser")
    assert "@alice: hello from the browser" in bob.wait_line("hello from the browser", ".msg")
    assert wait_for_line(carol, "hello from the browser") == "@alice: hello from the browser"

    carol.send_line("@carol: hello from the terminal")
    for page in (alice, bob):
        line = page.wait_line("hello from the terminal", ".msg")
        assert line.endswith("@carol: hello from the terminal")
        assert colour_class("carol") in name_classes(page, "carol")  # the terminal's colour

    bob.say("and bob")
    alice.wait_line("@bob: and bob", ".msg")
    assert wait_for_line(carol, "and bob") == "@bob: and bob"
    # Your own line is shown once, by the page itself (the server does not echo it).
    assert [line for line in alice.lines(".msg") if "hello from the browser" in line] == [
        next(line for line in alice.lines(".own"))
    ]

    alice.wait(lambda _: sorted(alice.members()) == ["alice", "bob", "carol"], "alice sees three members")
    carol.close()
    alice.wait(lambda _: sorted(alice.members()) == ["alice", "bob"], "carol's LEFT removes her")

    # Up/Down walk the lines typed before.
    from selenium.webdriver.common.keys import Keys

    alice.say("one")
    alice.say("two")
    field = alice.find("#input")
    field.send_keys(Keys.ARROW_UP)
    assert field.get_attribute("value") == "two"
    field.send_keys(Keys.ARROW_UP)
    assert field.get_attribute("value") == "one"
    field.send_keys(Keys.ARROW_DOWN)
    assert field.get_attribute("value") == "two"
    field.send_keys(Keys.ARROW_DOWN)
    assert field.get_attribute("value") == ""
    assert page_errors(alice) == [] and page_errors(bob) == []


def test_colours_match_the_terminal_client(browser: WebDriver, server: ServerProcess) -> None:
    page = Page.open(browser, url_of(server), new_tab=False)
    fullwidth_bob, cyrillic_ape = "\uff42\uff4f\uff42", "\u0430\u0440\u0435"  # they fold to 'bob', 'ape'
    names = [
        "alice",
        "Bob",
        "ALICE",
        fullwidth_bob,
        "Zoë",
        "Straße",
        "ΟΔΥΣΣΕΥΣ",
        cyrillic_ape,
        "名前",
        "x" * 32,
    ]
    shown = page.focus().execute_script("return arguments[0].map(window.chatroomColour)", names)
    assert shown == [colour_class(name) for name in names]


def test_room_switch(browser: WebDriver, server: ServerProcess) -> None:
    url = url_of(server)
    alice = open_user(browser, url, "alice")
    bob = open_user(browser, url, "bob")
    carol = server.register("carol")

    alice.say("!join #dev")
    alice.wait(lambda _: alice.current_room() == "#dev", "alice's !join makes #dev current")
    assert alice.rooms() == ["#lobby", "#dev"]
    alice.wait_line("210 You are now in #dev", ".reply")
    bob.type_into("#join", "dev")  # the small input: '#' is added
    bob.wait(lambda _: bob.current_room() == "#dev", "bob's join input makes #dev current")
    alice.wait(lambda _: sorted(alice.members()) == ["alice", "bob"], "#dev's members: alice and bob")

    bob.say("only in dev")
    alice.wait_line("@bob: only in dev", ".msg")

    # Back to #lobby by a click: its pane, its members, and typed lines go there.
    alice.find('#rooms li[data-room="#lobby"]').click()
    alice.wait(lambda _: alice.current_room() == "#lobby", "#lobby current again")
    assert not any("only in dev" in line for line in alice.lines())
    alice.wait(lambda _: sorted(alice.members()) == ["alice", "bob", "carol"], "#lobby's members")
    alice.say("back in the lobby")
    assert wait_for_line(carol, "back in the lobby") == "@alice: back in the lobby"
    # ... and bob, in both rooms but looking at #dev, gets it in #lobby's pane, marked unread.
    bob.wait(
        lambda _: bob.text_of('#rooms li[data-room="#lobby"] .unread') == "1", "an unread mark on #lobby"
    )
    bob.find('#rooms li[data-room="#lobby"]').click()
    bob.wait_line("@alice: back in the lobby", ".msg")
    assert page_errors(alice) == [] and page_errors(bob) == []


def test_private_message_is_shown_apart(browser: WebDriver, server: ServerProcess) -> None:
    url = url_of(server)
    alice = open_user(browser, url, "alice")
    bob = open_user(browser, url, "bob")
    carol = server.register("carol")

    alice.say("!msg bob for your eyes only")
    line = bob.wait_line("for your eyes only", ".private")
    assert line.endswith("[private] @alice: for your eyes only")
    assert not any("for your eyes only" in text for text in bob.lines(".line:not(.private)"))
    alice.wait(lambda _: alice.find("#status").text == "215 Sent to bob.", "alice's status line")
    assert alice.lines(".private.own") == [
        alice.lines(".private.own .time")[0] + "[private] → @bob: for your eyes only"
    ]
    assert carol.has_nothing_to_read()

    carol.send_line("@carol: !msg alice from the terminal")
    assert wait_for_line(carol, "215") == "215 Sent to alice."
    alice.wait_line("[private] @carol: from the terminal", ".private")

    # Clicking a member's name starts a private line to them.
    alice.find('#members .name[data-name="bob"]').click()
    assert alice.find("#input").get_attribute("value") == "!msg bob "
    # A reply that is an error is shown as one.
    alice.find("#input").clear()
    alice.say("!msg nobody hello")
    alice.wait(
        lambda _: alice.find("#status").get_attribute("data-kind") == "error", "a 404 on the status line"
    )
    assert alice.find("#status").text.startswith("404 ")


def test_reconnect_after_a_restart_with_history(
    browser: WebDriver, start_server: ServerFactory, tmp_path: Path
) -> None:
    db = str(tmp_path / "history.db")
    first = start_server("--web-port", "0", "--db", db)
    port, web = first.port, web_port(first)
    url = f"http://127.0.0.1:{web}/"
    alice = open_user(browser, url, "alice")
    alice.say("!join #dev")
    alice.wait(lambda _: alice.current_room() == "#dev", "alice in #dev")
    alice.say("said before the restart")
    alice.wait_line("said before the restart", ".own")

    first.stop()
    alice.wait(lambda _: alice.find("#conn").get_attribute("data-state") != "open", "the page sees the drop")
    second = start_server("--port", str(port), "--web-port", str(web), "--db", db, bare=True)
    assert web_port(second) == web

    # The page registers again as alice by itself, and enters #dev again.
    alice.wait(lambda _: alice.find("#conn").get_attribute("data-state") == "open", "reconnected", 30)
    alice.wait(lambda _: alice.rooms() == ["#lobby", "#dev"] and alice.current_room() == "#dev", "#dev again")
    alice.wait_line("Reconnected as alice", ".notice")
    # The replay does not repeat what the page shows already.
    assert sum("said before the restart" in line for line in alice.lines()) == 1

    carol = second.register("carol")
    carol.send_line("@carol: !join #dev")
    assert wait_for_line(carol, "210").startswith("210 You are now in #dev (2 members)")
    carol.send_line("@carol: welcome back")
    alice.wait_line("@carol: welcome back", ".msg")
    alice.say("thanks")
    assert wait_for_line(carol, "thanks") == "@alice: thanks"

    # A new user of the restarted server sees the history, with its time.
    bob = open_user(browser, url, "bob")
    bob.type_into("#join", "#dev")
    line = bob.wait_line("said before the restart", ".history")
    assert line.endswith("@alice: said before the restart")
    stamp = bob.find(".pane:not([hidden]) .history").get_attribute("data-time") or ""
    assert stamp.endswith("Z") and "T" in stamp
    bob.wait_line("earlier lines", ".history-end")


def test_markup_in_a_message_is_shown_as_text(browser: WebDriver, server: ServerProcess) -> None:
    url = url_of(server)
    alice = open_user(browser, url, "alice")
    bob = open_user(browser, url, "bob")
    carol = server.register("carol")
    nasty = '<b>bold</b> <img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>'

    alice.say(nasty)
    assert bob.wait_line("bold", ".msg").endswith("@alice: " + nasty)
    assert wait_for_line(carol, "bold") == "@alice: " + nasty
    carol.send_line("@carol: " + nasty.replace("pwned", "pwned3"))
    alice.wait_line("pwned3", ".msg")
    alice.say("!msg bob " + nasty)
    bob.wait_line("pwned", ".private")
    for page in (alice, bob):
        assert page.find_all("#log b, #log img, #log script") == []
        assert page.focus().execute_script("return window.pwned || window.pwned3 || null") is None
        assert page_errors(page) == []


def test_a_taken_name_brings_the_form_back(browser: WebDriver, server: ServerProcess) -> None:
    server.register("alice")
    page = Page.open(browser, url_of(server), new_tab=False)
    page.type_into("#name", "alice")
    page.wait(lambda _: "already registered" in page.find("#login-error").text, "the refusal shown")
    assert page.find("#login").is_displayed() and not page.find("#chat").is_displayed()
    field = page.find("#name")
    field.clear()
    page.type_into("#name", "alice2")
    page.wait(lambda _: page.find("#chat").is_displayed(), "alice2 registered", BROWSER_DEADLINE_S)


def test_readable_on_a_phone(browser: WebDriver, server: ServerProcess) -> None:
    """A 390 px wide screen: nothing wider than the screen, the rooms above the conversation."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 780, "deviceScaleFactor": 2, "mobile": True},
    )
    try:
        page = Page.open(browser, url_of(server), new_tab=False)
        assert (
            page.find('meta[name="viewport"]').get_attribute("content")
            == "width=device-width, initial-scale=1"
        )
        page.login("alice")
        page.say("a long line that has to wrap on a narrow screen rather than widen the page " * 3)
        page.wait_line("narrow screen", ".own")
        width, screen = page.focus().execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert width <= screen == 390
        rooms, talk = page.find("#rooms"), page.find("#input")
        assert rooms.rect["y"] < talk.rect["y"] and talk.rect["x"] + talk.rect["width"] <= 390
        assert talk.is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_over_https_the_page_speaks_wss(
    browser: WebDriver, start_server: ServerFactory, tmp_path: Path
) -> None:
    certs = make_certs(tmp_path)
    server = start_server("--web-port", "0", *certs.server_args())
    alice = open_user(browser, f"https://127.0.0.1:{web_port(server)}/", "alice")
    assert alice.focus().execute_script("return location.protocol") == "https:"
    carol = server.register("carol")
    carol.send_line("@carol: hello over wss")
    alice.wait_line("@carol: hello over wss", ".msg")
    alice.say("and back")
    assert wait_for_line(carol, "and back") == "@alice: and back"
    assert page_errors(alice) == []


def test_a_protected_name_logs_in_with_its_password(browser: WebDriver, server: ServerProcess) -> None:
    owner = server.connect()
    owner.send_line("REGISTER dana CHAT/1.1 password=aHVudGVyIDI= claim=yes")  # 'hunter 2'
    assert owner.recv_line() == b"200 Registration successful"
    owner.close()

    page = Page.open(browser, url_of(server), new_tab=False)
    page.find("#password").send_keys("hunter 3")
    page.type_into("#name", "dana")
    page.wait(lambda _: "Wrong password" in page.find("#login-error").text, "the wrong password refused")
    page.find("#password").clear()
    page.find("#password").send_keys("hunter 2")
    page.type_into("#name", "")  # Enter again, the name still typed
    page.wait(lambda _: page.find("#chat").is_displayed(), "dana registered with her password")
    page.wait_connected()
    assert page.find("#password").get_attribute("value") == ""
