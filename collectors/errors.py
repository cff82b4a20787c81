"""Typed collector failures. Each carries its sentence as a Msg (a catalog key and parameters), so a page shows it
in the reader's language; str() is the English sentence for the command line and logs. None holds a secret."""

from __future__ import annotations

from marketdash.domain.i18n import Msg


def source_name(service: str) -> Msg:
    """A source's name in the reader's language ("KIS" -> 한국투자증권 KIS, "Upbit" -> 업비트)."""
    return Msg(f"source.{service.lower()}")


class CollectorError(Exception):
    """A fetch failed for a reason the user can understand; `code` is the source's own code when it sent one."""

    kind = "error"

    def __init__(self, message: Msg | str, *, code: str | None = None, retry_after: float | None = None) -> None:
        self.msg = message if isinstance(message, Msg) else Msg("plain", {"text": message})
        super().__init__(str(self.msg))
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


class RealAccountOnlyError(SubscriptionError):
    """KIS serves this only to real-account keys (its dividend records): a paper key, or the paper host."""

    kind = "real only"


class NoDataError(CollectorError):
    """No rows at all for a range that should have some: a wrong code, or a range before the history starts."""

    kind = "no data"


class BadResponseError(CollectorError):
    """A body we cannot read: HTML instead of JSON, missing fields, malformed numbers."""

    kind = "bad response"


class NetworkError(CollectorError):
    """The host could not be reached or did not answer in time."""

    kind = "network"
