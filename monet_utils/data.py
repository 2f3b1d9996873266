"""Kaggle's `gan-getting-started` data: readers, decoding, augmentation, unpaired batches.

Layout (KAGGLE.md): `monet_tfrec/*.tfrec`, `photo_tfrec/*.tfrec` (features `image_name`,
`image` = JPEG bytes, `target`) and `monet_jpg/*.jpg`, `photo_jpg/*.jpg`. Paths may be
local or `gs://` (older Kaggle TPU nodes read from Cloud Storage); all file access goes
through `tf.io.gfile`.

Every reader first runs an eager check pass over the encoded bytes (Python, before any
graph runs): errors inside graph-mode `tf.data` cannot name the file, so corrupt or
truncated images are found here and reported by name.
"""

from __future__ import annotations

import io
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image

DOMAINS = ("monet", "photo")
SOURCES = ("auto", "tfrec", "jpg")
# Kaggle's images are 256x256 RGB, and the submission must be 256x256x3.
IMAGE_SIZE = 256
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Random jitter as in the CycleGAN paper: resize 256 -> 286, random crop back to 256.
JITTER_SCALE = 286 / 256
DEFAULT_SHUFFLE_BUFFER = 1000


class DataError(ValueError):
    """Input data is missing or broken; the message names the files."""


@dataclass(frozen=True)
class EncodedImages:
    """One domain's images as read from disk, still encoded (JPEG/PNG bytes).

    Attributes:
        domain: "monet" or "photo".
        source: "tfrec" or "jpg" (the layout they came from).
        names: image names without extension (TFRecord `image_name`, or the file stem).
        data: encoded bytes, one per name.
        origins: where each image came from, for messages ("photo_jpg/abc.jpg",
            "photo_tfrec/photo00-10.tfrec#3").
        sizes: (width, height) of each image as stored (empty when not checked).
        modes: PIL mode of each image as stored ("RGB", "L", ...; empty when not checked).
    """

    domain: str
    source: str
    names: tuple[str, ...]
    data: tuple[bytes, ...]
    origins: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...]
    modes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.names)


def domain_folders(data_dir: str, domain: str) -> dict[str, str]:
    """The two places a domain can live: {"tfrec": ".../monet_tfrec", "jpg": ".../monet_jpg"}."""
    return {"tfrec": _join(data_dir, f"{domain}_tfrec"), "jpg": _join(data_dir, f"{domain}_jpg")}


def find_files(data_dir: str, domain: str, source: str = "auto") -> tuple[str, list[str]]:
    """Finds a domain's files; `source="auto"` prefers TFRecords.

    Returns:
        (source, sorted file paths) with source "tfrec" or "jpg".

    Raises:
        DataError: neither layout is there; the message names the expected folders.
    """
    _check_choice("domain", domain, DOMAINS)
    _check_choice("source", source, SOURCES)
    folders = domain_folders(data_dir, domain)
    found: dict[str, list[str]] = {}
    for kind in ("tfrec", "jpg"):
        if source in ("auto", kind) and tf.io.gfile.isdir(folders[kind]):
            entries = sorted(tf.io.gfile.listdir(folders[kind]))
            if kind == "tfrec":
                files = [e for e in entries if e.endswith(".tfrec") or e.endswith(".tfrecord")]
            else:
                files = [e for e in entries if e.lower().endswith(IMAGE_EXTENSIONS)]
                others = [e for e in entries if not e.startswith(".") and e not in files
                          and not e.lower().endswith(IMAGE_EXTENSIONS)]
                if others:
                    warnings.warn(f"{folders[kind]}: ignoring {len(others)} file(s) that are not "
                                  f"{'/'.join(IMAGE_EXTENSIONS)} images, e.g. {others[0]!r}", stacklevel=2)
            if files:
                found[kind] = [_join(folders[kind], name) for name in files]
    for kind in ("tfrec", "jpg"):
        if kind in found:
            return kind, found[kind]
    if not tf.io.gfile.isdir(data_dir):
        where = f"data folder {data_dir!r} does not exist"
    else:
        where = f"no {domain} images in {data_dir!r}"
    wanted = {"tfrec": f"{folders['tfrec']}/*.tfrec", "jpg": f"{folders['jpg']}/*.jpg"}
    expected = " or ".join(wanted[k] for k in ("tfrec", "jpg") if source in ("auto", k))
    raise DataError(f"{where}: expected {expected} (Kaggle's gan-getting-started layout; "
                    f"`python -m monet_utils sample-data DIR` writes a small one)")


