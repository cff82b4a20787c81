"""Seven-Asset Market Dashboard: the entry point. `streamlit run app.py`."""

import streamlit as st

st.set_page_config(
    page_title="Seven-Asset Market Dashboard",
    page_icon=":material/monitoring:",
    layout="wide",
)

pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/compare.py", title="Compare", icon=":material/show_chart:"),
    st.Page("pages/correlations.py", title="Correlations", icon=":material/grid_on:"),
    st.Page("pages/statistics.py", title="Risk & return", icon=":material/query_stats:"),
    st.Page("pages/data.py", title="Data", icon=":material/database:"),
]
st.navigation(pages).run()
