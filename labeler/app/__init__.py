"""The Streamlit app: thin pages over the services (labeler.services), never over the store."""
