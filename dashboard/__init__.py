"""The Streamlit app: a router (``app.py``), thin pages (``views/``) and their helpers."""
