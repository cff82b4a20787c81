"""Who may open the dashboard and who may change it (issue 31): the rules read from secrets.toml without Streamlit,
the addresses that count as this computer, secret files others can open, and the pages' gate and write actions
(AppTest; the real login in Chromium is tests/test_browser_access.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from marketdash.domain import config
from marketdash.domain.config import OWNER, VIEWER, access_from, is_loopback, load_settings, too_open
from marketdash.domain.i18n import Translator
from marketdash.services.market import MarketService
from tests.browser import free_port, outside_address, wait_healthy
from tests.conftest import ROOT, run_cli

COOKIE_SECRET = "c0ffee" * 11  # 66 characters
CLIENT_SECRET = "do-not-show-this-client-secret"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": COOKIE_SECRET,
    "client_id": "dashboard",
    "client_secret": CLIENT_SECRET,
    "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
}
LISTS = {"owners": ["Me@Example.com"], "viewers": ["mom@example.com", " Study@Kakao.com "]}
EN = Translator("en")


# -- the rules, without Streamlit ---------------------------------------------------------------------------------
def test_no_auth_section_means_no_login():
    access = access_from({"kis": {"app_key": "k"}})
    assert not access.login and access.problem is None


def test_owners_and_viewers_by_email_case_insensitively():
    access = access_from({"auth": AUTH, "access": LISTS})
    assert access.login and access.problem is None and access.providers == ("default",)
    assert access.role({"email": "me@example.COM", "email_verified": True}) == OWNER
    assert access.role({"email": "MOM@example.com"}) == VIEWER  # Kakao's ID token carries no email_verified
    assert access.role({"email": "study@kakao.com"}) == VIEWER
    assert access.role({"email": "stranger@example.com"}) is None
    assert access.role({"sub": "12345"}) is None  # no email scope granted: nobody
    assert access.role({"email": "me@example.com", "email_verified": False}) is None
    assert access.role({"email": "me@example.com", "email_verified": "false"}) is None


def test_named_providers_are_found_and_an_owner_listed_as_viewer_stays_owner():
    google = {k: AUTH[k] for k in config.PROVIDER_KEYS}
    kakao = {**google, "server_metadata_url": "https://kauth.kakao.com/.well-known/openid-configuration"}
    auth = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": COOKIE_SECRET, "google": google, "kakao": kakao,
            "client_kwargs": {"prompt": "login"}}  # fmt: skip
    access = access_from({"auth": auth, "access": {"owners": "me@example.com", "viewers": ["ME@example.com"]}})
    assert access.problem is None and access.providers == ("google", "kakao")
    assert access.role({"email": "me@example.com"}) == OWNER and not access.viewers


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"auth": {**AUTH, "cookie_secret": ""}}, "[auth] cookie_secret"),
        ({"auth": {k: v for k, v in AUTH.items() if k != "redirect_uri"}}, "[auth] redirect_uri"),
        ({"auth": {**AUTH, "redirect_uri": "http://localhost:8501/"}}, "/oauth2callback"),
        ({"auth": {**AUTH, "cookie_secret": "short"}}, "shorter than 32"),
        ({"auth": {k: v for k, v in AUTH.items() if k not in config.PROVIDER_KEYS}}, "no login provider"),
        ({"auth": {**AUTH, "client_secret": ""}}, "[auth] client_secret"),
        ({"auth": {**AUTH, "my_idp": {"client_id": "x"}}}, "[auth.my_idp]"),
        ({"access": {"viewers": ["mom@example.com"]}}, "[access] owners names nobody"),
        ({"access": {"owners": [1, 2]}}, "[access] owners must be a list"),
        ({"access": ["me@example.com"]}, "[access] must be a list"),
    ],
)
def test_a_login_set_up_halfway_lets_nobody_in_and_names_the_setting_never_its_value(change, names):
    access = access_from({"auth": AUTH, "access": LISTS, **change})
    assert access.login and access.problem is not None
    said = EN.text(access.problem)
    assert names in said, said
    assert COOKIE_SECRET not in said and CLIENT_SECRET not in said
    assert "short" not in said.replace("shorter", "")  # the short secret itself is not repeated


@pytest.mark.parametrize(
    ("address", "local"),
    [(None, True), ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("::ffff:127.0.0.1", True),
     ("192.0.2.2", False), ("10.0.0.5", False), ("fd00::2", False), ("fe80::1%eth0", False), ("::ffff:10.0.0.5", False),
     ("not an address", False)],
)  # fmt: skip
def test_only_loopback_addresses_are_this_computer(address, local):
    assert is_loopback(address) is local


def test_secret_files_others_can_open_are_named_with_their_mode(tmp_path):
    secrets, token, other = tmp_path / "secrets.toml", tmp_path / "token.json", tmp_path / "other.toml"
    for path, mode in ((secrets, 0o644), (token, 0o600), (other, 0o640)):
        path.write_text("x", encoding="utf-8")
        os.chmod(path, mode)
    found = too_open([secrets, token, other, tmp_path / "missing.toml", secrets])
    assert found == [(secrets, 0o644), (other, 0o640)]
    settings = load_settings({"KIS_TOKEN_CACHE": str(token)}, tmp_path / "none.toml")
    assert token in config.secret_files(settings) and Path.cwd() / ".streamlit" / "secrets.toml" in config.secret_files(
        settings
    )


def test_the_command_line_names_a_secrets_file_others_can_read(tmp_path, subprocess_env):
    secrets = tmp_path / ".streamlit" / "secrets.toml"  # the working directory's (conftest chdirs to tmp_path)
    secrets.parent.mkdir()
    secrets.write_text('[kis]\napp_key = "PSsecretkey"\n', encoding="utf-8")
    os.chmod(secrets, 0o644)
    env = {**subprocess_env, "KIS_APP_KEY": "", "KIS_APP_SECRET": ""}
    said = run_cli(env, "status").stderr
    assert f"permissions 0644 for '{secrets}' are too open" in said and f"chmod 600 '{secrets}'" in said
    assert said.count(str(secrets)) == 2 and "PSsecretkey" not in said
    os.chmod(secrets, 0o600)
    assert str(secrets) not in run_cli(env, "status").stderr


def test_the_default_configuration_listens_on_loopback_only(tmp_path):
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert is_loopback(settings["server"]["address"])
    outside = outside_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback address to try")
    port = free_port()  # the README's command, nothing added but a free port: the project's config decides
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    env = {**os.environ, "DASHBOARD_OFFLINE": "1", "MARKET_DB": str(tmp_path / "m.duckdb")}
    app = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", app)
        with pytest.raises(OSError):  # refused: nothing listens on the machine's network address
            urllib.request.urlopen(f"http://{outside}:{port}/_stcore/health", timeout=2)
    finally:
        app.kill()
        app.wait(timeout=10)


# -- the pages (AppTest: this computer, with the login's user seeded) ---------------------------------------------
def _open(page: str, user: dict | None = None, secrets: dict | None = None, lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["lang"] = lang
    if secrets is not None:
        at.secrets.update(secrets)
    if user is not None:
        at.user = user
    if page != "app.py":
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "info", "warning", "error", "title")
    parts = [e.value for kind in kinds for e in getattr(at, kind)]
    return " ".join([*map(str, parts), *(b.label for b in at.button)])


def _buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button] + [d.proto.label for d in at.get("download_button")]


SHARED = {"auth": AUTH, "access": LISTS}
BACKUP = f"⬇ {EN('data.backup')}"


def test_nothing_changes_on_this_computer_without_a_login():
    at = _open("pages/4_data.py")
    labels = _buttons(at)
    assert "Update now" in labels and BACKUP in labels, labels
    assert "Log out" not in labels and "Logged in" not in _texts(at)


def test_a_viewer_reads_everything_and_is_offered_no_write_action():
    viewer = {"is_logged_in": True, "email": "Mom@Example.com"}
    overview = _open("app.py", viewer, SHARED)
    assert overview.get("plotly_chart") and overview.get("metric")
    assert "Logged in as Mom@Example.com (view only)" in _texts(overview)
    data = _open("pages/4_data.py", viewer, SHARED)
    labels = _buttons(data)
    assert "Update now" not in labels and "Download the symbol lists now" not in labels
    assert BACKUP not in labels
    assert any(b.startswith("⬇") for b in labels)  # the CSVs are still there
    assert "View only" in _texts(data) and "Log out" in labels
    # how to add KIS keys and where the owner's store file lies are the owner's business
    owners_words = (Translator("en")("data.no_keys"), "Store:", "KIS_APP_KEY")
    for page in (overview, data):
        assert not [w for w in owners_words if w in _texts(page)], [w for w in owners_words if w in _texts(page)]
    portfolio = _open("pages/6_portfolio.py", viewer, SHARED)
    assert portfolio.get("plotly_chart")


def test_the_owner_logged_in_has_every_action():
    data = _open("pages/4_data.py", {"is_logged_in": True, "email": "me@example.com"}, SHARED)
    labels = _buttons(data)
    assert "Update now" in labels and "Download the symbol lists now" in labels and BACKUP in labels
    assert "Logged in as me@example.com (owner)" in _texts(data)


def test_a_stranger_sees_one_sentence_and_a_log_out_button():
    at = _open("app.py", {"is_logged_in": True, "email": "stranger@example.com"}, SHARED)
    assert not at.get("plotly_chart") and not at.get("metric") and not at.get("dataframe")
    assert [b.label for b in at.button] == ["Log out"]
    assert len(at.warning) == 1 and "stranger@example.com is not among the people" in at.warning[0].value


def test_once_a_login_is_set_up_this_computer_logs_in_too():
    at = _open("pages/4_data.py", {}, SHARED, lang="ko")
    assert not at.get("plotly_chart") and not at.get("dataframe") and not at.sidebar.button
    assert [b.label for b in at.button] == ["로그인"]
    google = {k: AUTH[k] for k in config.PROVIDER_KEYS}
    named = {"auth": {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": COOKIE_SECRET, "google": google,
                      "kakao": google, "okta": google}, "access": LISTS}  # fmt: skip
    assert [b.label for b in _open("app.py", {}, named, lang="ko").button] == [
        "구글로 로그인", "카카오로 로그인", "okta로 로그인"]  # fmt: skip


def test_a_login_set_up_halfway_closes_the_dashboard_without_saying_a_secret():
    broken = {"auth": {**AUTH, "client_secret": ""}, "access": LISTS}
    at = _open("app.py", {"is_logged_in": True, "email": "me@example.com"}, broken)
    assert not at.get("plotly_chart") and len(at.error) == 1
    said = at.error[0].value
    assert "[auth] client_secret" in said and COOKIE_SECRET not in said


def test_a_viewers_added_symbol_stays_in_the_url_and_the_owners_is_saved(live_env, monkeypatch):
    MarketService(load_settings()).universe.refresh()  # the lists from the local master server, then offline
    monkeypatch.setenv("DASHBOARD_OFFLINE", "1")
    for user, saved in (({"is_logged_in": True, "email": "mom@example.com"}, []),
                        ({"is_logged_in": True, "email": "me@example.com"}, ["krx:005380"])):  # fmt: skip
        at = _open("pages/1_compare.py", user, SHARED)
        at.text_input(key="sym_q").input("현대차").run()
        at.button(key="sym_add_krx:005380").click().run()
        assert not at.exception
        assert "krx:005380" in str(at.query_params["assets"])
        assert MarketService(load_settings()).universe.user_assets() == saved
        assert ("sym_rm_krx:005380" in [b.key for b in at.button]) is bool(saved)


def test_the_readmes_secrets_example_is_a_complete_login_once_its_values_are_filled_in():
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("## Sharing the dashboard", 1)[1]
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    filled = example.replace('cookie_secret = "..."', f'cookie_secret = "{COOKIE_SECRET}"').replace('"..."', '"x"')
    access = access_from(tomllib.loads(filled))
    assert access.problem is None and access.providers == ("google", "kakao")
    assert access.role({"email": "ME@gmail.com"}) == OWNER and access.role({"email": "friend@kakao.com"}) == VIEWER
    assert tomllib.loads(filled)["auth"]["redirect_uri"] == "http://localhost:8501/oauth2callback"
    unfilled = access_from(tomllib.loads(example))  # the placeholder secret is refused
    assert unfilled.problem is not None and "cookie_secret" in EN.text(unfilled.problem)
