"""Shared reads (marketdash.web.caching): one value per process, every hit a copy a page may change freely."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketdash.services.market import PriceData
from marketdash.web import caching


def _bars() -> pd.DataFrame:
    return pd.DataFrame({"close": [1.0, 2.0]}, index=pd.Index([10, 11], name="row"))


def test_a_page_changing_what_it_was_handed_never_changes_the_next_readers_value() -> None:
    built: list[int] = []

    @caching.shared(ttl=60)
    def load(n: int) -> PriceData:
        built.append(n)
        return PriceData(bars=_bars(), origin={"samsung": "store"}, notes={})

    first = load(1)
    first.bars.loc[10, "close"] = 99.0
    first.bars["extra"] = 0
    first.bars.index.name = "renamed"
    first.origin["samsung"] = "sample"
    first.notes["samsung"] = "changed"

    second = load(1)
    assert built == [1]  # built once, handed out twice
    assert second.bars.equals(_bars()) and second.bars.index.name == "row"
    assert second.origin == {"samsung": "store"} and second.notes == {}
    # A copy in name only: the two hits share the cached data until one of them writes.
    third = load(1)
    assert np.shares_memory(second.bars["close"].to_numpy(), third.bars["close"].to_numpy())

    load.clear()
    load(1)
    assert built == [1, 1]


def test_a_shared_array_cannot_be_written_through_and_nested_containers_are_new() -> None:
    cached = {"arr": np.arange(3.0), "rows": [_bars()], "pair": (_bars(), 1)}
    view = caching.fresh_view(cached)
    with pytest.raises(ValueError, match="read-only"):
        view["arr"][0] = 5.0
    view["rows"].append(None)
    view["rows"][0].iloc[0, 0] = -1.0
    view["pair"][0].iloc[1, 0] = -2.0
    assert cached["arr"].tolist() == [0.0, 1.0, 2.0]
    assert len(cached["rows"]) == 1 and cached["rows"][0].equals(_bars()) and cached["pair"][0].equals(_bars())


@pytest.mark.parametrize(
    ("page", "module", "function", "query"),
    [("pages/2_correlations.py", "correlations", "aligned_returns", {}),  # every asset's, the pairs'
     ("pages/1_compare.py", "conversion", "convert", {"ccy": "KRW", "range": "Max"})],  # closes in won
)  # fmt: skip
def test_a_pages_view_is_computed_once_until_the_store_changes(monkeypatch, page, module, function, query) -> None:
    """A rerun of an unchanged view only draws; a fetch that stored bars (ui.clear_caches) computes it anew."""
    import importlib

    from marketdash.web import ui
    from tests.test_pages import run_page
    from tests.test_startup import _wait_for_history

    analysis = importlib.import_module(f"marketdash.analysis.{module}")
    computed: list[int] = []
    real = getattr(analysis, function)

    def counted(*args, **kwargs):
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, function, counted)
    at = run_page("app.py")
    at.query_params.update(query)  # read by the page's widgets as it opens
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    _wait_for_history()  # USD/KRW behind the page (the ECB's, offline) clears the caches when it is stored
    at.run()
    chart = at.get("plotly_chart")[0].proto.spec
    before = len(computed)
    at.run()
    assert len(computed) == before and at.get("plotly_chart")[0].proto.spec == chart
    ui.clear_caches()
    at.run()
    assert len(computed) > before and not at.exception
    assert at.get("plotly_chart")[0].proto.spec == chart  # the same bars: the same numbers
