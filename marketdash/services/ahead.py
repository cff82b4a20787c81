"""Work a command starts before its own imports (marketdash/cli/__init__.py): KIS's token, asked for from a thread
while pandas, DuckDB and the rest load. Imports only what that request needs (settings, the token manager,
requests), so the request leaves about 0.2 s after the process starts."""

from __future__ import annotations

import logging
import threading

from collectors.kis_auth import KisAuth, token_client
from marketdash.domain import catalog
from marketdash.domain.config import ConfigError, load_settings

log = logging.getLogger(__name__)
JOIN_FOR = 5.0  # seconds a command's end waits for a token request still under way (its token is then cached)


def kis_token(asset_ids: str | None) -> threading.Thread | None:
    """Start reading (or issuing, at most once a minute as always) the KIS token the command will need: only with
    keys, online, and when the ids asked for (None: the default ones, which include KIS's) include a KIS asset.
    Anything unexpected is left for the command itself, which does the same and says what went wrong."""
    try:
        settings = load_settings()
        wanted = [catalog.find(a.strip()) for a in asset_ids.split(",")] if asset_ids else None
    except (ConfigError, ValueError):
        return None
    if settings.offline or not settings.has_kis or (wanted and not any(a and a.source == "kis" for a in wanted)):
        return None
    auth = KisAuth(token_client(settings.kis_base_url), settings.kis_app_key, settings.kis_app_secret,
                   settings.kis_token_cache)  # fmt: skip

    def ask() -> None:
        try:
            auth.token()
        except Exception as exc:  # a refused key is recorded in the cache; the command says it in one sentence
            log.debug("early KIS token request: %s", type(exc).__name__)

    thread = threading.Thread(target=ask, name="kis-token", daemon=True)
    thread.start()
    return thread
