"""내 포트폴리오: what a mix of assets would have done to the money put in, 거치식 and 적립식, in won or dollars,
next to a benchmark. Every input lives in the URL, so a portfolio is a link."""

import streamlit as st

from marketdash.web import portfolio_inputs, portfolio_view, ui, widgets

t = ui.setup_page("portfolio")

st.title(t("pf.title"))
st.caption(t("pf.intro"))
start, end = widgets.range_picker()
inputs = portfolio_inputs.inputs(start, end)
result = portfolio_view.run(inputs)
portfolio_view.results(inputs, result)
