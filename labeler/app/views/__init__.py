"""The app's pages, one script per page (not `pages/`: that name means legacy multipage to Streamlit)."""
