"""Every page under every value of every option it takes from the URL (issue 14.2), as a bookmark opens it.

The options of a page are combined pairwise (every pair of values of two options appears in some run, so every single
value does too), on sample data and with keys against the local KIS and Upbit servers. A run fails on an exception,
on an English word in Korean mode or Hangul in English mode, and on a chart with nothing to draw. Each run is a fresh
AppTest (the URL is the only state it starts from); the process's caches stay warm between runs, which is what makes
the matrix fast enough for CI.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from marketdash.domain import catalog
from marketdash.domain.i18n import Translator
from marketdash.web import charts, live_view
from marketdash.web.widgets import RANGES, TODAY
from tests.conftest import ROOT
from tests.test_i18n import english_words, screen_texts
from tests.test_pages import dates, values

ADDED = ["krx:005380", "us:NVDA", "coin:ETH"]  # symbols beside the seven (issue 16): a KRX stock, a US stock, a coin
ASSETS = {"one": "samsung", "two": "samsung,btc", "seven": ",".join(catalog.COMPARED),
          "added": ",".join(["samsung", *ADDED])}  # fmt: skip
LANGS_COLORS = {"lang": ["ko", "en"], "colors": ["red_up", "green_up"]}
MIXES = {"seven": ",".join(f"{a}={w}" for a, w in zip(catalog.COMPARED, (20, 20, 10, 10, 20, 10, 10), strict=True)),
         "one": "btc=100", "added": "samsung=40,krx:005380=20,us:NVDA=20,coin:ETH=20"}  # fmt: skip
CUSTOM = {"start": "2026-01-05", "end": "2026-03-02"}  # with range=Custom

# page -> option -> its URL values
OPTIONS: dict[str, dict[str, list[str]]] = {
    "app.py": {"range": list(RANGES), "axis": ["auto", "linear", "log"], **LANGS_COLORS},
    "pages/1_compare.py": {"assets": list(ASSETS), "range": [TODAY, *RANGES], "view": ["rebased", "pct"],
                           "ccy": ["native", "KRW", "USD"], "axis": ["auto", "linear", "log"],
                           "ret": ["price", "total"], **LANGS_COLORS},
    "pages/2_correlations.py": {"assets": list(ASSETS), "range": list(RANGES),
                                "align": ["common", "kst", "weekly", "monthly"], "method": ["pearson", "spearman"],
                                "ffill": ["0", "2"], "window": ["20", "60", "120"], "ewm": ["false", "true"],
                                **LANGS_COLORS},
    "pages/3_statistics.py": {"assets": list(ASSETS), "range": list(RANGES), "ccy": ["native", "KRW", "USD"],
                              "rf": ["0", "3.5"], "ret": ["price", "total"], **LANGS_COLORS},
    "pages/4_data.py": {"asset": [*catalog.ASSETS, *ADDED], "range": list(RANGES), **LANGS_COLORS},
    "pages/5_asset.py": {"id": [*catalog.ASSETS, *ADDED], "range": list(RANGES), **LANGS_COLORS},
    "pages/6_portfolio.py": {"p1": list(MIXES), "n": ["1", "3"], "range": ["1Y", "Custom"],
                             "every": ["none", "monthly", "weekly"],
                             "rebal": ["none", "monthly", "quarterly", "yearly", "bands", "cashflow"],
                             "ccy": ["KRW", "USD"], "tax": ["0", "1"],
                             "chart": ["value", "growth", "drawdown", "yearly"],
                             "view": ["monthly", "weights", "assets"],
                             **LANGS_COLORS},
}  # fmt: skip


def _new_pairs(row: dict[str, str], name: str, value: str, uncovered: set) -> int:
    """How many missing pairs setting `name` to `value` in `row` would cover."""
    return sum(((n, v), (name, value)) in uncovered or ((name, value), (n, v)) in uncovered for n, v in row.items())


# One asset's pages: the range only cuts the same bars of whichever asset is shown, so asset x range is not paired
# (72 runs a mode, most of this file's time); every asset and every range still appear, each with both languages
# and colour schemes.
UNPAIRED = {"pages/4_data.py": {("asset", "range")}, "pages/5_asset.py": {("id", "range")}}


def pairwise(options: dict[str, list[str]], unpaired: set[tuple[str, str]] = frozenset()) -> list[dict[str, str]]:
    """Rows covering every pair of values of every two options (greedy, deterministic), but for `unpaired` ones."""
    names = list(options)
    uncovered = {((a, va), (b, vb)) for a, b in itertools.combinations(names, 2) for va in options[a]
                 for vb in options[b] if (a, b) not in unpaired}  # fmt: skip
    rows = []
    while uncovered:
        (a, va), (b, vb) = min(uncovered)  # start from a pair still missing
        row = {a: va, b: vb}
        for name in names:
            if name not in row:
                row[name] = max(options[name], key=lambda v, name=name: _new_pairs(row, name, v, uncovered))
        for x, y in itertools.combinations(names, 2):
            uncovered.discard(((x, row[x]), (y, row[y])))
        rows.append(row)
    return rows


def url_of(row: dict[str, str]) -> dict[str, str]:
    params = {k: (ASSETS[v] if k == "assets" else MIXES[v] if k == "p1" else v) for k, v in row.items()}
    if params.get("range") == "Custom":
        params.update(CUSTOM)
    return params


def blank_charts(at: AppTest) -> list[str]:
    """Titles of charts with nothing to draw: no trace holding a finite value."""
    blank = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        drawn = False
        for trace in spec.get("data", []):
            for axis in ("x",) if trace.get("orientation") == "h" else ("y", "z"):  # the values' axis
                if axis in trace:
                    data = values(trace[axis])
                    numbers = pd.to_numeric(pd.Series(np.ravel(data)), errors="coerce")
                    drawn |= bool(np.isfinite(numbers).any())
        if not drawn:
            blank.append(spec.get("layout", {}).get("title", {}).get("text", "?"))
    return blank


def problems(at: AppTest, lang: str) -> list[object]:
    found: list[object] = [e.value + "\n" + "\n".join(e.stack_trace[-8:]) for e in at.exception]
    texts = screen_texts(at)
    if lang == "ko":
        found += [(t, english_words(t)) for t in texts if english_words(t)]
    else:
        found += [t for t in texts if re.search("[\uac00-\ud7a3]", t) and t != "한국어"]
    found += [("blank chart", title) for title in blank_charts(at)]
    return found


def runs(page: str) -> Iterator[tuple[dict[str, str], AppTest]]:
    for row in pairwise(OPTIONS[page], UNPAIRED.get(page, set())):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params.update(url_of(row))
        if page != "app.py":
            at.switch_page(page)  # before the first run: the page opens directly, as a bookmark does
        at.run()
        yield row, at


def check_page(page: str) -> int:
    failures, count = [], 0
    for row, at in runs(page):
        count += 1
        found = problems(at, row["lang"])
        if found:
            failures.append((row, found[:3]))
    assert not failures, "\n".join(f"{row}: {found}" for row, found in failures)
    return count


@pytest.mark.parametrize("page", list(OPTIONS))
def test_every_option_of_every_page_on_sample_data(page):
    count = check_page(page)
    assert count >= max(len(v) for v in OPTIONS[page].values())


@pytest.mark.parametrize("page", list(OPTIONS))
def test_every_option_of_every_page_with_keys(page, live_env):
    count = check_page(page)
    assert count >= max(len(v) for v in OPTIONS[page].values())


def test_the_matrix_covers_every_pair_and_so_every_value():
    for options in OPTIONS.values():
        rows = pairwise(options)
        for a, b in itertools.combinations(options, 2):
            assert {(r[a], r[b]) for r in rows} == set(itertools.product(options[a], options[b]))
        assert len(rows) < math.prod(len(v) for v in options.values())


def test_a_lone_point_is_drawn_and_a_market_that_has_not_moved_is_a_level_line():
    """Issue 14.7: a series with one quote was an invisible line with a legend entry."""
    times = pd.DatetimeIndex(["2026-12-01 09:00", "2026-12-01 10:00", "2026-12-01 11:00"])
    wide = pd.DataFrame({"btc": [0.5, 1.0, 1.5], "samsung": [np.nan, 0.3, np.nan], "soxl": [np.nan, np.nan, -1.2]},
                        index=times)  # fmt: skip
    flat = live_view.flat_across(wide)
    assert flat["samsung"].tolist() == [0.3, 0.3, 0.3]
    assert flat["soxl"].iloc[0] == -1.2 and flat["soxl"].iloc[-1] == -1.2
    assert flat["btc"].tolist() == [0.5, 1.0, 1.5]  # a market that moves is drawn as it moved
    fig = charts.line_chart(wide[["soxl"]].dropna(), Translator("en"), title="t", yaxis_title="y")
    assert fig.data[0].mode == "lines+markers"
    fig = charts.line_chart(wide[["btc"]], Translator("en"), title="t", yaxis_title="y")
    assert fig.data[0].mode == "lines"


def test_a_custom_range_is_applied_with_its_button_and_reaches_the_url():
    """Issue 14.8: the fields, the URL and the chart never disagree: dates are applied together with 조회, and
    then land in the URL and the chart's range (test_browser types one and leaves the field with Tab)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update(lang="en", range="Custom", **CUSTOM)
    at.switch_page("pages/1_compare.py")
    at.run()
    at.date_input(key="end").set_value(dt.date(2026, 1, 15))
    next(b for b in at.button if b.label == "Show").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["end"] == "2026-01-15"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    last = max(pd.Timestamp(x) for trace in spec["data"] for x in dates(trace["x"]))
    assert last <= pd.Timestamp("2026-01-15")


