"""PAMFN Studio dashboard: ``streamlit run app/streamlit_app.py [-- --data DIR --checkpoint DIR]``.

The entry script sets the page up, draws the shared sidebar (data set, checkpoint,
device) and runs the chosen page. Pages other than the routine view join the
navigation when their files exist.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

APP_DIR = Path(__file__).resolve().parent
if str(APP_DIR.parent) not in sys.path:
    sys.path.insert(0, str(APP_DIR.parent))

from app import sidebar

PAGES: list[tuple[str, str, str]] = [
    ("routine.py", "Routine", ":material/sports_gymnastics:"),
    ("research.py", "Research", ":material/query_stats:"),
    ("analyse.py", "Analyse a video", ":material/upload_file:"),
    ("compare.py", "Compare", ":material/compare:"),
]


def main() -> None:
    st.set_page_config(page_title="PAMFN Studio", page_icon="🤸", layout="wide")
    pages = [
        st.Page(str(APP_DIR / "views" / name), title=title, icon=icon, default=(name == "routine.py"))
        for name, title, icon in PAGES
    ]
    page = st.navigation(pages)
    st.sidebar.title("PAMFN Studio")
    sidebar.sidebar_source()
    page.run()
    sidebar.sidebar_device()


main()
