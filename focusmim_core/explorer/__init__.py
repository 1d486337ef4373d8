"""What only the explorer's front-ends (Streamlit, Gradio, the HTTP API) use, apart from the paper's science.

The front-ends get what they show from ``service`` (a view in, its image, network and panels out;
mode comparisons, ratio sweeps, scanpaths, the checkpoint catalog, training runs, latents and
exports) and draw it with ``figures``. Behind the service: ``viewstate`` (the view and its link),
``render`` (views -> panels, batched), ``controls`` (the Explore controls), ``catalog`` (which
checkpoint a view uses), ``sources`` (image sources), ``export``, ``sweeps`` (error against the
ratio), ``scanpath``, ``runs`` (training runs) and ``latent_batch``; ``views`` (the five views' ids, shared by
both front-ends) and ``research`` (what the research views show, as tables, figures and sentences).
"""
