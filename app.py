"""Seven-Asset Market Dashboard: the entry point. `streamlit run app.py`.

Page files are named `*_page.py` while their URLs are `/compare`, `/correlations`, …: on a server's first request,
Streamlit still treats `pages/` as a v1 multipage folder and would run a page whose file name matches the URL
directly, without this entry point (no layout, no navigation). With different names, a deep link to a fresh server
falls through to this script, whose st.navigation then opens the intended page.
"""

import streamlit as st

st.set_page_config(page_title="Seven-Asset Market Dashboard", page_icon=":material/monitoring:", layout="wide")

pages = [
    st.Page("pages/overview_page.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True),
    st.Page("pages/compare_page.py", title="Compare", icon=":material/show_chart:", url_path="compare"),
    st.Page("pages/correlations_page.py", title="Correlations", icon=":material/grid_on:", url_path="correlations"),
    st.Page("pages/statistics_page.py", title="Risk & return", icon=":material/query_stats:", url_path="statistics"),
    st.Page("pages/data_page.py", title="Data", icon=":material/database:", url_path="data"),
]
st.navigation(pages).run()
