"""Every Streamlit widget key, in one place: the pages, the sidebar and the widgets read them from here.

A key is the widget's identity in ``st.session_state`` (never its label). Tests address widgets
by these same strings.
"""

MODE = "w_mode"
RATIO = "w_ratio"
FILL = "w_fill"
SEED = "w_seed"
FIXATION_X, FIXATION_Y = "w_fx", "w_fy"
ATTENTION = "w_attention"
ATTENTION_X, ATTENTION_Y = "w_ax", "w_ay"
CLICK_TARGET = "w_click_target"
HARMONIC = "w_harmonic"
SOURCE = "w_source"
GALLERY_PHOTO = "w_gallery"
SCENE = "w_synthetic"
UPLOAD = "w_upload"
SPLIT = "w_split"
CLASS = "w_class"
CHECKPOINT = "w_checkpoint"
SCAN_MODE, SCAN_RATIO = "w_scan_mode", "w_scan_ratio"
SWEEP_METRIC = "w_sweep_metric"
GRID_FOLDER = "w_grid_folder"
RUNS, RUN_METRIC = "w_runs", "w_run_metric"
TSNE_CUT = "w_tsne_cut"
LATENT_OTHER = "w_latent_other"
BATCH_SOURCE = "w_batch_source"
ALL_CHECKPOINTS = "w_all_checkpoints"
EXPLORE_CLICK = "explore_click"  # the clickable images (streamlit-image-coordinates)
SCANPATH_CLICK = "scanpath_click"
STL10_POSITION = "w_stl10_pos"
