"""The two message catalogs, the won formatter and market colours, and every page in both languages (AppTest).

The bypass test runs each page with a translator that wraps everything it writes in ⟦…⟧: any letter left outside
the marks on screen came from somewhere other than the catalog. The language tests read the same texts with the
real translators: no English word in Korean mode (codes and acronyms aside), no Hangul in English mode.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from marketdash.domain import formats, i18n
from marketdash.domain.i18n import Msg, Name, Said, Translator, msg
from tests.conftest import ROOT

PAGES = [
    "app.py",
    "pages/1_compare.py",
    "pages/2_correlations.py",
    "pages/3_statistics.py",
    "pages/4_data.py",
    "pages/6_portfolio.py",
]


# -- the catalogs ------------------------------------------------------------------------------------------------
def test_both_catalogs_have_the_same_keys_and_placeholders():
    ko, en = i18n.messages("ko"), i18n.messages("en")
    assert set(ko) == set(en), sorted(set(ko) ^ set(en))
    differ = {k: (ko[k], en[k]) for k in ko if i18n.placeholders(ko[k]) != i18n.placeholders(en[k])}
    assert not differ
    for lang, table in (("ko", ko), ("en", en)):
        for key, template in table.items():  # every template formats with its own placeholders
            template.format_map({name: "x" for name in i18n.placeholders(template)}), (lang, key)


_LITERAL_KEY = re.compile(r"""(?:\bt|tr\(\)|\bmsg|\bMsg)\(\s*"([a-z_][A-Za-z0-9_.]*)"[,)]""")
_KEY_TEMPLATE = re.compile(r"""(?:\bt|tr\(\)|\bmsg|\bMsg)\(\s*f"([a-z_][A-Za-z0-9_.{}\[\]'"]*)"[,)]""")


def _sources() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "marketdash").rglob("*.py")),
            *sorted((ROOT / "collectors").glob("*.py"))]  # fmt: skip


def test_every_key_the_code_names_is_in_the_catalog():
    keys = set(i18n.messages("en"))
    literal = {k for path in _sources() for k in _LITERAL_KEY.findall(path.read_text(encoding="utf-8"))}
    assert literal, "the scan found no keys: the pattern is broken"
    assert not literal - keys, sorted(literal - keys)
    # Keys built with f-strings: each one's fixed prefix must lead to at least one key.
    templates = {k for path in _sources() for k in _KEY_TEMPLATE.findall(path.read_text(encoding="utf-8"))}
    for template in templates:
        prefix = template.split("{")[0]
        assert any(key.startswith(prefix) for key in keys), template


def test_a_message_survives_storage_and_renders_in_each_language():
    message = msg(
        "err.both_failed", first_source=msg("source.upbit"), first=msg("err.timeout", source=msg("source.upbit"),
        seconds="20"), second_source=msg("source.bithumb"), second=msg("update.no_bars", start=dt.date(2026, 1, 2),
        end=dt.date(2026, 1, 9)),
    )  # fmt: skip
    again = Msg.from_json(message.to_json())
    assert again == message
    assert str(again) == (
        "Upbit: Upbit did not answer within 20 s; "
        "Bithumb: the source returned no bars between 2026-01-02 and 2026-01-09"
    )
    assert Translator("ko").text(again) == (
        "업비트: 업비트에서 20초 안에 응답이 없었습니다; "
        "빗썸: 2026.01.02부터 2026.01.09까지 출처가 일봉을 하나도 보내지 않았습니다"
    )
    assert Msg.from_json("not json") is None and Msg.from_json(None) is None


def test_a_sources_own_words_reach_only_readers_of_its_language():
    said = msg("err.kis_rate_limited", said=msg("err.kis_code", code="EGW00201",
               said=Said("초당 거래건수를 초과하였습니다.", "ko", prefix=": ")))  # fmt: skip
    assert str(said) == "KIS kept refusing: too many requests per second (EGW00201)"
    assert (
        Translator("ko").text(said)
        == "한국투자증권이 계속 거절했습니다: 초당 호출 한도 초과 (EGW00201: 초당 거래건수를 초과하였습니다.)"
    )
    assert Translator("en").text(msg("progress.series", asset=Name("samsung"), doing=msg("progress.done"))) == (
        "Samsung Elec.: done"
    )
    assert Translator("ko").text(msg("progress.series", asset=Name("samsung"), doing=msg("progress.done"))) == (
        "삼성전자: 완료"
    )