def read_domain(data_dir: str, domain: str, source: str = "auto", check: bool = True) -> EncodedImages:
    """Reads one domain's encoded images and checks that each one decodes.

    Args:
        data_dir: the dataset folder (local path or gs:// prefix).
        domain: "monet" or "photo".
        source: "tfrec", "jpg", or "auto" (TFRecords when present).
        check: decode every image once in Python to find broken files (fast; on by default).

    Raises:
        DataError: missing folders, corrupt TFRecords, or images that do not decode,
            each named.
    """
    kind, files = find_files(data_dir, domain, source)
    if kind == "tfrec":
        names, data, origins = _read_tfrecords(files, data_dir)
    else:
        names, data, origins = _read_image_files(files, data_dir)
    sizes: list[tuple[int, int]] = []
    modes: list[str] = []
    if check:
        sizes, modes = _check_decodes(data, origins)
        odd = sum(1 for size in sizes if size != (IMAGE_SIZE, IMAGE_SIZE))
        if odd:
            warnings.warn(f"{odd} of {len(sizes)} {domain} images in {data_dir} are not "
                          f"{IMAGE_SIZE}x{IMAGE_SIZE}; they are resized to {IMAGE_SIZE}x{IMAGE_SIZE}",
                          stacklevel=2)
    return EncodedImages(domain, kind, tuple(names), tuple(data), tuple(origins), tuple(sizes), tuple(modes))


def load_domain(data_dir: str, domain: str, source: str = "auto", with_names: bool = False,
                image_size: int = IMAGE_SIZE, check: bool = True) -> tf.data.Dataset:
    """One domain as an unbatched dataset of float32 (size, size, 3) images in [-1, 1].

    Args:
        data_dir: the dataset folder (local path or gs:// prefix).
        domain: "monet" or "photo".
        source: "tfrec", "jpg", or "auto" (TFRecords when present).
        with_names: yield `(name, image)` instead of `image` (names without extension).
        image_size: output size (256 for Kaggle; smaller for quick experiments).
        check: run the eager decode check first (see `read_domain`).

    Returns:
        A finite `tf.data.Dataset` in file order.
    """
    return encoded_dataset(read_domain(data_dir, domain, source, check), with_names, image_size)


def encoded_dataset(images: EncodedImages, with_names: bool = False,
                    image_size: int = IMAGE_SIZE) -> tf.data.Dataset:
    """Turns `EncodedImages` into the decoded dataset `load_domain` returns."""
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.constant(images.names, tf.string), tf.constant(images.data, tf.string)))

    def decode(name: tf.Tensor, data: tf.Tensor):
        image = decode_image(data, image_size)
        return (name, image) if with_names else image

    return dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE)


def decode_image(data: tf.Tensor, image_size: int = IMAGE_SIZE) -> tf.Tensor:
    """JPEG/PNG bytes -> float32 (size, size, 3) in [-1, 1]; gray and RGBA become RGB."""
    # JPEGs (all of Kaggle's) with the accurate integer DCT: pixel-identical to PIL, which is
    # how Kaggle's scorer and most users read images; TF's default DCT differs by up to ~17/255.
    image = tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
    )
    image = tf.cast(image, tf.float32)
    height_width = tf.shape(image)[:2]
    image = tf.cond(
        tf.reduce_all(tf.equal(height_width, image_size)),
        lambda: image,
        lambda: tf.image.resize(image, [image_size, image_size], antialias=True),
    )
    image = tf.ensure_shape(image, [image_size, image_size, 3])
    return image / 127.5 - 1.0


