"""The image and its cell grid, as the paper fixes them: 96 x 96 pixel images cut into 8 x 8 pixel cells.

One grid serves everything that works in cells: the CNN's latent (three stride-2 stages take 96 px to 12),
the random-patch mask's patches, the latent objective's target cells and ConvNeXt's visibility cells.
"""

IMAGE_SIZE = 96  # pixels per side: STL-10's images, and every image the models see
CELL_PIXELS = 8  # pixels per side of one cell (a random patch)
GRID = IMAGE_SIZE // CELL_PIXELS  # cells per side: 12
GRID_CELLS = GRID * GRID  # 144