def test_a_browser_language_picks_ours_or_korean():
    assert [i18n.language_of(tag) for tag in ("ko-KR", "ko", "en-US", "en_GB", "de-DE", "", None)] == [
        "ko", "ko", "en", "en", "ko", "ko", "ko",
    ]  # fmt: skip


# -- numbers, dates, colours -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (0, 0, "0원"),
        (-0.2, 0, "0원"),
        (9_999, 0, "9,999원"),
        (10_000, 0, "10,000원"),
        (126_847, 0, "126,847원"),
        (99_999_999, 0, "99,999,999원"),
        (99_999_999.6, 0, "1억 원"),  # rounds to 1억: the unit is chosen after rounding
        (100_000_000, 0, "1억 원"),
        (247_984_999, 0, "2억 4,798만 원"),
        (247_985_000, 0, "2억 4,799만 원"),  # 반올림: half away from zero
        (199_995_000, 0, "2억 원"),
        (-247_984_999, 0, "-2억 4,798만 원"),
        (1_000_000_000_000, 0, "1조 원"),
        (1_234_567_890_123, 0, "1조 2,346억 원"),
        (999_999_990_000, 0, "9,999억 9,999만 원"),
        (999_999_995_000, 0, "1조 원"),  # 9,999억 9,999.5만 rounds to 1조
        (12_345_000_000_000_000, 0, "12,345조 원"),
        (1_412.35, 2, "1,412.35원"),
    ],
)
def test_krw_in_korean_units(value, decimals, text):
    assert formats.krw_korean(value, decimals) == text


def test_card_prices_in_each_language():
    ko, en = Translator("ko"), Translator("en")
    assert ko.price(247_984_999, "btc") == "2억 4,798만 원" and en.price(247_984_999, "btc") == "248.0M KRW"
    assert ko.price(126_847, "samsung") == "126,847원" and en.price(126_847, "samsung") == "126,847 KRW"
    assert ko.price(31.25, "soxl") == "31.25달러" and en.price(31.25, "soxl") == "31.25 USD"
    assert ko.price(412.3, "kospi200") == en.price(412.3, "kospi200") == "412.30"


def test_dates_in_each_language():
    day = dt.date(2026, 11, 24)
    assert Translator("ko").date(day) == "2026.11.24" and Translator("en").date(day) == "2026-11-24"
    assert Translator("ko")("fresh.through", day=day) == "2026.11.24까지"


@pytest.mark.parametrize(
    ("lang", "choice", "rise", "fall", "metric_rise", "metric_fall"),
    [
        ("ko", "auto", "#d1242f", "#1f5bd6", "red", "blue"),
        ("en", "auto", "#1a7f37", "#d1242f", "green", "red"),
        ("en", "red_up", "#d1242f", "#1f5bd6", "red", "blue"),
        ("ko", "green_up", "#1a7f37", "#d1242f", "green", "red"),
        ("ko", "nonsense", "#d1242f", "#1f5bd6", "red", "blue"),
    ],
)
def test_market_colours_follow_the_language_unless_chosen(lang, choice, rise, fall, metric_rise, metric_fall):
    t = Translator(lang, choice)
    assert (t.change_color(1.5), t.change_color(-0.1)) == (rise, fall)
    assert (t.delta_color(0.3), t.delta_color(-2.0)) == (metric_rise, metric_fall)
    assert t.change_color(0.0) == t.change_color(float("nan")) == formats.FLAT and t.delta_color(None) == "gray"


# -- every page in both languages ----------------------------------------------------------------------------------
class Marked(Translator):
    """Wraps every string it writes in ⟦…⟧ (nested Msgs and names are marked inside)."""

    def text(self, message):
        return f"⟦{super().text(message)}⟧" if message else ""

    def name(self, asset_id):
        return f"⟦{super().name(asset_id)}⟧"

    def full_name(self, asset_id):
        return f"⟦{super().full_name(asset_id)}⟧"

    def price(self, value, asset_id):
        return f"⟦{super().price(value, asset_id)}⟧"

    def money(self, value, currency):
        return f"⟦{super().money(value, currency)}⟧"

    def change_amount(self, value, asset_id):
        return f"⟦{super().change_amount(value, asset_id)}⟧"


