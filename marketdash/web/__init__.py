"""Everything that imports Streamlit or builds what a page shows: the sidebar and loaders, pickers, notices,
tables, charts, the live cards. Pages import from here and from analysis."""
