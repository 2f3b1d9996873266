"""The embedded sample set: a small, deterministic stand-in for Kaggle's data.

Kaggle's competition data cannot be downloaded here (and a demo should not need it), so
`write_sample_data(DIR)` writes a few dozen images per domain in Kaggle's exact layout
(TFRecords and JPEG folders). Photos are crops of the real photographs bundled inside
scikit-image's wheel. The "monet" domain is **not Monet**: it is a painterly rendering
(Kuwahara smoothing, an impressionist palette, brush-stroke texture) of other crops of the
same photographs. It exercises every code path; it cannot teach a model Monet's style.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil

import numpy as np
from PIL import Image
from scipy import ndimage

# Colour photographs shipped inside the scikit-image wheel (not the ones fetched on first use).
SOURCE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                 "motorcycle_right.png", "hubble_deep_field.jpg")
# A Monet-like palette: water blues, lilacs, lily-pad greens, poppy reds, sunlit yellows.
IMPRESSIONIST_PALETTE = np.array([
    [62, 92, 140], [98, 137, 181], [151, 182, 212], [198, 214, 226], [142, 128, 178],
    [188, 170, 204], [78, 118, 86], [122, 160, 108], [176, 196, 132], [214, 108, 92],
    [232, 170, 134], [240, 212, 140], [248, 236, 200], [46, 60, 78],
], dtype=np.float32)
JPEG_QUALITY = 95
STAMP = "SAMPLE_DATA.json"
SIZE = 256


def source_photos() -> list[np.ndarray]:
    """The bundled scikit-image photographs as uint8 RGB arrays."""
    try:
        import skimage.data
    except ImportError as error:  # pragma: no cover - dev requirement
        raise ImportError("the sample set needs scikit-image (pip install scikit-image)") from error
    folder = os.path.dirname(skimage.data.__file__)
    photos = []
    for name in SOURCE_PHOTOS:
        with Image.open(os.path.join(folder, name)) as image:
            photos.append(np.asarray(image.convert("RGB")))
    return photos


def random_crop(photo: np.ndarray, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """A random square crop (40-100% of the short side), resized to `size`, maybe mirrored."""
    height, width = photo.shape[:2]
    short = min(height, width)
    side = int(rng.integers(int(short * 0.4), short + 1))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((size, size), Image.LANCZOS)
    array = np.asarray(crop)
    return array[:, ::-1] if rng.random() < 0.5 else array


def kuwahara(image: np.ndarray, radius: int = 4) -> np.ndarray:
    """Kuwahara filter: each pixel takes the mean of its least-varied quadrant (flat strokes)."""
    image = image.astype(np.float32)
    gray = image.mean(axis=2)
    size, half = radius + 1, radius // 2

    def box(channel: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(channel, size, mode="reflect")

    mean_rgb = np.stack([box(image[..., c]) for c in range(3)], axis=-1)
    mean_gray = box(gray)
    variance = box(gray * gray) - mean_gray * mean_gray
    means, variances = [], []
    for dy in (-half, half):
        for dx in (-half, half):
            # The quadrant centred at (y + dy, x + dx): move that box statistic onto (y, x).
            means.append(ndimage.shift(mean_rgb, (-dy, -dx, 0), order=0, mode="nearest"))
            variances.append(ndimage.shift(variance, (-dy, -dx), order=0, mode="nearest"))
    choice = np.argmin(np.stack(variances), axis=0)
    return np.take_along_axis(np.stack(means), choice[None, ..., None], axis=0)[0]


def paint(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Renders a photo crop as an impressionist-looking painting (uint8 RGB)."""
    smooth = kuwahara(photo, radius=int(rng.integers(3, 6)))
    # Pull colours towards the palette: nearest palette colour, blended with the original.
    flat = smooth.reshape(-1, 3)
    nearest = IMPRESSIONIST_PALETTE[np.argmin(
        ((flat[:, None, :] - IMPRESSIONIST_PALETTE[None]) ** 2).sum(-1), axis=1)]
    blend = 0.55 * nearest + 0.45 * flat
    painted = blend.reshape(smooth.shape)
    # Brush strokes: noise smeared along one direction per painting, modulating brightness.
    angle = float(rng.uniform(0, 180))
    noise = rng.normal(size=photo.shape[:2]).astype(np.float32)
    strokes = ndimage.uniform_filter1d(ndimage.rotate(noise, angle, reshape=False, mode="wrap"), 9, axis=1)
    strokes = ndimage.rotate(strokes, -angle, reshape=False, mode="wrap")
    strokes /= strokes.std() + 1e-6
    painted = painted * (1.0 + 0.06 * strokes[..., None])
    # Lighter, softer light, as en plein air.
    painted = 0.9 * painted + 0.1 * 235.0
    return np.clip(painted, 0, 255).astype(np.uint8)


