"""The dashboard's package, one folder per layer; each imports only the layers before it in this list:

1. domain/: what markets are (catalog and ids, bar and quote records, calendars, market clocks, the app's clock,
   symbol lists, settings, message catalogs, number and date formats, the CSV format). Imports no other layer.
2. analysis/: pure functions over DataFrames (returns, correlations, currencies, risk, integrity rules, the
   portfolio engine). Imports domain only: no I/O, no Streamlit.
   `collectors/` (beside this package) sits at the same level: the sources, importing domain only.
3. services/: the store, the market service (reads and updates), the symbol universe, live quotes, jobs behind the
   pages. Imports domain, analysis and collectors; never Streamlit.
4. web/ (everything that imports Streamlit) and cli.py (the command line). Import services and below.
5. app.py and pages/: thin pages that choose options and draw, from web and analysis only.

tests/test_layers.py reads every module's imports and fails on one against this order.
"""
