"""The HTTP layer every live source shares: one session, a throttle shared by threads, bounded retries with jitter.

Sources decide what a reply means (`retry_delay`); this module decides how to wait and when to give up. A retry
waits in its own thread: one call's bad luck (a gateway's 502) does not pause the calls of other threads; a source
that asks everyone to slow down says so to the throttle itself.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from collectors.errors import BadResponseError, NetworkError, source_name
from marketdash.domain.i18n import Msg, msg

log = logging.getLogger(__name__)


class Throttle:
    """Evenly spaced request slots at `rate` per second, shared by every thread that uses one client."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until this client's next slot; returns the send time (wall clock)."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)
        return time.time()

    def refused(self, sent_at: float) -> None:
        """The source said 'too many' to the call sent at `sent_at`: from now on ask half as often, never below
        once a second. (KIS's shared budget answers the same call by learning the key's limit.)"""
        with self._lock:
            self.interval = min(self.interval * 2, 1.0)

    def hold(self, seconds: float) -> None:
        """Push every later slot back by at least `seconds` (a source said: slow down)."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


class Pacer(Protocol):
    """A throttle: a send slot (Throttle here, a key's shared budget for KIS), and what to do when a source says
    a call was one too many."""

    def wait(self) -> float: ...

    def refused(self, sent_at: float) -> None: ...


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or None when the body was not JSON
    text: str  # the start of the raw body, for messages
    sent_at: float = 0.0  # wall-clock send time, as the throttle granted it
    content: bytes = b""  # the raw body when it was not JSON (a master file's zip)

    def json(self, service: str) -> Any:
        if self.body is None:
            snippet = " ".join(self.text.split())[:80]
            raise BadResponseError(msg("err.non_json", source=source_name(service), status=self.status, body=snippet))
        return self.body


RetryRule = Callable[[Reply], float | None]


class HttpClient:
    def __init__(
        self,
        base_url: str,
        *,
        service: str,
        max_rps: float,
        timeout: tuple[float, float] = (5.0, 20.0),
        max_attempts: int = 5,
        transport_attempts: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        session: requests.Session | None = None,
        throttle: Pacer | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.throttle = throttle or Throttle(max_rps)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.transport_attempts = min(transport_attempts, max_attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.session = session or requests.Session()

    def _delay(self, attempt: int, hint: float | None) -> float:
        exp = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        base = max(exp, hint or 0.0)
        return min(self.max_backoff, base) * (0.75 + random.random() / 2)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_delay: RetryRule | None = None,
    ) -> Reply:
        """Send with throttling; retry timeouts, dropped connections, non-JSON 5xx and what `retry_delay` flags.

        After the last attempt the last reply is returned for the caller to turn into an error; a transport failure
        on the last attempt raises NetworkError.
        """
        url = f"{self.base_url}{path}"
        host = urlsplit(self.base_url).netloc
        transport_failures = 0  # a host that does not answer at all gets fewer tries than one that answers badly
        name = source_name(self.service)
        problem: Msg
        for attempt in range(1, self.max_attempts + 1):
            sent_at = self.throttle.wait()
            try:
                resp = self.session.request(
                    method, url, params=params, json=json, headers=headers, timeout=self.timeout
                )
            except requests.Timeout:
                transport_failures += 1
                problem, hint = msg("err.timeout", source=name, seconds=f"{self.timeout[1]:g}"), None
            except requests.ConnectionError as exc:
                if "resolve" in str(exc).lower() or "name or service" in str(exc).lower():
                    raise NetworkError(msg("err.unreachable", source=name, host=host)) from None
                transport_failures += 1
                problem, hint = msg("err.no_connection", source=name, host=host), None
            else:
                reply = _reply(resp, sent_at)
                hint = retry_delay(reply) if retry_delay else None
                if hint is None and reply.body is None and reply.status >= 500:
                    hint = 0.0  # a gateway's HTML error page: transient
                if hint is None or attempt == self.max_attempts:
                    return reply
                problem = msg("err.http_status", source=name, status=reply.status)
            if attempt == self.max_attempts or transport_failures >= self.transport_attempts:
                raise NetworkError(msg("err.gave_up", problem=problem, attempts=attempt))
            delay = self._delay(attempt, hint)
            log.info("%s %s: %s; retry %d in %.2f s", self.service, path, problem, attempt, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")


def _reply(resp: requests.Response, sent_at: float) -> Reply:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if body is not None:
        return Reply(resp.status_code, resp.headers, body, "", sent_at)
    return Reply(resp.status_code, resp.headers, None, resp.text[:300], sent_at, resp.content)
