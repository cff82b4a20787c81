"""The app's use cases: the store, the market service, the symbol universe, live quotes and background jobs.
Imports domain, analysis and collectors; never Streamlit (the command line uses all of it)."""
