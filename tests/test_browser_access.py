"""The login in Chromium against a real OpenID Connect provider on 127.0.0.1 (oidc-provider-mock: discovery, the
authorization form, signed ID tokens, end-session), with the secrets.toml the README documents; and the dashboard
reached from an address that is not this computer's loopback (issue 31).

The outside visitor: the app listens on every interface and Chromium opens it at this machine's own non-loopback
address (the one a neighbour on the same network would type). The kernel then gives the connection that address
as its source, so Streamlit sees a network peer, not 127.0.0.1. A second loopback address such as 127.0.0.2 would
not do: it is still this computer (and counts as such here, though Streamlit's ip_address reports it as remote).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import werkzeug.serving
from oidc_provider_mock import app as oidc_app
from playwright.sync_api import Page, sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, full_screenshot, outside_address, streamlit_app, wait_rendered
from tests.conftest import ROOT
from tests.upbit_server import UpbitServer

pytestmark = pytest.mark.browser
SHOTS = ROOT / "artifacts" / "screenshots"
CHART = "[data-testid=stPlotlyChart] .main-svg"

if CHROMIUM is None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise RuntimeError("REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)")
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)


@contextmanager
def oidc_provider() -> Iterator[str]:
    """A real OpenID Connect provider on 127.0.0.1; yields its issuer URL. Its authorization form takes any
    subject and answers with an ID token whose `email` claim is that subject."""
    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def write_secrets(path: Path, issuer: str) -> Path:
    """secrets.toml as the README's "Sharing the dashboard" writes it, pointed at the local provider; `{port}` is
    Streamlit's own placeholder for the port the app serves."""
    path.write_text(
        f"""[auth]
redirect_uri = "http://localhost:{{port}}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "marketdash"
client_secret = "{secrets.token_urlsafe(16)}"
server_metadata_url = "{issuer}/.well-known/openid-configuration"

[access]
owners = ["Owner@Example.com"]
viewers = ["viewer@example.com"]
""",
        encoding="utf-8",
    )
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def shared(tmp_path) -> Iterator[tuple[str, Path]]:
    """The app with a login set up: (its address as the redirect URI names it, the app's log). Upbit's local
    server makes Bitcoin live, so the owner's update has something to fetch."""
    today = dt.date.today()
    upbit = UpbitServer(first_day=today - dt.timedelta(days=400), last_day=today).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "UPBIT_", "BITHUMB_", "DASHBOARD_"))}
    env.update(UPBIT_BASE_URL=upbit.url, BITHUMB_BASE_URL="http://127.0.0.1:9", KIS_MASTER_URL="http://127.0.0.1:9",
               MARKET_DB=str(tmp_path / "market.duckdb"), KIS_TOKEN_CACHE=str(tmp_path / "token.json"))  # fmt: skip
    log = tmp_path / "streamlit.log"
    try:
        with oidc_provider() as issuer:
            secrets_file = write_secrets(tmp_path / "secrets.toml", issuer)
            with streamlit_app(env, log=log, secrets_files=str(secrets_file)) as url:
                yield url.replace("127.0.0.1", "localhost"), log
    finally:
        upbit.stop()


@contextmanager
def chromium(lang: str = "en-US") -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 860}, locale=lang)
        finally:
            browser.close()


def log_in(page: Page, url: str, email: str) -> None:
    """Open the app, press its login button, and sign in at the provider as `email`."""
    page.goto(url)
    wait_rendered(page, "[data-testid=stButton] button")
    assert page.locator("[data-testid=stPlotlyChart], [data-testid=stMetric]").count() == 0
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/oauth2/authorize**")
    page.fill("input[name=sub]", email)
    page.click("button[type=submit]:has-text('Authorize')")
    page.wait_for_url(f"{url}/**")
    wait_rendered(page, None)


def sidebar_text(page: Page) -> str:
    return page.locator("[data-testid=stSidebar]").inner_text()


def test_an_owner_logs_in_updates_and_logs_out(shared):
    url, log = shared
    with chromium() as page:
        log_in(page, url, "owner@example.com")  # the list says Owner@Example.com: compared case-insensitively
        wait_rendered(page, CHART)
        assert "owner@example.com (owner)" in sidebar_text(page)
        page.goto(f"{url}/data?lang=en")
        wait_rendered(page, "[data-testid=stButton] button:has-text('Update now')")
        page.get_by_role("button", name="Update now").click()
        page.wait_for_selector("[data-testid=stExpander] summary:has-text('Updated Bitcoin')", timeout=90_000)
        assert "new bars, stored through" in page.locator("[data-testid=stExpander]").first.inner_text()
        full_screenshot(page, SHOTS / "access-owner-data-en.png")
        page.locator("[data-testid=stSidebar]").get_by_role("button", name="Log out").click()
        page.wait_for_url("**/oauth2/end_session**")  # the provider's own end of the session, then back
        page.click("button:has-text('End session')")
        page.wait_for_url(f"{url}/**")
        wait_rendered(page, "[data-testid=stButton] button")
        assert page.get_by_role("button", name="Log in").is_visible()
        assert page.locator("[data-testid=stPlotlyChart], [data-testid=stMetric], [data-testid=stSidebar]").count() == 0
    said = log.read_text(encoding="utf-8")
    assert "client_secret" not in said and "cookie_secret" not in said