def image_name(domain: str, index: int, seed: int) -> str:
    """Kaggle-like 10-hex-digit name, stable for (domain, index, seed)."""
    return hashlib.sha1(f"{domain}-{index}-{seed}".encode()).hexdigest()[:10]


def encode_jpeg(array: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """uint8 RGB array -> JPEG bytes (deterministic for a given Pillow)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def write_tfrecords(records: list[tuple[str, bytes]], folder: str, domain: str, shards: int) -> list[str]:
    """Writes `(name, jpeg)` records in Kaggle's TFRecord format, split into shards.

    Features (all bytes, as in Kaggle's files): image_name, image, target.
    """
    import tensorflow as tf

    os.makedirs(folder, exist_ok=True)
    paths = []
    for shard, chunk in enumerate(np.array_split(np.arange(len(records)), shards)):
        path = os.path.join(folder, f"{domain}{shard:02d}-{len(chunk)}.tfrec")
        with tf.io.TFRecordWriter(path) as writer:
            for index in chunk:
                name, jpeg = records[index]
                feature = {
                    "image_name": _bytes_feature(name.encode()),
                    "image": _bytes_feature(jpeg),
                    "target": _bytes_feature(domain.encode()),
                }
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
        paths.append(path)
    return paths


def _bytes_feature(value: bytes):
    import tensorflow as tf

    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def write_sample_data(out_dir: str, monet_count: int = 30, photo_count: int = 60, seed: int = 0,
                      force: bool = False, progress: bool = True) -> dict:
    """Writes the sample set in Kaggle's layout (both TFRecords and JPEG folders).

    Deterministic for (counts, seed). Written to `out_dir.partial` and renamed, so an
    interrupted run never leaves a half-written set; an existing complete set with the
    same settings is kept (idempotent) unless `force`.

    Returns:
        The stamp written to `out_dir/SAMPLE_DATA.json` (counts, seed, note).
    """
    if monet_count < 2 or photo_count < 2:
        raise ValueError(f"sample set: monet_count={monet_count}, photo_count={photo_count}: expected >= 2 each")
    settings = {"monet": monet_count, "photo": photo_count, "seed": seed}
    stamp_path = os.path.join(out_dir, STAMP)
    if os.path.exists(stamp_path) and not force:
        with open(stamp_path, encoding="utf-8") as handle:
            stamp = json.load(handle)
        if stamp.get("settings") == settings:
            return stamp
        raise FileExistsError(f"{out_dir} holds a sample set with other settings {stamp.get('settings')}; "
                              f"pass force=True (--force) to replace it")
    if os.path.exists(out_dir) and not os.path.exists(stamp_path) and os.listdir(out_dir) and not force:
        raise FileExistsError(f"{out_dir} exists and is not a sample set; choose an empty folder or --force")

    partial = out_dir.rstrip("/") + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    rng = np.random.default_rng(seed)
    photos = source_photos()
    iterator = range(monet_count + photo_count)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="sample set", unit="img")
    made: dict[str, list[tuple[str, bytes]]] = {"monet": [], "photo": []}
    for index in iterator:
        domain = "monet" if index < monet_count else "photo"
        number = index if domain == "monet" else index - monet_count
        crop = random_crop(photos[int(rng.integers(len(photos)))], rng)
        array = paint(crop, rng) if domain == "monet" else crop
        made[domain].append((image_name(domain, number, seed), encode_jpeg(array)))
    for domain, records in made.items():
        jpg_folder = os.path.join(partial, f"{domain}_jpg")
        os.makedirs(jpg_folder)
        for name, jpeg in records:
            with open(os.path.join(jpg_folder, f"{name}.jpg"), "wb") as handle:
                handle.write(jpeg)
        write_tfrecords(records, os.path.join(partial, f"{domain}_tfrec"), domain,
                        shards=2 if domain == "monet" else 3)
    stamp = {
        "settings": settings,
        "note": ("Stand-in data for demos and tests. Photos: crops of scikit-image's bundled photographs. "
                 "'monet': painterly renderings of other crops, NOT Monet's paintings."),
        "sources": list(SOURCE_PHOTOS),
    }
    with open(os.path.join(partial, STAMP), "w", encoding="utf-8") as handle:
        json.dump(stamp, handle, indent=2)
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(os.path.dirname(os.path.abspath(out_dir)), exist_ok=True)
    os.replace(partial, out_dir)
    return stamp
