"""KIS access tokens: issued rarely, cached on disk (mode 0600), shared by threads and processes.

KIS allows one issuance per minute per app key (EGW00133 otherwise) and sends the account holder a KakaoTalk
message for each one. So a token is issued only when the cache holds no usable one for this app key and host,
never twice within a minute (the last issuance time is in the cache, shared through a file lock), and reused until
shortly before `access_token_token_expired` (KST), which we trust over `expires_in`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from filelock import FileLock

from collectors.errors import AuthError, BadResponseError
from collectors.http import HttpClient
from marketdash.domain.config import Secret
from marketdash.domain.i18n import Msg, Said, msg

log = logging.getLogger(__name__)

KST = ZoneInfo("Asia/Seoul")
TOKEN_PATH = "/oauth2/tokenP"
MIN_ISSUE_INTERVAL = 60.0  # seconds: KIS's one-token-per-minute rule
RENEW_BEFORE = dt.timedelta(minutes=10)  # stop using a token this long before it expires


@dataclass(frozen=True)
class CachedToken:
    access_token: str
    expires_at: dt.datetime  # aware

    def __repr__(self) -> str:
        return f"CachedToken('***', expires_at={self.expires_at.isoformat()})"

    def usable(self, now: dt.datetime) -> bool:
        return now < self.expires_at - RENEW_BEFORE


def parse_expiry(body: dict, now: dt.datetime) -> dt.datetime:
    """`access_token_token_expired` ("YYYY-MM-DD HH:MM:SS", KST) when present, else now + expires_in."""
    text = str(body.get("access_token_token_expired") or "").strip()
    if text:
        try:
            return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=KST)
        except ValueError:
            log.warning("unreadable access_token_token_expired %r; using expires_in", text[:25])
    try:
        return now + dt.timedelta(seconds=int(body.get("expires_in", 0)))
    except (TypeError, ValueError):
        raise BadResponseError(msg("err.kis_token_expiry")) from None


def key_slot(base_url: str, app_key: Secret) -> str:
    """The cache entry of one app key on one host (real and paper keys and tokens differ), not the key itself."""
    return hashlib.sha256(f"{base_url.rstrip('/')}|{app_key.reveal()}".encode()).hexdigest()[:16]


def cache_lock(cache_path: Path) -> FileLock:
    """The lock every process takes around the token cache and the rate budget beside it (collectors/limiter.py).

    Only the file lock is shared: the rate budget takes it on every call, so it polls every 2 ms, not 50.
    """
    return FileLock(str(cache_path) + ".lock", timeout=300, poll_interval=0.002)


def token_client(base_url: str, **http_options) -> HttpClient:
    """The token endpoint's own client: it has its own rule (one a minute) and is not a data call, so it stays out of
    the key's rate budget, whose estimate of the limit counts the calls sent in the second before a refusal."""
    return HttpClient(base_url, service="KIS", max_rps=1.0, **{"backoff": 0.25, **http_options})


EGW00133_RETRY = (1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0, 15.0)  # another client took this minute's token: ask again


