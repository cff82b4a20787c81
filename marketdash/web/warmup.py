"""What the server does as it starts, before anyone opens a page (issue 32): the work that does not depend on the
reader. Streamlit calls `lifespan` once the server is up (app.py serves itself as an `st.App`); the work runs in a
thread of its own, so the server answers the first browser while it goes on, and a page that needs it sooner does
the same work itself (the imports wait for each other; the caches compute a value once).

- imports: pandas, DuckDB, pyarrow, Plotly and every module a page imports (0.5 to 1 s a first page paid);
- with keys: what the default view lacks, fetched as its page would (the first reader sees that fetch's progress
  and result); once it is in, the history behind it begun;
- meanwhile a chart and a table drawn nowhere, on a few made-up days (outside a page Streamlit builds an element
  and sends it to no one): the first of each pays for Plotly's validators, the Styler's templates, both message
  catalogs and Streamlit's own first-element check, 0.3 to 0.5 s of a first page's run;
- the store: opened, the sample bars loaded, the default view's bars read into the cache Overview reads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

log = logging.getLogger(__name__)


class _OutsideAPage(logging.Filter):
    """Streamlit warns of every cached call made outside a page's run ("missing ScriptRunContext"): this thread
    makes them on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.threadName == WARM_UP and "ScriptRunContext" in record.getMessage())


WARM_UP = "warm-up"


@asynccontextmanager
async def lifespan(_app: object) -> AsyncIterator[None]:
    """Streamlit's server start hook (`st.App(lifespan=...)`): start warming, and serve at once."""
    threading.Thread(target=warm_up, name=WARM_UP, daemon=True).start()
    yield


def warm_up() -> None:
    """Import, open the store and fill the default view (fetching.warm); any failure is left for the pages, which
    do the same work and say what went wrong in the reader's language."""
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_OutsideAPage())
    try:
        from marketdash.domain import clock
        from marketdash.domain.config import ConfigError
        from marketdash.services.store import StoreError
        from marketdash.web import fetching, live_view, notices, ui, widgets  # noqa: F401 - imported to warm

        try:
            svc = ui.get_service()
            ids = widgets.default_assets(svc)
            start = widgets.range_bounds(widgets.DEFAULT_RANGE, clock.today_kst())
            fetch = fetching.warm(ids, start)
            early = fetch is None or not set(fetch.todo) & set(ids)  # offline: only USD/KRW comes (from the ECB)
            if early:  # the view's bars are in already: read them now (a new store builds the sample's first)
                ui.cached_prices(tuple(ids), start, None)
            _draw_nowhere()  # while the fetch waits on the network
            if fetch is not None:
                fetch.outcome.exception()  # waits; a failure is the first page's to say
            fetching.history_after_warm(ids)
            if not early:
                ui.cached_prices(tuple(ids), start, None)
        except (ConfigError, StoreError):
            return
    except Exception:
        log.exception("warming the server up failed; the first page does the same work")


def _draw_nowhere() -> None:
    """A chart and a table drawn outside any page, as the pages draw theirs: what a first drawing costs (Plotly's
    validators, the Styler's templates, Streamlit's first element) is paid here. On a few made-up days: the store's
    own bars may be changing under the fetch, and the first-use costs do not depend on the numbers."""
    import pandas as pd
    import streamlit as st

    from marketdash.domain import i18n
    from marketdash.web import charts, tables

    days = pd.date_range("2026-01-05", periods=5, freq="D", name="date")
    lines = pd.DataFrame({"samsung": [100.0, 101.0, 99.5, 102.0, 103.0], "btc": [100.0, 98.0, 97.0, 99.0, 104.0]},
                         index=days)  # fmt: skip
    t = i18n.Translator(i18n.DEFAULT_LANG)
    st.plotly_chart(charts.line_chart(lines, t, title="", yaxis_title="", reference=100.0,
                                      end_labels={a: a for a in lines}))  # fmt: skip
    table = pd.DataFrame({"last_close": [103.0, 104.0], "range_change_pct": [0.98, -5.05]},
                         index=pd.Index(lines.columns, name="asset_id"))  # fmt: skip
    st.dataframe(tables.styled(table, t))
    for lang in i18n.LANGS:  # every page names both languages in its switch
        i18n.messages(lang)