def to_uint8(images: tf.Tensor | np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> uint8 [0, 255] NumPy (rounded, clipped)."""
    array = np.asarray(images, dtype=np.float32)
    return np.clip(np.rint((array + 1.0) * 127.5), 0, 255).astype(np.uint8)


def augment(image: tf.Tensor, seed: tf.Tensor, operations: Sequence[str] = ("jitter", "flip", "rot90")
            ) -> tf.Tensor:
    """Random jitter, horizontal flip and 90-degree rotation, each switchable.

    Stateless: the same `seed` (shape [2] int) always gives the same result, whatever
    the thread timing of the pipeline.
    """
    unknown = set(operations) - {"jitter", "flip", "rot90"}
    if unknown:
        raise ValueError(f"augment: unknown operations {sorted(unknown)}; expected jitter, flip, rot90")
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    size = image.shape[0]
    if "jitter" in operations:
        big = int(round(size * JITTER_SCALE))
        image = tf.image.resize(image, [big, big])
        image = tf.image.stateless_random_crop(image, [size, size, 3], seed=seeds[0])
    if "flip" in operations:
        image = tf.image.stateless_random_flip_left_right(image, seed=seeds[1])
    if "rot90" in operations:
        turns = tf.random.stateless_uniform([], seed=seeds[2], minval=0, maxval=4, dtype=tf.int32)
        image = tf.image.rot90(image, turns)
    return image


def repeat_shuffled(images: tf.Tensor | tf.data.Dataset, seed: int, operations: Sequence[str] = (),
                    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER, cache: bool = False,
                    start_element: int = 0) -> tf.data.Dataset:
    """An endless, shuffled, optionally augmented stream of one domain's images.

    The i-th element is augmented with the stateless seed (seed, i), so the stream is a
    pure function of `seed`; `start_element` skips ahead (resume) before augmenting.
    """
    dataset = images
    if cache:
        dataset = dataset.cache()
    count = int(dataset.cardinality())
    buffer = min(shuffle_buffer, count) if count > 0 else shuffle_buffer
    dataset = dataset.shuffle(max(buffer, 1), seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.enumerate()
    if start_element:
        dataset = dataset.skip(start_element)
    if operations:
        operations = tuple(operations)

        def augment_element(index, image):
            return augment(image, tf.stack([tf.constant(seed, tf.int64), index]), operations)

        return dataset.map(augment_element, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.map(lambda index, image: image)


def unpaired(monet: tf.data.Dataset, photo: tf.data.Dataset, batch_size: int, seed: int = 0,
             augment_monet: Sequence[str] = ("jitter", "flip"), augment_photo: Sequence[str] = (),
             shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER, cache: Sequence[str] = ("monet",),
             start_step: int = 0) -> tf.data.Dataset:
    """Endless `(monet_batch, photo_batch)` pairs for CycleGAN training.

    Each domain is shuffled and repeated on its own (the domains are unpaired), then
    batched by the global batch size (`strategy.num_replicas_in_sync` x per-replica
    batch; full batches only, as TPUs need) and prefetched.

    Args:
        monet, photo: unbatched image datasets from `load_domain`.
        batch_size: the global batch size.
        seed: data order and augmentation seed.
        augment_monet, augment_photo: augmentation operations per domain.
        shuffle_buffer: images held for shuffling (decoded; 1000 at 256 px is ~800 MB).
        cache: domains whose decoded images are kept in memory: the 300 paintings by
            default (236 MB at 256 px); Kaggle's ~7,000 photos would take 5.5 GB.
        start_step: batches to skip, to resume a run where it stopped.
    """
    if batch_size < 1:
        raise ValueError(f"unpaired: batch_size={batch_size}: expected >= 1")
    start = start_step * batch_size
    streams = []
    unknown = set(cache) - set(DOMAINS)
    if unknown:
        raise ValueError(f"unpaired: cache={tuple(cache)!r}: expected domain names from {DOMAINS}")
    domains = (("monet", monet, augment_monet), ("photo", photo, augment_photo))
    for index, (domain, images, operations) in enumerate(domains):
        stream = repeat_shuffled(images, seed * 2 + index, operations, shuffle_buffer, domain in cache, start)
        streams.append(stream.batch(batch_size, drop_remainder=True))
    return tf.data.Dataset.zip(tuple(streams)).prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------- readers
def _read_tfrecords(files: list[str], data_dir: str) -> tuple[list[str], list[bytes], list[str]]:
    names, data, origins = [], [], []
    for path in files:
        label = _relative(path, data_dir)
        count = 0
        try:
            for raw in tf.data.TFRecordDataset(path):
                example = tf.train.Example.FromString(raw.numpy())
                feature = example.features.feature
                if "image" not in feature or not feature["image"].bytes_list.value:
                    raise DataError(f"{label}: record {count} has no 'image' bytes feature "
                                    f"(expected Kaggle's features image_name, image, target)")
                if "image_name" in feature and feature["image_name"].bytes_list.value:
                    name = feature["image_name"].bytes_list.value[0].decode("utf-8")
                else:
                    name = f"{os.path.basename(path).rsplit('.', 1)[0]}-{count:05d}"
                names.append(_stem(name))
                data.append(feature["image"].bytes_list.value[0])
                origins.append(f"{label}#{count}")
                count += 1
        except tf.errors.OpError as error:
            raise DataError(f"{label}: corrupt or truncated TFRecord file after {count} records "
                            f"({error.message.splitlines()[0]})") from None
        if count == 0:
            warnings.warn(f"{label}: TFRecord file holds no records", stacklevel=3)
    return names, data, origins


def _read_image_files(files: list[str], data_dir: str) -> tuple[list[str], list[bytes], list[str]]:
    def read(path: str) -> bytes:
        with tf.io.gfile.GFile(path, "rb") as handle:
            return handle.read()

    with ThreadPoolExecutor(max_workers=8) as pool:
        data = list(pool.map(read, files))
    names = [_stem(os.path.basename(path)) for path in files]
    return names, data, [_relative(path, data_dir) for path in files]


def _check_decodes(data: Sequence[bytes], origins: Sequence[str]) -> tuple[list[tuple[int, int]], list[str]]:
    """Decodes every image with PIL (threads; PIL releases the GIL) and names the bad ones."""

    def probe(blob: bytes) -> tuple[tuple[int, int], str] | str:
        try:
            with Image.open(io.BytesIO(blob)) as image:
                image.load()  # full decode: truncated JPEGs fail here
                return image.size, image.mode
        except Exception as error:  # noqa: BLE001 - any decoder error means a broken file
            return f"{type(error).__name__}: {error}"

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) * 2)) as pool:
        results = list(pool.map(probe, data))
    bad = [f"  {origin}: {result}" for origin, result in zip(origins, results) if isinstance(result, str)]
    if bad:
        shown = "\n".join(bad[:20]) + (f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else "")
        raise DataError(f"{len(bad)} image(s) do not decode (corrupt, truncated or not an image):\n{shown}")
    return [result[0] for result in results], [result[1] for result in results]


# --------------------------------------------------------------------------- helpers
def _join(base: str, *parts: str) -> str:
    if base.startswith("gs://"):
        return "/".join([base.rstrip("/"), *parts])
    return os.path.join(base, *parts)


def _relative(path: str, base: str) -> str:
    base = base.rstrip("/") + "/"
    return path[len(base):] if path.startswith(base) else path


def _stem(name: str) -> str:
    lowered = name.lower()
    for extension in IMAGE_EXTENSIONS:
        if lowered.endswith(extension):
            return name[: -len(extension)]
    return name


def _check_choice(what: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{what}={value!r}: expected one of {tuple(choices)}")


def summarize(data_dir: str) -> dict:
    """What is in a dataset folder: per domain and layout, counts, sizes and modes.

    Also checks that the TFRecord and JPEG copies of a domain agree (same names, same
    bytes), as they do in Kaggle's data.

    Returns:
        {domain: {"tfrec": {...} | None, "jpg": {...} | None, "copies_agree": bool | None,
        "disagreements": [...]}} with counts, `sizes` and `modes` as {value: count}.
    """
    from collections import Counter

    summary: dict = {}
    for domain in DOMAINS:
        entry: dict = {}
        loaded: dict[str, EncodedImages] = {}
        for kind in ("tfrec", "jpg"):
            try:
                images = read_domain(data_dir, domain, kind)
            except DataError:
                entry[kind] = None
                continue
            loaded[kind] = images
            entry[kind] = {
                "count": len(images),
                "sizes": {f"{w}x{h}": n for (w, h), n in Counter(images.sizes).items()},
                "modes": dict(Counter(images.modes)),
            }
        if len(loaded) == 2:
            by_name = {kind: dict(zip(images.names, images.data)) for kind, images in loaded.items()}
            names = set(by_name["tfrec"]) | set(by_name["jpg"])
            disagreements = sorted(
                name for name in names if by_name["tfrec"].get(name) != by_name["jpg"].get(name))
            entry["copies_agree"] = not disagreements
            entry["disagreements"] = disagreements[:20]
        else:
            entry["copies_agree"] = None
            entry["disagreements"] = []
        summary[domain] = entry
    return summary


__all__ = [
    "DOMAINS", "IMAGE_SIZE", "DataError", "EncodedImages", "find_files", "read_domain",
    "load_domain", "encoded_dataset", "decode_image", "to_uint8", "augment", "repeat_shuffled",
    "unpaired", "domain_folders", "summarize",
]
