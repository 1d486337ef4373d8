"""Figures for the explorer: pixelated images with markers (uint8 arrays) and Plotly charts.

Images are drawn as uint8 ``(H * s, W * s, 3)`` arrays (nearest-neighbour upscaling, so
the 96 x 96 pixels stay visible); maps and curves are Plotly figures with colour bars and
hover values. Nothing here imports Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly import colors
from plotly.colors import sequential

from ..data import to_uint8_image
from ..results import ConditionSummary
from .runs import ProbeRow

MARKER_COLOURS = ((255, 40, 40), (40, 200, 255), (255, 210, 0))  # fixation, attention, others
SUGGESTION_COLOUR = (60, 230, 90)
CLUSTER_COLOURS = np.array(
    [
        (230, 25, 75),
        (60, 180, 75),
        (0, 130, 200),
        (255, 225, 25),
        (145, 30, 180),
        (70, 240, 240),
        (245, 130, 48),
        (240, 50, 230),
    ],
    dtype=np.float32,
)
# template "none" plus explicit colours: applying a named template costs ~30 ms per figure
LAYOUT = {
    "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
    "template": "none",
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "font": {"size": 12, "color": "#31333f"},
}
GRID = {"gridcolor": "#e6e6e6", "zerolinecolor": "#cccccc", "automargin": True}  # room for tick labels and titles
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.3}  # under the x-axis title, not over it
METRIC_LABELS = {"masked_mse": "masked MSE", "foreground_mse": "foreground-weighted MSE"}  # a metric's name for people


def pixelated(image: torch.Tensor, scale: int = 4) -> np.ndarray:
    """``(3, H, W)`` in [0, 1] or ``(H, W)`` -> uint8 ``(H * scale, W * scale, 3)``, nearest-neighbour."""
    if image.ndim == 2:
        image = image.unsqueeze(0).expand(3, -1, -1)
    array = to_uint8_image(image)
    return np.repeat(np.repeat(array, scale, axis=0), scale, axis=1)


def framed(array: np.ndarray, width: int = 2, colour: tuple[int, int, int] = (160, 160, 160)) -> np.ndarray:
    """A uint8 ``(H, W, 3)`` image with a thin frame drawn over its edge (a copy), e.g. for white masks."""
    out = array.copy()
    out[:width], out[-width:], out[:, :width], out[:, -width:] = colour, colour, colour, colour
    return out


def draw_markers(
    array: np.ndarray,
    points: Sequence[tuple[int, int]],
    scale: int,
    colours: Sequence[tuple[int, int, int]] | None = None,
) -> np.ndarray:
    """Draw a ring with a centre dot at each pixel ``(x, y)`` of the original image (a copy is returned).

    Default colours: red for the first point (the fixation), cyan for the second (covert
    attention), yellow for any further point.
    """
    out = array.copy()
    height, width = out.shape[:2]
    radius = max(4.0, 2.6 * scale)
    width_px = max(1.0, scale * 0.35)
    reach = int(np.ceil(radius + 2 * width_px + 2))  # nothing is drawn farther than this from a centre
    for i, (x, y) in enumerate(points):
        colour = colours[i] if colours is not None else MARKER_COLOURS[min(i, 2)]
        cx, cy = (x + 0.5) * scale, (y + 0.5) * scale
        top, left = max(0, int(cy) - reach), max(0, int(cx) - reach)
        rows, cols = np.mgrid[top : min(height, int(cy) + reach + 1), left : min(width, int(cx) + reach + 1)]
        window = out[top : top + rows.shape[0], left : left + rows.shape[1]]  # a view: drawing writes to out
        distance = np.sqrt((cols + 0.5 - cx) ** 2 + (rows + 0.5 - cy) ** 2)
        window[np.abs(distance - radius - width_px - 0.7) <= 0.7] = (0, 0, 0)
        window[(np.abs(distance - radius) <= width_px) | (distance <= max(1.0, scale * 0.4))] = colour
    return out


def marked_image(image: torch.Tensor, points: Sequence[tuple[int, int]], scale: int = 4) -> np.ndarray:
    """The image upscaled with markers at ``points`` (fixation first): uint8 ``(H * s, W * s, 3)``."""
    return draw_markers(pixelated(image, scale), points, scale)


def colour_map(values: torch.Tensor, vmax: float | None = None, colours: list[str] | None = None) -> torch.Tensor:
    """``(H, W)`` values -> ``(3, H, W)`` in [0, 1] through a Plotly colour scale (default Inferno), 0..vmax."""
    stops = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in (colours or sequential.Inferno)]) / 255.0
    v = values.detach().float().cpu().numpy()
    top = vmax if vmax is not None else float(np.nanmax(v)) if v.size else 1.0
    t = np.clip(np.nan_to_num(v) / max(top, 1e-12), 0, 1) * (len(stops) - 1)
    low = np.floor(t).astype(int).clip(0, len(stops) - 2)
    frac = (t - low)[..., None]
    rgb = stops[low] * (1 - frac) + stops[low + 1] * frac
    return torch.from_numpy(rgb).permute(2, 0, 1).float()


def rgb_scale(name: str) -> list[list]:
    """A named Plotly colour scale as ``[[position, "rgb(r, g, b)"], ...]`` (explicit colours render the same
    everywhere; Streamlit's Plotly renders the hex form of some scales' darkest colour wrongly)."""
    scale = colors.get_colorscale(name)
    return [[position, f"rgb{colors.hex_to_rgb(c)}" if c.startswith("#") else c] for position, c in scale]


def heatmap_row(
    maps: Sequence[tuple[str, torch.Tensor]],
    colorscale: str = "Inferno",
    zmax: float | None = None,
    height: int = 340,
    colorbar_title: str = "",
) -> go.Figure:
    """Several ``(H, W)`` maps side by side in one Plotly figure, sharing one colour scale and bar.

    One figure draws faster than one per map; hovering shows x, y and the value of each map.
    """
    arrays = [values.detach().float().cpu().numpy() for _, values in maps]
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.zeros(0)
    top = float(zmax if zmax is not None else (finite.max() if finite.size else 1.0))
    count, gap = len(maps), 0.08
    width = (0.92 - gap * (count - 1)) / count
    traces, layout = [], {
        **LAYOUT,
        "height": height,
        "coloraxis": {
            "colorscale": rgb_scale(colorscale),
            "cmin": 0.0,
            "cmax": max(top, 1e-9),
            "colorbar": {"title": {"text": colorbar_title}, "thickness": 12, "len": 0.9},
        },
        "annotations": [],
    }
    for i, ((title, _), z) in enumerate(zip(maps, arrays, strict=True)):
        suffix = "" if i == 0 else str(i + 1)
        left = i * (width + gap)
        traces.append(
            go.Heatmap(
                z=np.round(z, 5),
                coloraxis="coloraxis",
                xaxis=f"x{suffix}",
                yaxis=f"y{suffix}",
                hovertemplate=f"{title}<br>x=%{{x}}, y=%{{y}}<br>%{{z:.4f}}<extra></extra>",
            )
        )
        layout[f"xaxis{suffix}"] = {"domain": [left, left + width], "showticklabels": False, "ticks": "",
                                    "constrain": "domain"}
        layout[f"yaxis{suffix}"] = {"autorange": "reversed", "scaleanchor": f"x{suffix}", "showticklabels": False,
                                    "ticks": "", "constrain": "domain"}
        layout["annotations"].append(
            {"text": f"<b>{title}</b>", "x": left + width / 2, "y": 1.0, "xref": "paper", "yref": "paper",
             "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 14}}
        )
    return go.Figure(traces, layout=layout)


def line_chart(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float | None]]],
    title: str,
    x_title: str,
    y_title: str,
    log_y: bool = False,
    height: int = 360,
) -> go.Figure:
    """One line with markers per named curve ``name -> (xs, ys)``; ``None`` values leave gaps."""
    figure = go.Figure()
    for name, (xs, ys) in curves.items():
        figure.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines+markers", name=name))
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=height,
        legend=LEGEND_BELOW,
        xaxis=GRID,
        yaxis=GRID,
        **LAYOUT,
    )
    if log_y:
        figure.update_yaxes(type="log")
    xs = [x for xs, _ in curves.values() for x in xs]
    if xs and all(float(x).is_integer() for x in xs):  # epochs, fixation counts: whole-number ticks only
        figure.update_xaxes(dtick=max(1, math.ceil((max(xs) - min(xs)) / 10)))
    return figure


def ratio_sweep_chart(curves: Mapping[str, tuple[Sequence[float], Sequence[float | None]]], metric: str) -> go.Figure:
    """Error vs masking ratio, one line per mode."""
    label = METRIC_LABELS.get(metric, metric)
    return line_chart(curves, f"{label} vs masking ratio", "masking ratio", label)


def scanpath_chart(curves: Mapping[str, Sequence[float | None]], metric: str) -> go.Figure:
    """Error after each fixation, one line per scanpath (yours, suggested, random)."""
    data = {name: (list(range(1, len(values) + 1)), values) for name, values in curves.items()}
    label = METRIC_LABELS.get(metric, metric)
    return line_chart(data, f"{label} after each fixation", "number of fixations", label)


def probe_chart(rows: Sequence[ProbeRow]) -> go.Figure:
    """Grouped bars: our probe accuracy per checkpoint next to the paper's number for the same setup."""
    names = [r.checkpoint for r in rows]
    ours = [r.accuracy for r in rows]
    paper = [r.paper_accuracy for r in rows]
    return paper_bars(names, ours, paper, "ours (this checkpoint)", "Linear-probe accuracy: ours vs the paper's")


