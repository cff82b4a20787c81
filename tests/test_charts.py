"""Charts that separate (issue 15.3): series colours apart from the market colours, a log axis when lines spread
wide, one unified hover that lists every series at every date, end-of-line labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from marketdash.domain import catalog, formats
from marketdash.domain.i18n import Translator
from marketdash.web import charts
from tests.conftest import ROOT
from tests.test_pages import values

MARKET_COLOURS = {c.lower() for scheme in formats.SCHEMES.values() for c in (scheme["up"], scheme["down"])}


def test_no_series_colour_is_a_rise_or_fall_colour_of_either_scheme():
    colours = [charts.color(a) for a in catalog.ASSETS]
    assert all(colours) and len(set(colours)) == len(colours)
    assert not {c.lower() for c in colours} & MARKET_COLOURS


def test_the_automatic_axis_is_logarithmic_when_the_lines_spread_over_three_times():
    wide = pd.DataFrame({"soxl": [100.0, 1044.0], "gold": [100.0, 110.0]})
    assert charts.wants_log(wide) and charts.log_axis("auto", wide)
    assert not charts.log_axis("linear", wide)
    close = pd.DataFrame({"soxl": [100.0, 180.0], "gold": [100.0, 90.0]})
    assert not charts.log_axis("auto", close) and charts.log_axis("log", close)


def test_a_weekend_hover_lists_every_series_at_its_last_value_and_lines_end_with_a_label():
    days = pd.DatetimeIndex(["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"])  # Fri, Sat, Sun, Mon
    wide = pd.DataFrame({"btc": [100.0, 101.0, 102.0, 103.0], "samsung": [100.0, np.nan, np.nan, 99.0]}, index=days)
    fig = charts.line_chart(wide, Translator("ko"), title="t", yaxis_title="y", end_labels={"btc": "비트코인 +3.0%"})
    spec = json.loads(fig.to_json())
    samsung = next(t for t in spec["data"] if t["name"] == "삼성전자")
    assert list(values(samsung["y"])) == [100.0, 100.0, 100.0, 99.0]  # Saturday's hover shows Friday's close
    assert spec["layout"]["hovermode"] == "x unified" and spec["layout"]["xaxis"]["hoverformat"] == "%Y.%m.%d"
    assert all("%{x" not in t["hovertemplate"] for t in spec["data"])  # the date once, at the top of the hover
    assert [a["text"] for a in spec["layout"]["annotations"]] == ["비트코인 +3.0%"]


def test_compare_over_max_on_sample_data_draws_a_log_axis_by_default():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params.update(lang="ko", range="Max")
    at.switch_page("pages/1_compare.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    lines = [t for t in spec["data"] if t.get("type", "scatter") == "scatter"]
    ys = np.concatenate([values(t["y"]).astype(float) for t in lines])
    ys = ys[np.isfinite(ys)]
    assert ys.max() / ys.min() > 3 and spec["layout"]["yaxis"]["type"] == "log"
    assert {t["line"]["color"].lower() for t in lines}.isdisjoint(MARKET_COLOURS)


def _lines(days: int, ids: list[str], start: str = "2025-01-01", gaps: bool = True) -> pd.DataFrame:
    """Closes as to_wide gives them: sorted days, NaN where a market was closed, series starting and ending apart."""
    index = pd.date_range(start, periods=days, freq="D", name="date")
    rng = np.random.default_rng(7)
    wide = pd.DataFrame(100 * np.exp(rng.normal(0, 0.02, (days, len(ids))).cumsum(axis=0)), index=index, columns=ids)
    if gaps:
        wide.iloc[index.day_of_week >= 5, [i for i, a in enumerate(ids) if a != "btc"]] = np.nan  # weekends
        wide.iloc[: days // 3, 0] = np.nan  # a series that starts later
        wide.iloc[-10:, -1] = np.nan  # one that stopped ten days ago (not carried past four)
    return wide


def test_line_charts_are_built_as_plotlys_validation_would_leave_them():
    """line_chart skips Plotly's validation (9 of 11 ms of a Max chart): the figure it sends must be exactly the one
    a validated build of the same data gives, in every shape the pages draw."""
    import plotly.graph_objects as go

    ids = ["samsung", "soxl", "btc", "krx:005380"]
    ko, en = Translator("ko"), Translator("en", "green_up")
    one_point = _lines(30, ids)
    one_point.iloc[:-1, 1] = np.nan
    times = _lines(40, ["btc", "samsung"], gaps=False)
    times.index = pd.date_range("2026-12-01 09:00", periods=40, freq="1min")
    cases = [
        charts.line_chart(_lines(3000, ids), ko, title="t", yaxis_title="y", reference=100.0, log_y=True,
                          end_labels={a: f"{a} +1.0%" for a in ids}, labels={"btc": "비트코인 (예시)"}, note="n"),
        charts.line_chart(_lines(400, ids), en, title="t", yaxis_title="y", money="KRW", y_format=",.0f"),
        charts.line_chart(_lines(400, ids), ko, title="t", yaxis_title="y", money="USD", log_y=True),
        charts.line_chart(one_point, ko, title="t", yaxis_title="y", hover_value="%{y:.3f}",
                          styles={"samsung": {"color": "#000000", "dash": "dot"}}),
        charts.line_chart(times, en, title="t", yaxis_title="%", time_axis=True, reference=0.0),
        charts.line_chart(_lines(10, ids).iloc[:0], ko, title="t", yaxis_title="y"),
    ]  # fmt: skip
    for fig in cases:  # the same JSON but for the order of keys
        assert json.loads(fig.to_json()) == json.loads(go.Figure(fig.to_dict()).to_json())
    assert json.loads(cases[3].to_json())["data"][1]["mode"] == "lines+markers"  # a lone point stays visible
