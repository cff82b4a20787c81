"""Pure computations over DataFrames: returns, correlations, currencies, risk, integrity rules, portfolios.
Imports only the domain: no I/O, no Streamlit, so every function is tested on small frames."""
