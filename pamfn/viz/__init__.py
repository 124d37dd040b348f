"""Tidy tables and plotly figures of PAMFN's explanations (pure functions; no Streamlit)."""