class KisAuth:
    def __init__(
        self,
        http: HttpClient,
        app_key: Secret,
        app_secret: Secret,
        cache_path: Path,
        *,
        min_issue_interval: float = MIN_ISSUE_INTERVAL,
        max_wait: float = 75.0,
        lock: FileLock | None = None,
    ) -> None:
        self.http = http
        self._app_key = app_key
        self._app_secret = app_secret
        self.cache_path = Path(cache_path)
        self.min_issue_interval = min_issue_interval
        self.max_wait = max_wait
        self.issued = 0  # issuances by this object: the tests count them
        self._slot = key_slot(http.base_url, app_key)
        self._thread_lock = threading.Lock()
        self._file_lock = lock or cache_lock(self.cache_path)

    def __repr__(self) -> str:
        return f"KisAuth(host={self.http.base_url!r}, app_key='***', cache={str(self.cache_path)!r})"

    def token(self) -> str:
        """A usable token: from the cache when it holds one, else newly issued (at most once a minute)."""
        return self._get(rejected=None)

    def renew(self, rejected: str) -> str:
        """KIS refused `rejected` (expired or invalid early): issue a new one, unless another thread or process
        already replaced it, in which case that one is returned."""
        return self._get(rejected=rejected)

    # -- cache file ----------------------------------------------------------------------------------------------
    def _read_cache(self) -> dict:
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _write_cache(self, data: dict) -> None:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_name(self.cache_path.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.cache_path)

    # -- issuance ------------------------------------------------------------------------------------------------
    def _get(self, rejected: str | None) -> str:
        """The cached token, or a new one at the first moment KIS's one-a-minute rule allows. The wait happens
        outside the locks, so the rate budget (same file lock) and other threads are never held up by it."""
        foreign_refusals = 0
        waited = 0.0
        while True:
            with self._thread_lock, self._file_lock:
                cache = self._read_cache()
                entry = cache.get(self._slot) or {}
                cached = self._cached(entry)
                if cached and cached.usable(dt.datetime.now(dt.UTC)) and cached.access_token != rejected:
                    return cached.access_token
                wait = float(entry.get("last_issue_at", 0.0)) + self.min_issue_interval - time.time()
                failed = entry.get("last_error")
                if wait > 0 and isinstance(failed, dict):
                    # The last issuance within the minute was refused (wrong secret, …): say so again at once rather
                    # than wait a minute to hear the same answer.
                    said = Msg.from_json(failed.get("message_key")) or msg(
                        "err.kis_token_other", code="?", said=Said("", "ko")
                    )
                    raise AuthError(said, code=str(failed.get("code", "")))
                if wait <= 0:
                    token = self._issue(entry, cache)
                    if token:
                        return token
                    # EGW00133 although our cache says the minute is over: another client took it. Ask again soon.
                    wait = EGW00133_RETRY[min(foreign_refusals, len(EGW00133_RETRY) - 1)]
                    foreign_refusals += 1
            if waited + wait > self.max_wait:
                raise AuthError(_token_error("EGW00133", ""), code="EGW00133")
            log.info("waiting %.1f s: KIS issues at most one token per minute", wait)
            time.sleep(wait)
            waited += wait

    def _cached(self, entry: dict) -> CachedToken | None:
        try:
            return CachedToken(entry["access_token"], dt.datetime.fromisoformat(entry["expires_at"]))
        except (KeyError, TypeError, ValueError):
            return None

    def _issue(self, entry: dict, cache: dict) -> str | None:
        """One issuance request; None when KIS answered EGW00133 (someone outside this cache took the minute)."""
        body = {
            "grant_type": "client_credentials",
            "appkey": self._app_key.reveal(),
            "appsecret": self._app_secret.reveal(),
        }
        previous = entry.get("last_issue_at")
        entry["last_issue_at"] = time.time()  # claims the minute for every process while the request is out
        cache[self._slot] = entry
        self._write_cache(cache)
        reply = self.http.request("POST", TOKEN_PATH, json=body, headers={"content-type": "application/json"})
        # KIS stamped the issuance somewhere between our send and this moment: counting the minute from now is the
        # earliest safe start of the next one.
        entry["last_issue_at"] = time.time()
        data = reply.json("KIS")
        if not isinstance(data, dict):
            raise BadResponseError(msg("err.kis_token_not_object"))
        if reply.status == 200 and data.get("access_token"):
            now = dt.datetime.now(dt.UTC)
            expires = parse_expiry(data, now)
            entry.update(access_token=data["access_token"], expires_at=expires.isoformat())
            entry.pop("last_error", None)
            cache[self._slot] = entry
            self._write_cache(cache)
            self.issued += 1
            log.info("issued a KIS token valid until %s", expires.astimezone(KST).strftime("%Y-%m-%d %H:%M KST"))
            return data["access_token"]
        code = str(data.get("error_code") or data.get("msg_cd") or reply.status)
        text = str(data.get("error_description") or data.get("msg1") or "")[:200]
        if code == "EGW00133":
            if previous is None:
                entry.pop("last_issue_at", None)
            else:
                entry["last_issue_at"] = previous  # a refusal is not an issuance
            cache[self._slot] = entry
            self._write_cache(cache)
            return None
        error = AuthError(_token_error(code, text), code=code)
        entry["last_error"] = {"code": code, "message_key": error.msg.to_json()}
        cache[self._slot] = entry
        self._write_cache(cache)
        raise error


def _token_error(code: str, text: str) -> Msg:
    said = Said(text, "ko", prefix=": ")
    if code == "EGW00133":
        return msg("err.kis_token_minute")
    if code == "EGW00105":
        return msg("err.kis_bad_secret")
    if code in ("EGW00103", "EGW00104"):
        return msg("err.kis_bad_key", code=code, said=Said(text, "ko", prefix=" "))
    return msg("err.kis_token_other", code=code, said=said)