def grid_chart(summaries: Sequence[ConditionSummary]) -> go.Figure:
    """Fig. 4 as a grid measured it: mean probe accuracy per condition, ± std over seeds, beside the paper's."""
    return paper_bars(
        [item.label for item in summaries],
        [item.mean for item in summaries],
        [item.paper for item in summaries],
        "this grid (mean ± std over seeds)",
        "Linear-probe accuracy per condition",
        [item.std for item in summaries],
    )


def paper_bars(
    names: Sequence[str],
    ours: Sequence[object],
    paper: Sequence[object],
    ours_name: str,
    title: str,
    errors: Sequence[float] | None = None,
) -> go.Figure:
    """Grouped bars of accuracy in percent: ours (with optional error bars) next to the paper's."""
    error_y = None if errors is None else {"type": "data", "array": list(errors), "visible": True}
    figure = go.Figure(
        [
            go.Bar(name=ours_name, x=list(names), y=list(ours), error_y=error_y, marker_color="#1f77b4"),
            go.Bar(name="paper (Fig. 4, STL-10)", x=list(names), y=list(paper), marker_color="#bbbbbb"),
        ]
    )
    figure.update_layout(
        barmode="group",
        title={"text": title, "font": {"size": 14}},
        yaxis_title="accuracy %",
        height=380,
        legend={"orientation": "h", "y": -0.3},
        yaxis=GRID,
        **LAYOUT,
    )
    return figure


