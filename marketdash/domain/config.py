"""Settings from environment variables and `.streamlit/secrets.toml` (SPEC.md, "Configuration"), in one place.

Environment variables win over secrets.toml. Secrets are wrapped so that no repr, log line or exception shows them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from marketdash.domain.i18n import Msg, Said, msg

ROOT = Path(__file__).resolve().parents[2]  # the checkout: marketdash/domain/config.py

KIS_HOSTS = {
    "real": "https://openapi.koreainvestment.com:9443",
    "paper": "https://openapivts.koreainvestment.com:29443",
}
KIS_DEFAULT_RPS = {"real": 20.0, "paper": 2.0}  # ceilings: the shared budget learns a lower limit (limiter.py)
UPBIT_DEFAULT_URL = "https://api.upbit.com"
KIS_MASTER_DEFAULT_URL = "https://new.real.download.dws.co.kr/common/master"  # public symbol lists, no key
BITHUMB_DEFAULT_URL = "https://api.bithumb.com"
DEFAULT_START = "2015-01-01"


class ConfigError(ValueError):
    """A setting with a value we cannot use; the message names the setting."""

    def __init__(self, message: Msg) -> None:
        super().__init__(str(message))
        self.msg = message


class Secret:
    """A credential that prints as a mask; `reveal()` is the only way to the text."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def mask(text: str, secrets: tuple[Secret | None, ...]) -> str:
    """Remove every secret's text from a message before it is shown or logged."""
    for secret in secrets:
        if secret is not None and secret.reveal():
            text = text.replace(secret.reveal(), "***")
    return text


def mask_msg(message: Msg, secrets: tuple[Secret | None, ...]) -> Msg:
    """The same, for every text inside a message."""
    return message.map_text(lambda text: mask(text, secrets))


@dataclass(frozen=True)
class Settings:
    kis_app_key: Secret | None = None
    kis_app_secret: Secret | None = None
    kis_env: str = "real"
    kis_base_url: str = KIS_HOSTS["real"]
    kis_max_rps: float = KIS_DEFAULT_RPS["real"]
    kis_token_cache: Path = ROOT / "data" / ".kis_token.json"
    upbit_base_url: str = UPBIT_DEFAULT_URL
    bithumb_base_url: str = BITHUMB_DEFAULT_URL
    kis_master_url: str = KIS_MASTER_DEFAULT_URL
    market_db: Path = ROOT / "data" / "market.duckdb"
    offline: bool = False
    quote_every: float = 30.0  # seconds between live quote polls while a shown market trades

    @property
    def has_kis(self) -> bool:
        return bool(self.kis_app_key and self.kis_app_secret)

    @property
    def sample_db(self) -> Path:
        """Sample bars live in their own file next to the store, never in the user's store."""
        return self.market_db.with_name("sample.duckdb")

    def secrets(self) -> tuple[Secret | None, ...]:
        return (self.kis_app_key, self.kis_app_secret)


def read_secrets_file(path: Path) -> dict[str, str]:
    """Flatten secrets.toml: `[kis] app_key` becomes KIS_APP_KEY; top-level KEY = value stays as is."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(msg("config.bad_toml", path=str(path), said=Said(str(exc), "en", prefix=": "))) from None
    flat: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                flat[f"{key}_{sub}".upper()] = str(subvalue)
        else:
            flat[key.upper()] = str(value)
    return flat


def load_settings(env: Mapping[str, str] | None = None, secrets_path: Path | None = None) -> Settings:
    """Build Settings from the environment, then `.streamlit/secrets.toml` (in the working directory, else the repo)."""
    env = os.environ if env is None else env
    if secrets_path is None:
        candidates = [
            Path.cwd() / ".streamlit" / "secrets.toml",
            ROOT / ".streamlit" / "secrets.toml",
        ]
        secrets_path = next((p for p in candidates if p.is_file()), candidates[0])
    values = {
        **read_secrets_file(secrets_path),
        **{k: v for k, v in env.items() if v != ""},
    }

    kis_env = values.get("KIS_ENV", "real").strip().lower()
    if kis_env not in KIS_HOSTS:
        raise ConfigError(msg("config.kis_env", value=repr(kis_env)))
    rps_text = values.get("KIS_MAX_RPS")
    try:
        rps = float(rps_text) if rps_text else KIS_DEFAULT_RPS[kis_env]
    except ValueError:
        raise ConfigError(msg("config.rps_not_number", value=repr(rps_text))) from None
    if not 0 < rps <= 20:
        raise ConfigError(msg("config.rps_range", value=f"{rps:g}"))

    every_text = values.get("QUOTE_EVERY", "30")
    try:
        quote_every = float(every_text)
    except ValueError:
        raise ConfigError(msg("config.every_not_number", value=repr(every_text))) from None
    if not 2 <= quote_every <= 3600:
        raise ConfigError(msg("config.every_range", value=f"{quote_every:g}"))

    def secret(name: str) -> Secret | None:
        text = values.get(name, "").strip()
        return Secret(text) if text else None

    def path(name: str, default: Path) -> Path:
        text = values.get(name)
        return Path(text).expanduser() if text else default

    return Settings(
        kis_app_key=secret("KIS_APP_KEY"),
        kis_app_secret=secret("KIS_APP_SECRET"),
        kis_env=kis_env,
        kis_base_url=values.get("KIS_BASE_URL", KIS_HOSTS[kis_env]).rstrip("/"),
        kis_max_rps=rps,
        kis_token_cache=path("KIS_TOKEN_CACHE", ROOT / "data" / ".kis_token.json"),
        upbit_base_url=values.get("UPBIT_BASE_URL", UPBIT_DEFAULT_URL).rstrip("/"),
        bithumb_base_url=values.get("BITHUMB_BASE_URL", BITHUMB_DEFAULT_URL).rstrip("/"),
        kis_master_url=values.get("KIS_MASTER_URL", KIS_MASTER_DEFAULT_URL).rstrip("/"),
        market_db=path("MARKET_DB", ROOT / "data" / "market.duckdb"),
        offline=values.get("DASHBOARD_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"},
        quote_every=quote_every,
    )
