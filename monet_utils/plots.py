"""Figures: image grids, domain previews, loss curves, comparisons.

Every function returns the matplotlib `Figure` (so notebooks show it inline) and, when
given `path`, also saves it atomically as PNG.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

import matplotlib

# Headless CLI and CI get Agg; Jupyter sets MPLBACKEND (inline) and keeps it.
if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def as_display(image) -> np.ndarray:
    """Image in [-1, 1] float or uint8 -> float [0, 1] for imshow."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    return np.clip((array.astype(np.float32) + 1.0) / 2.0, 0.0, 1.0)


def save_figure(figure: plt.Figure, path: str, dpi: int = 100) -> str:
    """Saves a figure as PNG via a temporary file and rename; returns `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.partial.png"
    figure.savefig(tmp, dpi=dpi, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def image_grid(rows: Sequence[Sequence], row_titles: Optional[Sequence[str]] = None,
               column_titles: Optional[Sequence[str]] = None, title: Optional[str] = None,
               cell_inches: float = 1.8, path: Optional[str] = None) -> plt.Figure:
    """A grid of images, one list per row ([-1, 1] floats or uint8).

    Rows may have different lengths; missing cells stay blank.
    """
    n_rows = len(rows)
    n_cols = max((len(row) for row in rows), default=1) or 1
    figure, axes = plt.subplots(n_rows, n_cols, figsize=(cell_inches * n_cols, cell_inches * n_rows + 0.4),
                                squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n_cols):
            axis = axes[r][c]
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():
                spine.set_visible(False)
            if c < len(row):
                axis.imshow(as_display(row[c]))
            if c == 0 and row_titles:
                axis.set_ylabel(row_titles[r], fontsize=10)
            if r == 0 and column_titles and c < len(column_titles):
                axis.set_title(column_titles[c], fontsize=9)
    if title:
        figure.suptitle(title, fontsize=12)
    figure.tight_layout()
    if path:
        save_figure(figure, path)
    return figure


def domain_preview(data_dir: str, per_domain: int = 8, source: str = "auto",
                   path: Optional[str] = None) -> plt.Figure:
    """First images of each domain with their counts: what `make demo` shows first."""
    from . import data

    rows, titles = [], []
    for domain in data.DOMAINS:
        encoded = data.read_domain(data_dir, domain, source)
        images = [image for image in data.encoded_dataset(encoded).take(per_domain).as_numpy_iterator()]
        rows.append(images)
        label = "Monet paintings" if domain == "monet" else "photos"
        titles.append(f"{label}\n{len(encoded)} ({encoded.source})")
    return image_grid(rows, row_titles=titles, title=f"{data_dir}", path=path)


def loss_curves(history: Sequence[dict], keys: Optional[Sequence[str]] = None, title: str = "losses",
                path: Optional[str] = None) -> plt.Figure:
    """Per-epoch curves from a run's history.json (a list of {"epoch": n, name: value})."""
    if not history:
        raise ValueError("loss_curves: empty history (no completed epoch)")
    keys = keys or [k for k in history[0] if k != "epoch" and isinstance(history[0][k], (int, float))]
    epochs = [entry["epoch"] for entry in history]
    figure, axis = plt.subplots(figsize=(7, 4))
    for key in keys:
        axis.plot(epochs, [entry.get(key, np.nan) for entry in history], marker=".", label=key)
    axis.set_xlabel("epoch")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, ncol=2)
    figure.tight_layout()
    if path:
        save_figure(figure, path)
    return figure


def dominant_colours(images, colours: int = 8, seed: int = 0, iterations: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """The palette of a set of images: k-means over (sub-sampled) pixels.

    Returns:
        (colours as float [0, 1] RGB sorted by share, share of pixels of each).
    """
    pixels = np.concatenate([as_display(image).reshape(-1, 3) for image in images])
    rng = np.random.default_rng(seed)
    pixels = pixels[rng.choice(len(pixels), size=min(len(pixels), 20000), replace=False)]
    centres = pixels[rng.choice(len(pixels), size=colours, replace=False)]
    for _ in range(iterations):
        nearest = np.argmin(((pixels[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        for k in range(colours):
            members = pixels[nearest == k]
            if len(members):
                centres[k] = members.mean(axis=0)
    share = np.bincount(nearest, minlength=colours) / len(pixels)
    order = np.argsort(-share)
    return centres[order], share[order]


def colour_statistics(monet_images, photo_images, path: Optional[str] = None) -> plt.Figure:
    """Monet vs photos: per-channel histograms, mean colour and dominant palettes."""
    figure = plt.figure(figsize=(12, 5.5))
    grid = figure.add_gridspec(2, 3, height_ratios=[3, 1])
    for column, (channel, colour) in enumerate(zip(range(3), ("red", "green", "blue"))):
        axis = figure.add_subplot(grid[0, column])
        for images, label, style in ((monet_images, "monet", "-"), (photo_images, "photo", "--")):
            values = np.concatenate([as_display(image)[..., channel].ravel() for image in images])
            hist, edges = np.histogram(values, bins=64, range=(0, 1), density=True)
            axis.plot((edges[:-1] + edges[1:]) / 2, hist, style, color=colour, label=label)
        axis.set_title(f"{colour} channel")
        axis.set_xlabel("intensity")
        axis.legend(fontsize=8)
    for row_offset, (images, label) in enumerate(((monet_images, "monet"), (photo_images, "photo"))):
        axis = figure.add_subplot(grid[1, row_offset])
        palette, share = dominant_colours(images)
        left = 0.0
        for colour, width in zip(palette, share):
            axis.barh(0, width, left=left, color=colour, height=1)
            left += width
        mean = np.mean([as_display(image).mean(axis=(0, 1)) for image in images], axis=0)
        axis.set_title(f"{label} palette (mean RGB {np.round(mean * 255).astype(int).tolist()})", fontsize=9)
        axis.set_xlim(0, 1)
        axis.axis("off")
    figure.tight_layout()
    if path:
        save_figure(figure, path)
    return figure
