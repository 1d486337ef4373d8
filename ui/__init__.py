"""Streamlit glue shared by the app's pages: per-session view state, cached resources, the sidebar."""