_PLOTLY_TOKEN = re.compile(r"%\{[^}]*\}|<[^>]+>")
_MARKED = re.compile(r"⟦[^⟦⟧]*⟧")
_LETTER = re.compile(r"[A-Za-z\uac00-\ud7a3]")


def _plotly_texts(spec: dict) -> list[str]:
    layout = spec.get("layout", {})
    out = [layout.get("title", {}).get("text", "")]
    for axis in ("xaxis", "yaxis"):
        out.append(layout.get(axis, {}).get("title", {}).get("text", ""))
    for trace in spec.get("data", []):
        out += [trace.get("name") or "", trace.get("hovertemplate") or ""]
        out.append(trace.get("colorbar", {}).get("title", {}).get("text", ""))
        if trace.get("type") == "heatmap":
            out += [str(v) for v in trace.get("x", []) + trace.get("y", [])]
            out += [str(v) for row in trace.get("customdata", []) for v in row]
    return [_PLOTLY_TOKEN.sub(" ", t) for t in out if t]


def screen_texts(at: AppTest) -> list[str]:
    """Every word a page puts on screen: element bodies, labels, help, options, placeholders, chart titles, axes,
    legends and hover texts, table headers and row labels."""
    out: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if kind == "plotly_chart":
            out.extend(_plotly_texts(json.loads(proto.spec)))
        elif kind in ("dataframe", "arrow_data_frame"):
            frame = node.value
            if frame.isna().any().any():  # Streamlit draws a missing cell as the English word "None"
                out.append("None")
            out.extend(str(c) for c in frame.columns)
            out.extend(str(i) for i in frame.index if isinstance(i, str))
            if frame.index.name:
                out.append(str(frame.index.name))
        elif proto is not None and str(getattr(proto, "body", "")).lstrip().startswith("<style>"):
            pass  # the page's CSS (ui.COMPACT_CSS): draws no words
        elif proto is not None:
            for field, value in proto.ListFields():
                if field.name in ("label", "body", "help", "placeholder", "delta", "text"):
                    out.append(str(value))
                elif field.name == "options":
                    out.extend(getattr(o, "content", o) if not isinstance(o, str) else o for o in value)
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)

    walk(at._tree)
    return [t for t in out if t]


def _scenarios(lang: str):
    """Each page as opened, plus the states that show other words: Compare in KRW and its 1D view, the
    correlations in KST alignment with forward-fill, the Data page's integrity check."""
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
        at.query_params["lang"] = lang
        at.run()
        if page != PAGES[0]:
            at.switch_page(page).run()
        yield page, at
        if page == "pages/1_compare.py":
            at.get("segmented_control")[2].set_value("KRW").run()
            yield f"{page} KRW", at
            at.get("segmented_control")[0].set_value("1D").run()
            yield f"{page} 1D", at
        if page == "pages/2_correlations.py":
            at.get("segmented_control")[1].set_value("kst").run()
            at.number_input(key="ffill").set_value(1).run()
            yield f"{page} kst", at
        if page == "pages/4_data.py":
            at.toggle(key="check").set_value(True).run()
            yield f"{page} check", at


_ICON = re.compile(r":material/[a-z_]+:")  # Streamlit's icon shortcodes are drawn as icons, not read as words


def _unmarked(text: str) -> str:
    text = _ICON.sub(" ", text)
    while _MARKED.search(text):
        text = _MARKED.sub(" ", text)
    return text


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_no_page_shows_a_word_that_bypasses_the_catalog(lang, monkeypatch):
    import marketdash.web.ui

    monkeypatch.setattr(marketdash.web.ui, "Translator", Marked)
    checked = 0
    for where, at in _scenarios(lang):
        assert not at.exception, (where, [e.value for e in at.exception])
        texts = screen_texts(at)
        checked += len(texts)
        stray = [(t, _unmarked(t)) for t in texts if _LETTER.search(_unmarked(t))]
        assert not stray, (where, stray[:5])
    assert checked > 300


# English words a Korean page may show: codes, acronyms, tickers and names of things (a CSV, a ZIP, DuckDB).
KOREAN_MAY_SHOW = {"English", "DuckDB", "Parquet", "ZIP", "CSV", "TOML", "JSON", "HTTP", "IP", "pt"}
_CODE_SPAN = re.compile(r"`[^`]*`")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_./@-]*")