def test_the_asset_page_draws_candles_in_the_market_colours_with_averages_volume_and_52_weeks():
    """Issue 15.7: one asset's own bars as an HTS shows them."""
    from marketdash.analysis import timeseries
    from marketdash.domain import formats

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update(lang="ko", id="samsung", range="6M")
    at.switch_page("pages/5_asset.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    kinds = [t["type"] for t in spec["data"]]
    assert kinds[0] == "candlestick" and kinds.count("bar") == 1
    candle = spec["data"][0]
    red_up = formats.SCHEMES["red_up"]
    assert candle["increasing"]["line"]["color"] == red_up["up"]
    assert candle["decreasing"]["line"]["color"] == red_up["down"]
    assert [t["name"] for t in spec["data"] if t["type"] == "scatter"] == [
        "5일 이동평균", "20일 이동평균", "60일 이동평균", "120일 이동평균"]  # fmt: skip
    from marketdash.web import ui

    bars = ui.service().load(["samsung"]).bars
    high_low = timeseries.week52_range(bars)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["52주 최고"] == Translator("ko").price(high_low["high"], "samsung")
    year = bars[bars["date"] > bars["date"].max() - pd.Timedelta(weeks=52)]
    assert high_low["high"] == year["high"].max() and high_low["low"] == year["low"].min()
    ma20 = timeseries.moving_averages(bars.set_index("date")["close"])["ma20"]
    assert ma20.iloc[-1] == pytest.approx(bars["close"].iloc[-20:].mean())
    assert any(b.proto.label.endswith("(CSV)") for b in at.get("download_button"))


def test_a_value_from_the_url_that_cannot_be_used_is_named_and_the_selection_follows_the_links():
    """Issue 15.6: a junk, future or page-foreign URL value is named in one line, never reset silently; the
    assets and range chosen travel with the sidebar's links."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update(lang="ko", assets="samsung,btc,nope", range="ZZZ")
    at.switch_page("pages/1_compare.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    said = [c.value for c in at.caption if "주소의" in c.value]
    assert len(said) == 2 and "assets=nope" in said[0] and "range=ZZZ" in said[1] and "1년" in said[1]
    assert at.query_params["assets"] == "samsung,btc"
    at.segmented_control(key="range").set_value("3M").run()
    links = {p.proto.label: p.proto.query_string for p in at.get("page_link")}
    assert "assets=samsung%2Cbtc" in links["상관관계"] and "range=3M" in links["상관관계"]
    future = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    future.query_params.update(lang="en", range="Custom", start="2026-01-05", end="2099-01-01")
    future.switch_page("pages/1_compare.py")
    future.run()
    assert any("end=2099-01-01" in c.value for c in future.caption)
    overview = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    overview.query_params.update(lang="en", range="1D")  # Compare's today view, carried to Overview
    overview.run()
    assert any("range=1D" in c.value and "1Y" in c.value for c in overview.caption)  # as the URL spells it
