"""People's eye movements: fixation tables in the models' frame, priority maps, and their scores.

``recording`` reads a fixation table and its photos (or a pysaliency dataset) into the 96 x 96 frame,
``maps`` computes the model's priority maps for each next fixation, ``scoring`` scores them and the
baselines with pysaliency and MultiMatch.
"""

from .maps import DISAGREEMENT, GAZE_MODES, MAP_NAMES, ORACLE, Masking, greedy_paths, photo_maps
from .recording import MAX_ROWS, Fixation, Recording, TableColumns, from_pysaliency, read_recording, to_pysaliency

__all__ = [
    "DISAGREEMENT",
    "GAZE_MODES",
    "MAP_NAMES",
    "MAX_ROWS",
    "ORACLE",
    "Fixation",
    "Masking",
    "Recording",
    "TableColumns",
    "from_pysaliency",
    "greedy_paths",
    "photo_maps",
    "read_recording",
    "to_pysaliency",
]
