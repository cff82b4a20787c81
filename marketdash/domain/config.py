"""Settings from environment variables and `.streamlit/secrets.toml` (SPEC.md, "Configuration"), in one place.

Environment variables win over secrets.toml. Secrets are wrapped so that no repr, log line or exception shows them.
Who may open the dashboard (`[auth]` and `[access]` in secrets.toml) is read here too, without Streamlit.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from collections.abc import Iterable, Mapping
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


def secrets_candidates() -> list[Path]:
    """Where secrets.toml is looked for: the working directory's, else the repo's."""
    return [Path.cwd() / ".streamlit" / "secrets.toml", ROOT / ".streamlit" / "secrets.toml"]


def load_settings(env: Mapping[str, str] | None = None, secrets_path: Path | None = None) -> Settings:
    """Build Settings from the environment, then `.streamlit/secrets.toml` (in the working directory, else the repo)."""
    env = os.environ if env is None else env
    if secrets_path is None:
        candidates = secrets_candidates()
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


# -- who may open the dashboard (issue 31) ------------------------------------------------------------------------
OWNER, VIEWER = "owner", "viewer"  # owners may do everything; viewers read (charts, tables, CSVs, portfolios)
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")  # what Streamlit's st.login needs of each
MIN_COOKIE_SECRET = 32  # characters: the key that signs the login cookie (`secrets.token_hex(32)` gives 64)


@dataclass(frozen=True)
class Access:
    """Who may open the dashboard. Without `[auth]` nobody logs in and only this computer is served; with it,
    everyone logs in (this computer too: behind a reverse proxy every visitor looks local) and the `[access]` lists
    say who is an owner and who a viewer. `problem`: a login set up halfway, which lets nobody in."""

    login: bool = False
    providers: tuple[str, ...] = ()  # "default" (client_id directly under [auth]) or the [auth.NAME] sections
    owners: frozenset[str] = frozenset()
    viewers: frozenset[str] = frozenset()
    problem: Msg | None = None

    def role(self, claims: Mapping[str, object]) -> str | None:
        """OWNER, VIEWER or None (not on the lists), by the ID token's `email` claim, compared case-insensitively.
        An address the provider itself marks unverified (`email_verified` false) counts for nobody."""
        email = str(claims.get("email") or "").strip().lower()
        if not email or str(claims.get("email_verified", True)).lower() == "false":
            return None
        if email in self.owners:
            return OWNER
        return VIEWER if email in self.viewers else None


def _emails(value: object, where: str) -> frozenset[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(msg("auth.bad_list", setting=where))
    return frozenset(v.strip().lower() for v in value if v.strip())


def _login_problem(auth: Mapping[str, object]) -> tuple[tuple[str, ...], Msg | None]:
    """The providers of an [auth] section, and what it lacks (named by setting, never by value)."""
    sections = {k: v for k, v in auth.items() if isinstance(v, Mapping) and any(p in v for p in PROVIDER_KEYS)}
    if any(p in auth for p in PROVIDER_KEYS):
        sections = {"default": auth, **sections}
    for key in ("redirect_uri", "cookie_secret"):
        if not str(auth.get(key) or "").strip():
            return tuple(sections), msg("auth.missing", setting=f"[auth] {key}")
    if not str(auth["redirect_uri"]).rstrip("/").endswith("/oauth2callback"):
        return tuple(sections), msg("auth.redirect")
    if len(str(auth["cookie_secret"])) < MIN_COOKIE_SECRET:
        return tuple(sections), msg("auth.short_secret", n=MIN_COOKIE_SECRET)
    if not sections:
        return (), msg("auth.no_provider")
    for name, section in sections.items():
        where = "[auth]" if name == "default" else f"[auth.{name}]"
        if "_" in name:  # Streamlit refuses such a provider name
            return tuple(sections), msg("auth.provider_name", setting=where)
        for key in PROVIDER_KEYS:
            if not str(section.get(key) or "").strip():
                return tuple(sections), msg("auth.missing", setting=f"{where} {key}")
    return tuple(sections), None


def access_from(secrets: Mapping[str, object]) -> Access:
    """Access from the secrets' contents (`st.secrets` or a parsed secrets.toml): `[auth]` as Streamlit's login
    reads it, and `[access] owners = [...]`, `viewers = [...]` (email addresses)."""
    auth = secrets.get("auth")
    if auth is None:
        return Access()
    if not isinstance(auth, Mapping):
        return Access(login=True, problem=msg("auth.missing", setting="[auth] redirect_uri"))
    providers, problem = _login_problem(auth)
    lists = secrets.get("access", {})
    try:
        if not isinstance(lists, Mapping):
            raise ConfigError(msg("auth.bad_list", setting="[access]"))
        owners = _emails(lists.get("owners", []), "[access] owners")
        viewers = _emails(lists.get("viewers", []), "[access] viewers") - owners
    except ConfigError as exc:
        return Access(login=True, providers=providers, problem=problem or exc.msg)
    if problem is None and not owners:
        problem = msg("auth.no_owner")
    return Access(login=True, providers=providers, owners=owners, viewers=viewers, problem=problem)


def is_loopback(address: str | None) -> bool:
    """A visitor on this computer: 127.0.0.0/8, ::1 (or an IPv4-mapped loopback), or no address at all, which is
    how Streamlit reports 127.0.0.1 and ::1 (`st.context.ip_address`). Anything else came over the network."""
    if address is None:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def secret_files(settings: Settings) -> list[Path]:
    """The files that hold a secret: every secrets.toml Streamlit or the command line reads, and the KIS token
    cache."""
    return [*secrets_candidates(), Path.home() / ".streamlit" / "secrets.toml", settings.kis_token_cache]


def too_open(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """Those of `paths` that other users of this machine may open (any group or other permission bit), each with
    its mode, as ssh names a key file whose "permissions are too open". Windows has no such bits."""
    if os.name == "nt":
        return []
    found: dict[Path, int] = {}
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077 and path.resolve() not in {p.resolve() for p in found}:
            found[path] = mode
    return list(found.items())