def test_a_viewer_sees_charts_and_no_write_action(shared):
    url, _ = shared
    with chromium("ko-KR") as page:
        page.goto(url)
        wait_rendered(page, "[data-testid=stButton] button")
        full_screenshot(page, SHOTS / "access-login-ko.png")
        page.get_by_role("button", name="로그인").click()
        page.wait_for_url("**/oauth2/authorize**")
        page.fill("input[name=sub]", "viewer@example.com")
        page.click("button[type=submit]:has-text('Authorize')")
        page.wait_for_url(f"{url}/**")
        wait_rendered(page, CHART)
        assert page.locator("[data-testid=stMetric]").count() >= 7
        assert "viewer@example.com 로그인 중 (보기 전용)" in sidebar_text(page)
        full_screenshot(page, SHOTS / "access-viewer-overview-ko.png")
        page.goto(f"{url}/data?lang=ko")
        wait_rendered(page, CHART)
        body = page.locator("[data-testid=stMain]").inner_text()
        assert "보기 전용입니다" in body
        for label in ("지금 업데이트", "종목 목록", "저장소 전체"):
            assert page.locator(f"[data-testid=stMain] button:has-text('{label}')").count() == 0, label
        assert page.locator("[data-testid=stDownloadButton]").count() >= 3  # the CSVs stay
        full_screenshot(page, SHOTS / "access-viewer-data-ko.png")
        page.goto(f"{url}/portfolio?lang=ko")
        wait_rendered(page, CHART)


def test_a_stranger_is_refused(shared):
    url, _ = shared
    with chromium() as page:
        log_in(page, url, "stranger@example.com")
        page.wait_for_selector("[data-testid=stAlertContentWarning]")
        assert "stranger@example.com is not among the people" in page.inner_text("body")
        assert page.locator("[data-testid=stPlotlyChart], [data-testid=stMetric], [data-testid=stSidebar]").count() == 0
        assert page.locator("[data-testid=stMain] button").count() == 1
        assert page.get_by_role("button", name="Log out").is_visible()
        full_screenshot(page, SHOTS / "access-stranger-en.png")
        page.goto(f"{url}/data")
        wait_rendered(page, "[data-testid=stAlertContentWarning]")
        assert page.locator("[data-testid=stDataFrame], [data-testid=stDownloadButton]").count() == 0


@pytest.mark.parametrize("lang", ["ko-KR", "en-US"])
def test_an_outside_address_with_no_login_sees_one_sentence_and_no_data(tmp_path, lang):
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to come from")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "UPBIT_", "BITHUMB_", "DASHBOARD_"))}
    env.update(DASHBOARD_OFFLINE="1", MARKET_DB=str(tmp_path / "market.duckdb"))
    nothing = str(tmp_path / "no-secrets.toml")  # no login set up, whatever this checkout's secrets.toml says
    with streamlit_app(env, address="0.0.0.0", secrets_files=nothing) as url, chromium(lang) as page:
        port = url.rsplit(":", 1)[1]
        page.goto(f"http://127.0.0.1:{port}/")  # this computer: the dashboard as always
        wait_rendered(page, CHART)
        for path in ("", "data", "compare?assets=samsung,btc", "portfolio", "asset?id=btc"):
            page.goto(f"http://{address}:{port}/{path}")
            wait_rendered(page, "[data-testid=stAlertContentInfo]")
            page.wait_for_timeout(500)
            text = page.locator("[data-testid=stMain]").inner_text()
            sentence = "이 컴퓨터에서만" if lang == "ko-KR" else "serves only the computer it runs on"
            assert sentence in text, (path, text)
            shown = "[data-testid=stPlotlyChart], [data-testid=stMetric], [data-testid=stDataFrame], " \
                    "[data-testid=stMain] button, [data-testid=stDownloadButton], [data-testid=stSidebar]"  # fmt: skip
            assert page.locator(shown).count() == 0, path
        full_screenshot(page, SHOTS / f"access-outside-{lang[:2]}.png")
