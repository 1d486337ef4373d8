"""What only the explorer's front-ends (Streamlit, Gradio, the HTTP API) use, apart from the paper's science:

``service`` (a view in, its image, network and panels out), ``viewstate`` (the view and its link),
``render`` (views -> panels, batched), ``catalog`` (which checkpoint a view uses), ``sources``
(image sources), ``figures`` and ``export`` (what is drawn and downloaded), ``sweeps`` (mode
comparisons), ``scanpath``, ``latent_batch``, ``runs`` and ``grid`` (training runs and sweep
results), ``evaluation`` (the shipped demos' held-out quality).
"""