def english_words(text: str) -> list[str]:
    words = _WORD.findall(_PLOTLY_TOKEN.sub(" ", _CODE_SPAN.sub(" ", text)))
    return [w for w in words if not (w.isupper() or w in KOREAN_MAY_SHOW or any(c.isdigit() or c in "_./@-" for c in w)
                                       or len(w) == 1)]  # fmt: skip


def test_korean_pages_have_noenglish_words():
    checked = 0
    for where, at in _scenarios("ko"):
        assert not at.exception, (where, [e.value for e in at.exception])
        texts = screen_texts(at)
        checked += len(texts)
        english = [(t, english_words(t)) for t in texts if english_words(t)]
        assert not english, (where, english[:5])
    assert checked > 300


def test_english_pages_have_no_korean():
    for where, at in _scenarios("en"):
        assert not at.exception, (where, [e.value for e in at.exception])
        korean = [t for t in screen_texts(at) if re.search("[\uac00-\ud7a3]", t) and t != "한국어"]
        assert not korean, (where, korean[:5])


def test_without_lang_the_browsers_language_is_used_else_korean():
    for locale, title in (
        ("en-US", "Overview"),
        ("ko-KR", "한눈에 보기"),
        ("fr-FR", "한눈에 보기"),
    ):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
        at.context["locale"] = locale
        at.run()
        assert [t.value for t in at.title] == [title], locale
        assert at.query_params["lang"] == ("en" if locale == "en-US" else "ko")  # and kept in the URL


def test_korean_cards_show_won_in_man_eok_and_falls_in_blue():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params["lang"] = "ko"
    at.run()
    cards = {m.label.removesuffix(" · 예시"): m for m in at.metric}
    assert re.fullmatch(r"\d+억( [\d,]+만)? 원", cards["비트코인"].value), cards["비트코인"].value
    assert re.fullmatch(r"[\d,]+원", cards["삼성전자"].value)
    for card in cards.values():
        falling = card.delta.startswith("-")
        assert card.proto.color == (card.proto.MetricColor.BLUE if falling else card.proto.MetricColor.RED), card
    at.query_params["lang"] = "en"
    at.run()
    cards = {m.label.removesuffix(" · sample"): m for m in at.metric}
    for card in cards.values():
        falling = card.delta.startswith("-")
        assert card.proto.color == (card.proto.MetricColor.RED if falling else card.proto.MetricColor.GREEN), card


def test_live_pages_bypass_nothing_and_speak_each_language(live_env, monkeypatch):
    """With keys against the local servers: the Now strip with quotes and market states and an update's report,
    marked in both languages (every word from the catalog), then in Korean (no English word)."""
    import marketdash.web.ui

    for lang, translator in (("en", Marked), ("ko", Marked), ("ko", Translator)):
        monkeypatch.setattr(marketdash.web.ui, "Translator", translator)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
        at.query_params["lang"] = lang
        at.run()
        svc = marketdash.web.ui.service()
        svc.live.poll(list(svc.live.quoters()), everything=True)
        at.run()
        texts = screen_texts(at)
        assert len(at.metric) == 7, "one card per asset"
        at.switch_page("pages/4_data.py").run()
        at.button[0].click().run()
        assert not at.exception, [e.value for e in at.exception]
        texts += screen_texts(at)
        if translator is Marked:
            stray = [(t, _unmarked(t)) for t in texts if _LETTER.search(_unmarked(t))]
            assert not stray, (lang, stray[:5])
        else:
            english = [(t, english_words(t)) for t in texts if english_words(t)]
            assert not english, english[:5]


def test_a_wrong_secret_is_explained_in_korean(live_env, monkeypatch):
    monkeypatch.setenv("KIS_APP_SECRET", "not-the-secret")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params["lang"] = "ko"
    at.run()
    at.switch_page("pages/4_data.py").run()
    at.button[0].click().run()
    lines = [m.value for m in at.markdown if m.value.startswith("⚠️")]
    samsung = next(line for line in lines if "삼성전자" in line)
    assert "인증 오류: 한국투자증권이 앱 시크릿을 거절했습니다(EGW00105)" in samsung, samsung
    assert "앱 키·시크릿과 KIS_ENV" in samsung and "not-the-secret" not in samsung
