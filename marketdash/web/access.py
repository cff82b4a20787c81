"""Who may see the dashboard and who may change it (issue 31): one gate that every page passes through
(`ui.setup_page`), and one answer, `can_write()`, that every write action asks.

With no login set up, only this computer is served, as the single user always had it; another address gets one
sentence and nothing else. Once `[auth]` is set in secrets.toml, everyone logs in (this computer too: behind a
reverse proxy every visitor looks local) with Streamlit's own OpenID Connect login, and the `[access]` lists make
each address an owner, a viewer or a stranger (marketdash/domain/config.py reads them, without Streamlit).
"""

from __future__ import annotations

import importlib.util

import streamlit as st

from marketdash.domain import config, i18n
from marketdash.domain.config import OWNER, Access
from marketdash.domain.i18n import Translator, msg


def policy() -> Access:
    """The access rules from the secrets Streamlit's login reads (`secrets.files`: the project's and the user's
    `.streamlit/secrets.toml`). A file Streamlit cannot parse counts as none: this computer only."""
    access = config.access_from(st.secrets.to_dict() if st.secrets.load_if_toml_exists() else {})
    if access.login and access.problem is None and importlib.util.find_spec("authlib") is None:
        return Access(login=True, providers=access.providers, problem=msg("auth.no_authlib"))
    return access


def role(access: Access | None = None) -> str | None:
    """This visitor's role now: without a login, OWNER on this computer and None elsewhere; with one, by the
    logged-in address and the lists (None: not logged in, not on the lists, or a login set up halfway)."""
    access = access or policy()
    if access.problem is not None:
        return None
    if not access.login:
        address = st.context.ip_address  # None for 127.0.0.1 and ::1; AppTest's stand-in runtime gives no string
        return OWNER if config.is_loopback(address if isinstance(address, str) else None) else None
    return access.role(st.user.to_dict()) if st.user.get("is_logged_in") else None


def can_write() -> bool:
    """May this visitor spend the owner's quota or change the store (update, the saved symbol list, the backup,
    the symbol-list download)? Asked afresh by each write action, callbacks included."""
    return role() == OWNER


def gate(t: Translator) -> str:
    """Every page's door: the visitor's role, or the page stops after one sentence (and the login or log-out
    button it needs), before any price, chart or action is drawn."""
    access = policy()
    granted = role(access)
    if granted is not None:
        return granted
    if access.problem is not None:
        st.error(t("auth.closed", detail=access.problem), icon=":material/lock:")
    elif not access.login:
        st.info(t("auth.local_only"), icon=":material/lock:")
    elif not st.user.get("is_logged_in"):
        st.title(t("app.name"))
        st.write(t("auth.login_intro"))
        for provider in access.providers:
            label = t("auth.login") if provider == "default" else t("auth.login_with", provider=_label(t, provider))
            st.button(label, key=f"login-{provider}", on_click=st.login, args=(provider,), type="primary",
                      icon=":material/login:")  # fmt: skip
    else:
        st.warning(t("auth.not_on_list", email=str(st.user.get("email") or "?")), icon=":material/block:")
        _logout_button(t)
    st.stop()
    raise AssertionError("unreachable: st.stop() raises")


def _label(t: Translator, provider: str) -> str:
    """A provider's name on its button: Google and Kakao in the reader's language, any other as the owner wrote it
    in secrets.toml ([auth.NAME])."""
    key = f"auth.name_{provider.lower()}"
    return t(key) if key in i18n.messages(t.lang) else provider


def _logout_button(t: Translator) -> None:
    if st.button(t("auth.logout"), key="logout", icon=":material/logout:"):
        st.logout()


def sidebar(t: Translator, granted: str) -> None:
    """Who is logged in, in what role, and the log-out button (nothing when nobody logs in)."""
    if not (policy().login and st.user.get("is_logged_in")):
        return
    st.caption(t("auth.signed_in", email=str(st.user.get("email") or ""), role=msg(f"auth.role_{granted}")))
    _logout_button(t)
