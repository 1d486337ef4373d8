"""The Gradio app's parts (``gradio_app.py`` is its entry point): ``common`` (queues, controls, files, messages),
``link`` (the view in the URL) and one module per research tab (``checkpoints_tab``, ``latent_tab``)."""
