"""What the explorer's front-ends (Streamlit, Gradio, the HTTP API) share: the service that turns a view
into panels. (The other explorer-only modules still sit at ``focusmim_core``'s top level.)"""
