from pathlib import Path

import pytest

from marketdash.domain.config import KIS_HOSTS, ConfigError, Secret, load_settings, mask


def test_defaults_without_anything(tmp_path):
    s = load_settings({}, tmp_path / "none.toml")
    assert not s.has_kis
    assert s.kis_env == "real" and s.kis_base_url == KIS_HOSTS["real"] and s.kis_max_rps == 20
    assert s.upbit_base_url == "https://api.upbit.com"
    assert s.market_db.name == "market.duckdb" and s.sample_db.name == "sample.duckdb"
    assert not s.offline


def test_paper_env_picks_host_and_rate(tmp_path):
    s = load_settings({"KIS_ENV": "paper"}, tmp_path / "none.toml")
    assert s.kis_base_url == KIS_HOSTS["paper"] and s.kis_max_rps == 2


def test_secrets_toml_section_and_env_precedence(tmp_path: Path):
    path = tmp_path / "secrets.toml"
    path.write_text('KIS_ENV = "paper"\n[kis]\napp_key = "from-file"\napp_secret = "file-secret"\n', encoding="utf-8")
    s = load_settings({"KIS_APP_KEY": "from-env"}, path)
    assert s.kis_app_key.reveal() == "from-env"
    assert s.kis_app_secret.reveal() == "file-secret"
    assert s.kis_env == "paper"


@pytest.mark.parametrize(
    ("env", "message"),
    [({"KIS_ENV": "prod"}, "KIS_ENV"), ({"KIS_MAX_RPS": "fast"}, "KIS_MAX_RPS"), ({"KIS_MAX_RPS": "50"}, "at most 20")],
)
def test_bad_values_name_the_setting(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env, tmp_path / "none.toml")


def test_secrets_never_print(tmp_path):
    s = load_settings({"KIS_APP_KEY": "PSabcdefKEY", "KIS_APP_SECRET": "topsecretvalue"}, tmp_path / "none.toml")
    for text in (repr(s), str(s), f"{s.kis_app_secret}", repr(s.kis_app_key)):
        assert "topsecretvalue" not in text and "PSabcdefKEY" not in text
    assert mask("bad secret topsecretvalue", s.secrets()) == "bad secret ***"
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