def correlation_heatmap(matrix: torch.Tensor, units: Sequence[int]) -> go.Figure:
    """Correlations of latent units ``(k, k)``, diverging colours in [-1, 1], unit ids on hover."""
    ids = np.array([int(u) for u in units])
    trace = go.Heatmap(
        z=np.round(matrix.detach().float().cpu().numpy(), 4),
        customdata=np.stack(np.meshgrid(ids, ids), axis=-1),
        colorscale=rgb_scale("RdBu"),
        zmid=0,
        zmin=-1,
        zmax=1,
        colorbar={"title": {"text": "r"}, "thickness": 12},
        hovertemplate="unit %{customdata[0]} vs unit %{customdata[1]}<br>r = %{z:.3f}<extra></extra>",
    )
    axis = {"showticklabels": False, "ticks": "", "constrain": "domain"}
    layout = {
        **LAYOUT,
        "title": {"text": f"Correlation of the {len(ids)} most variable units", "font": {"size": 14}},
        "height": 480,
        "xaxis": {**axis, "title": "unit"},
        "yaxis": {**axis, "title": "unit", "autorange": "reversed", "scaleanchor": "x"},
    }
    return go.Figure(trace, layout=layout)


def channel_grid_figure(grid: torch.Tensor, columns: int, size: int) -> go.Figure:
    """The latent's channels tiled (``latent.channel_grid``), each scaled to [0, 1], channel index on hover."""
    z = grid.detach().float().cpu().numpy()
    rows_index, cols_index = np.mgrid[0 : z.shape[0], 0 : z.shape[1]]
    channel = (rows_index // (size + 1)) * columns + cols_index // (size + 1)
    figure = go.Figure(
        go.Heatmap(
            z=np.round(z, 3),
            customdata=channel,
            colorscale="Viridis",
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": "scaled"}, "thickness": 12},
            hovertemplate="channel %{customdata}<br>%{z:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title={"text": "Latent channels (each scaled to its own range)", "font": {"size": 14}},
        height=max(300, 40 * z.shape[0] // (size + 1) + 120),
        yaxis={"autorange": "reversed", "scaleanchor": "x", "showticklabels": False, "ticks": "", "showgrid": False},
        xaxis={"showticklabels": False, "ticks": "", "showgrid": False, "constrain": "domain"},
        **LAYOUT,
    )
    return figure


def segmentation_overlay(
    image: torch.Tensor, labels: torch.Tensor, alpha: float = 0.45, scale: int = 4, cell: int | None = None
) -> np.ndarray:
    """Cluster labels ``(h, w)`` (any grid dividing the image) blended over the image: uint8 ``(H * s, W * s, 3)``.

    ``cell`` (a row-major index into the label grid) is outlined in white.
    """
    base = pixelated(image, scale).astype(np.float32)
    step = base.shape[0] // labels.shape[0]
    colours = CLUSTER_COLOURS[labels.cpu().numpy() % len(CLUSTER_COLOURS)]
    colours = np.repeat(np.repeat(colours, step, axis=0), step, axis=1)
    out = np.clip((1 - alpha) * base + alpha * colours, 0, 255).astype(np.uint8)
    if cell is not None:
        row, col = divmod(cell, labels.shape[1])
        box = out[row * step : (row + 1) * step, col * step : (col + 1) * step]
        box[:] = framed(box, width=max(1, step // 8), colour=(255, 255, 255))
    return out


def tsne_scatter(embedding: np.ndarray, labels: np.ndarray, title: str, cell: int | None = None) -> go.Figure:
    """The t-SNE of the latent cells ``(P, 2)``, coloured by cluster ``(P,)`` like the overlay; ``cell`` ringed."""
    colours = [f"rgb{tuple(int(v) for v in CLUSTER_COLOURS[k % len(CLUSTER_COLOURS)])}" for k in labels]
    width = int(np.sqrt(len(labels)))
    text = [f"cell row {i // width}, column {i % width}, cluster {k}" for i, k in enumerate(labels)]
    figure = go.Figure(
        go.Scatter(
            x=embedding[:, 0], y=embedding[:, 1], mode="markers", text=text, hoverinfo="text",
            marker={"color": colours, "size": 9, "line": {"width": 0.5, "color": "#333333"}},
        )
    )  # fmt: skip
    if cell is not None:
        figure.add_trace(
            go.Scatter(
                x=[embedding[cell, 0]], y=[embedding[cell, 1]], mode="markers", hoverinfo="skip",
                marker={"size": 18, "color": "rgba(0,0,0,0)", "line": {"width": 2.5, "color": "#000000"}},
            )
        )  # fmt: skip
    axis = {"showticklabels": False, "zeroline": False, "showgrid": False}
    figure.update_layout(
        title={"text": title, "font": {"size": 13}}, height=330, showlegend=False, xaxis=axis, yaxis=axis,
        dragmode="select", **LAYOUT,
    )  # fmt: skip
    return figure
