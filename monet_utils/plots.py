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
    from .config import atomic_file

    with atomic_file(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=dpi, bbox_inches="tight")
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
                   path: Optional[str] = None, encoded_domains: Optional[dict] = None) -> plt.Figure:
    """First images of each domain with their counts: what `make demo` shows first.

    `encoded_domains` ({domain: `data.EncodedImages`}) saves reading them again.
    """
    from . import data

    rows, titles = [], []
    for domain in data.DOMAINS:
        encoded = (encoded_domains or {}).get(domain) or data.read_domain(data_dir, domain, source)
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


def show_png(path: str, title: Optional[str] = None) -> plt.Figure:
    """A saved PNG (e.g. a run's sample grid) as a figure, at its own size."""
    import matplotlib.image

    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    figure = plt.figure(figsize=(width / 100, height / 100))
    axis = figure.add_axes([0, 0, 1, 1])
    axis.imshow(image)
    axis.axis("off")
    if title:
        axis.set_title(title)
    return figure


def zip_preview(zip_path: str, count: int = 8, columns: int = 8, path: Optional[str] = None) -> plt.Figure:
    """The first `count` images of a submission zip, titled with their names."""
    import io
    import zipfile

    from PIL import Image

    images, names = [], []
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist()[:count]:
            with Image.open(io.BytesIO(archive.read(info))) as image:
                images.append(np.asarray(image.convert("RGB")))
            names.append(info.filename)
    if not images:
        raise ValueError(f"{zip_path}: no images to preview")
    rows = [images[start:start + columns] for start in range(0, len(images), columns)]
    figure = image_grid(rows, title=f"{os.path.basename(zip_path)}: first {len(images)} entries", path=path)
    for axis, name in zip(figure.axes, names):
        axis.set_title(name, fontsize=7)
    return figure


def translation_comparison(photos, generators: dict, title: Optional[str] = None,
                           path: Optional[str] = None) -> plt.Figure:
    """Photos beside each generator's translation of them: one row per photo.

    The seed project's "From / To" figure, with any number of columns (e.g. stage 1,
    the stage-1 control trained on, stage 2).

    Args:
        photos: [-1, 1] photos at the generators' input size (array or list).
        generators: {column label: photo -> Monet model}.
    """
    photos = np.asarray(photos, dtype=np.float32)
    columns = [list(photos)] + [list(np.asarray(model(photos, training=False))) for model in generators.values()]
    rows = [list(cells) for cells in zip(*columns)]
    return image_grid(rows, column_titles=["photo", *generators], title=title, path=path)


def score_bars(scores: dict, metrics: Sequence[str] = ("mifid", "fid", "kid"), title: str = "",
               path: Optional[str] = None) -> plt.Figure:
    """Bar charts of MiFID/FID/KID per run (lower is better), from `MifidResult`s or dicts.

    The feature level goes into the title, and an uncalibrated score says so on the figure.
    """
    rows = {label: (value.to_dict() if hasattr(value, "to_dict") else dict(value)) for label, value in scores.items()}
    if not rows:
        raise ValueError("score_bars: no scores to plot")
    metrics = [metric for metric in metrics if any(row.get(metric) is not None for row in rows.values())]
    figure, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.6), squeeze=False)
    labels = list(rows)
    for axis, metric in zip(axes[0], metrics):
        values = [np.nan if rows[label].get(metric) is None else rows[label][metric] for label in labels]
        bars = axis.bar(range(len(labels)), values, color=plt.cm.tab10(np.arange(len(labels)) % 10))
        axis.bar_label(bars, fmt="%.3g", fontsize=8)
        axis.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
        axis.set_title(f"{metric.upper()} (lower is better)", fontsize=10)
    levels = sorted({str(row.get("feature_level")) for row in rows.values()})
    banner = f"features: {', '.join(levels)}"
    if "uncalibrated" in levels:
        banner += "  -  UNCALIBRATED (random Inception weights): not comparable with Kaggle's scores"
    figure.suptitle(f"{title}\n{banner}" if title else banner, fontsize=10,
                    color="#c00" if "uncalibrated" in levels else "black")
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


# --------------------------------------------------------------------------- recipe comparison
def _recipe_colours(names: Sequence[str]) -> list:
    palette = plt.get_cmap("tab10")
    return ["0.55" if name == "baseline" else palette(index % 10) for index, name in enumerate(names)]


