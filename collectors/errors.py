"""Typed collector failures. Each str() is a plain sentence a user can act on and never holds a secret."""

from __future__ import annotations


class CollectorError(Exception):
    """A fetch failed for a reason the user can understand; `code` is the source's own code when it sent one."""

    kind = "error"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class AuthError(CollectorError):
    """Credentials refused, token not issued, or a paper key on the real host."""

    kind = "credentials"


class RateLimitedError(CollectorError):
    """The source kept answering 'too many requests' after our bounded retries."""

    kind = "rate limited"


class BlockedError(CollectorError):
    """The source blocked us for a while (Upbit 418); `retry_after` says how long when it told us."""

    kind = "blocked"


class SubscriptionError(CollectorError):
    """The account lacks the quote subscription or the service is not offered on this host."""

    kind = "not subscribed"


class NoDataError(CollectorError):
    """No rows at all for a range that should have some: a wrong code, or a range before the history starts."""

    kind = "no data"


class BadResponseError(CollectorError):
    """A body we cannot read: HTML instead of JSON, missing fields, malformed numbers."""

    kind = "bad response"


class NetworkError(CollectorError):
    """The host could not be reached or did not answer in time."""

    kind = "network"