def recipe_comparison(results: Sequence, path: Optional[str] = None) -> plt.Figure:
    """Table and bar charts (MiFID, KID, seconds per step) of a recipe comparison.

    Args:
        results: `recipes.RecipeResult`s (from `recipes.compare` or `recipes.load_results`).
        path: also save the figure here (PNG).
    """
    if not results:
        raise ValueError("recipe_comparison: no results (run recipes.compare first)")
    names = [result.recipe for result in results]
    colours = _recipe_colours(names)
    figure = plt.figure(figsize=(min(20.0, max(11.0, 2.0 * len(results) + 5.0)), 4.2 + 0.32 * len(results)))
    grid = figure.add_gridspec(2, 3, height_ratios=[0.5 + 0.32 * len(results), 3.2])

    table_axis = figure.add_subplot(grid[0, :])
    table_axis.axis("off")
    columns = ["recipe", "steps", "s/step", "MiFID", "FID", "KID", "distance", "features"]
    cells = []
    for result in results:
        timing = "-" if result.seconds_per_step is None else f"{result.seconds_per_step:.3f}"
        cells.append([
            result.recipe, f"{result.steps}" + ("" if result.complete else " (stopped)"),
            timing + (" (incl. compile)" if result.seconds_per_step_includes_compile else ""),
            f"{result.mifid:.2f}", f"{result.fid:.2f}", "-" if result.kid is None else f"{result.kid:.4f}",
            f"{result.distance:.4f}", str(result.feature_level)])
    table = table_axis.table(cellText=cells, colLabels=columns, loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1.0, 1.25)
    best = int(np.argmin([result.mifid for result in results]))
    table[best + 1, 3].set_text_props(fontweight="bold")

    positions = np.arange(len(results))
    charts = (
        ("MiFID (lower is better)", [r.mifid for r in results], None),
        ("KID (lower is better)", [np.nan if r.kid is None else r.kid for r in results],
         [0.0 if r.kid_std is None else r.kid_std for r in results]),
        ("seconds per training step", [np.nan if r.seconds_per_step is None else r.seconds_per_step
                                       for r in results], None),
    )
    for column, (label, values, errors) in enumerate(charts):
        axis = figure.add_subplot(grid[1, column])
        axis.bar(positions, values, color=colours, yerr=errors, capsize=3 if errors else 0)
        axis.set_xticks(positions)
        axis.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
        axis.set_title(label, fontsize=10)
        axis.grid(axis="y", alpha=0.3)

    levels = sorted({str(result.feature_level) for result in results})
    sizes = sorted({(r.generated_count, r.real_count, r.image_size, r.steps) for r in results})
    subtitle = "; ".join(f"{g} photos vs {n} paintings at {s} px, {steps} steps" for g, n, s, steps in sizes)
    title = f"Recipes at an equal budget ({subtitle}); features: {', '.join(levels)}"
    if "uncalibrated" in levels:
        title += "\nUNCALIBRATED (random Inception weights): ranks these runs roughly, not comparable with Kaggle"
    figure.suptitle(title, fontsize=10, color="#a00" if "uncalibrated" in levels else "black")
    figure.tight_layout()
    if path:
        save_figure(figure, path)
    return figure


def recipe_translations(results: Sequence, count: Optional[int] = None, path: Optional[str] = None
                        ) -> plt.Figure:
    """The same photos translated by each recipe's Monet generator: one row per recipe.

    Reads the `translations.npz` that `recipes.compare` keeps beside each result.
    """
    if not results:
        raise ValueError("recipe_translations: no results (run recipes.compare first)")
    photos, _ = results[0].translations()
    count = min(count or len(photos), len(photos))
    rows = [list(photos[:count])]
    titles = ["photo"]
    for result in results:
        own_photos, translations = result.translations()
        if own_photos.shape != photos.shape or not np.array_equal(own_photos[:count], photos[:count]):
            raise ValueError(f"recipe_translations: {result.recipe} was measured on other photos than "
                             f"{results[0].recipe}; compare runs of one comparison")
        rows.append(list(translations[:count]))
        mifid = f"MiFID {result.mifid:.1f}"
        titles.append(f"{result.recipe.replace('+', '+' + chr(10))}\n{mifid}")
    return image_grid(rows, row_titles=titles, title="the same photos, translated by each recipe",
                      path=path)
