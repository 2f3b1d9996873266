"""Kaggle's `images.zip`: a streaming writer and a validator.

Kaggle scores one file, `images.zip`, holding 7,000 to 10,000 JPEG images of 256x256x3,
and a notebook may leave at most 500 output files (KAGGLE.md). So `write_submission`
never stages JPEGs on disk: photos go through the generator in batches, the outputs are
JPEG-encoded in memory and each one is written straight into the zip, stored without
compression (JPEG is already compressed). The zip is written to a temporary file next
to `out_path` and renamed at the end, so an interruption never leaves a partial
`images.zip` (and an existing one stays untouched until the new one is complete).

    photos = data.load_domain(data_dir, "photo", with_names=True)
    summary = write_submission(generator, photos, "images.zip")
    assert not validate_submission("images.zip")
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import secrets
import time
import zipfile
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterator, Optional

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import tensorflow as tf

# TensorFlow is imported inside the functions that run the generator, so that validating
# a zip (`python -m monet_utils validate`) starts instantly and needs only PIL.

# Kaggle's rules for the submission file (KAGGLE.md); 256 is also data.IMAGE_SIZE.
SUBMISSION_SHAPE = (256, 256, 3)
MIN_IMAGES = 7000
MAX_IMAGES = 10000
DEFAULT_BATCH_SIZE = 32
DEFAULT_JPEG_QUALITY = 95
JPEG_MAGIC = b"\xff\xd8\xff"
JPEG_EXTENSIONS = (".jpg", ".jpeg")
# A fixed timestamp makes the zip a pure function of its images (same photos, same bytes).
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


class SubmissionError(ValueError):
    """The generator, the photos or the zip break Kaggle's submission rules."""


@dataclass(frozen=True)
class SubmissionSummary:
    """What `write_submission` wrote.

    Attributes:
        path: the zip file.
        count: number of images in it.
        seconds: wall time of the whole write (checks, generation, encoding, zip).
        bytes: size of the zip file.
    """

    path: str
    count: int
    seconds: float
    bytes: int

    @property
    def images_per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "images_per_second": round(self.images_per_second, 1)}


# --------------------------------------------------------------------------- writing
def write_submission(generator, photos, out_path: str, batch_size: int = DEFAULT_BATCH_SIZE,
                     jpeg_quality: int = DEFAULT_JPEG_QUALITY,
                     strategy: Optional[tf.distribute.Strategy] = None,
                     min_images: int = MIN_IMAGES, max_images: Optional[int] = MAX_IMAGES,
                     progress: bool = True) -> SubmissionSummary:
    """Translates every photo and streams the results into a zip of JPEGs.

    Args:
        generator: a Keras model (or any callable) mapping a float32 batch in [-1, 1]
            to images in [-1, 1]; its output must be 256x256x3 (Kaggle's rule).
        photos: `(name, image)` pairs, image float32 (H, W, 3) in [-1, 1]: the dataset
            `data.load_domain(dir, "photo", with_names=True)` returns, or any iterable.
            Each entry is named `<name>.jpg`.
        out_path: the zip to write (replaced atomically when complete).
        batch_size: images per generator call (the global batch under a strategy; rounded
            up to a multiple of its replicas). The last batch is padded so the generator
            is traced once.
        jpeg_quality: JPEG quality, 1-100.
        strategy: run the generator under this `tf.distribute.Strategy` (the model must
            have been built or loaded under its scope); None runs it on the default device.
        min_images, max_images: the allowed photo count (Kaggle: 7,000-10,000; pass
            `min_images=0` for the sample set). `max_images=None` means no upper bound.
        progress: show a tqdm bar with images/s.

    Returns:
        A `SubmissionSummary` (path, count, seconds, bytes).

    Raises:
        SubmissionError: before any generation, when the generator's output is not
            256x256x3, the photos do not fit its input, or the photo count is outside
            [min_images, max_images]; during the run, for duplicate or unusable names or
            (for streams of unknown length) a count outside the range.
    """
    started = time.perf_counter()
    if not 1 <= jpeg_quality <= 100:
        raise SubmissionError(f"jpeg_quality={jpeg_quality}: expected 1-100")
    if batch_size < 1:
        raise SubmissionError(f"batch_size={batch_size}: expected >= 1")
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    batch_size = -(-batch_size // replicas) * replicas

    # 1. Cheap checks before any work: count, photo shape, generator output shape.
    count = _known_count(photos)
    if count is not None:
        check_count(count, min_images, max_images)
    photo_shape, photos = _photo_shape(photos)
    check_generator(generator, photo_shape)

    # 2. The pipeline: batches -> generator (traced once) -> uint8 -> JPEG -> zip entries.
    generate = _generate_function(generator, strategy, batch_size)
    encode = _encode_function(jpeg_quality)
    batches = _batches(photos, batch_size, photo_shape)
    out_path = os.fspath(out_path)
    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(folder, exist_ok=True)
    # Hidden, next to the target (same file system, so the final rename is atomic); "xb"
    # never clobbers another file and, unlike mkstemp, gives the usual umask permissions.
    temp_path = os.path.join(folder, f".{os.path.basename(out_path)}.{secrets.token_hex(4)}.tmp")
    written = 0
    try:
        seen: set[str] = set()
        with open(temp_path, "xb") as raw, \
                zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_STORED) as archive, \
                _progress_bar(count, progress) as bar, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="images.zip") as writer:

            def store(entries: list[str], outputs: tf.Tensor) -> None:
                # Runs on the one writer thread (the only one touching the zip), so JPEG
                # encoding and disk writes of batch k overlap generation of batch k + 1.
                jpegs = encode(outputs).numpy()
                for entry, jpeg in zip(entries, jpegs):
                    info = zipfile.ZipInfo(entry, date_time=ZIP_DATE_TIME)
                    info.compress_type = zipfile.ZIP_STORED
                    info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped
                    archive.writestr(info, jpeg)
                bar.update(len(entries))

            pending: Optional[Future] = None
            for names, images, valid in batches:
                entries = [_entry_name(name, seen) for name in names]
                written += valid
                if max_images is not None and written > max_images:
                    raise SubmissionError(f"photos: more than max_images={max_images} images "
                                          f"(Kaggle accepts {MIN_IMAGES:,}-{MAX_IMAGES:,})")
                outputs = generate(images)
                if pending is not None:
                    pending.result()  # at most one batch waits: memory stays flat
                pending = writer.submit(store, entries, outputs)  # zip() drops the padding
            if pending is not None:
                pending.result()
            if count is None:
                check_count(written, min_images, max_images)
        with open(temp_path, "rb+") as flushed:
            os.fsync(flushed.fileno())  # the data is on disk before the rename makes it visible
        os.replace(temp_path, out_path)
    except BaseException:  # including KeyboardInterrupt: never leave a temp file behind
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise
    return SubmissionSummary(out_path, written, time.perf_counter() - started, os.path.getsize(out_path))


def check_count(count: int, min_images: int = MIN_IMAGES, max_images: Optional[int] = MAX_IMAGES) -> None:
    """Raises `SubmissionError` when `count` photos cannot make a valid submission."""
    if count < min_images or (max_images is not None and count > max_images):
        upper = f"{max_images:,}" if max_images is not None else "any number"
        hint = ("; for a trial on a small set such as the sample, pass min_images=0 "
                "(command line: --allow-small)" if count < min_images else "")
        raise SubmissionError(f"{count:,} photos: expected {min_images:,} to {upper} "
                              f"(Kaggle scores zips of {MIN_IMAGES:,}-{MAX_IMAGES:,} images){hint}")


def check_generator(generator, photo_shape: tuple[int, ...]) -> None:
    """Raises `SubmissionError` unless the generator maps `photo_shape` images to 256x256x3.

    Uses the model's static shapes when it has them and one dummy image otherwise.
    """
    import tensorflow as tf

    input_shape = _model_shape(generator, "input_shape")
    if input_shape is not None and len(input_shape) == 4:
        expected = tuple(input_shape[1:])
        if len(photo_shape) != 3 or any(e is not None and e != p for e, p in zip(expected, photo_shape)):
            raise SubmissionError(f"photos are {_shape_text(photo_shape)} but the generator expects "
                                  f"{_shape_text(expected)} inputs")
    output_shape = _model_shape(generator, "output_shape")
    if output_shape is None or len(output_shape) != 4 or any(d is None for d in output_shape[1:]):
        output = generator(tf.zeros((1, *photo_shape), tf.float32), training=False) \
            if _is_keras(generator) else generator(tf.zeros((1, *photo_shape), tf.float32))
        output_shape = tuple(output.shape)
    if tuple(output_shape[1:]) != SUBMISSION_SHAPE:
        raise SubmissionError(f"the generator outputs {_shape_text(output_shape[1:])} images for "
                              f"{_shape_text(photo_shape)} photos; Kaggle needs {_shape_text(SUBMISSION_SHAPE)}")


def _generate_function(generator, strategy: Optional[tf.distribute.Strategy], batch_size: int):
    """A tf.function: float32 batch in [-1, 1] -> float32 batch of integer values 0..255.

    Rounding matches `data.to_uint8` (round half to even, clip). The uint8 cast happens on
    the host in `_encode_function`: some accelerators (TPU) handle uint8 poorly.
    """
    import tensorflow as tf

    keras_model = _is_keras(generator)

    def translate(images: tf.Tensor) -> tf.Tensor:
        output = generator(images, training=False) if keras_model else generator(images)
        output = tf.cast(output, tf.float32)  # mixed-precision generators output bf16/f16
        return tf.clip_by_value(tf.round((output + 1.0) * 127.5), 0.0, 255.0)

    if strategy is None:
        return tf.function(translate)

    per_replica = batch_size // strategy.num_replicas_in_sync

    @tf.function
    def distributed(per_replica_images):
        outputs = strategy.run(translate, args=(per_replica_images,))
        return strategy.gather(outputs, axis=0)

    def generate(images: tf.Tensor) -> tf.Tensor:
        def shard(context):
            start = context.replica_id_in_sync_group * per_replica
            return images[start:start + per_replica]

        return distributed(strategy.experimental_distribute_values_from_function(shard))

    return generate


def _encode_function(jpeg_quality: int):
    """A host tf.function: float32 batch of 0..255 values -> JPEG bytes, one string per image.

    tf.io.encode_jpeg and PIL both use libjpeg-turbo (same settings, same image data); batched
    in a graph (the static batch unstacked, so TF's executor can encode images in parallel)
    it beat PIL's one-at-a-time rate in 5 of 6 runs of bench/submission.py (0.94-2.05x).
    """
    import tensorflow as tf

    @tf.function
    def encode(images: tf.Tensor) -> tf.Tensor:
        with tf.device("/cpu:0"):
            images = tf.cast(images, tf.uint8)
            return tf.stack([tf.io.encode_jpeg(image, quality=jpeg_quality) for image in tf.unstack(images)])

    return encode


def _batches(photos, batch_size: int, photo_shape: tuple[int, ...]) -> Iterator[tuple[list[str], tf.Tensor, int]]:
    """(names, images padded to batch_size, number of real images) per batch."""
    import tensorflow as tf

    if isinstance(photos, tf.data.Dataset):
        def pad(names, images):
            valid = tf.shape(images)[0]
            images = tf.pad(images, [[0, batch_size - valid], [0, 0], [0, 0], [0, 0]])
            return names, tf.ensure_shape(images, (batch_size, *photo_shape)), valid

        batched = photos.batch(batch_size).map(pad).prefetch(tf.data.AUTOTUNE)
        for names, images, valid in batched:
            yield [_to_text(name) for name in names.numpy()], images, int(valid)
        return
    iterator = iter(photos)
    while True:
        chunk = list(itertools.islice(iterator, batch_size))
        if not chunk:
            return
        names = [_to_text(name) for name, _ in chunk]
        images = np.zeros((batch_size, *photo_shape), np.float32)
        for index, (name, image) in enumerate(chunk):
            image = np.asarray(image, np.float32)
            if image.shape != photo_shape:
                raise SubmissionError(f"photo {names[index]!r} is {_shape_text(image.shape)}; "
                                      f"the first photo was {_shape_text(photo_shape)}")
            images[index] = image
        yield names, tf.constant(images), len(chunk)


def _known_count(photos) -> Optional[int]:
    """The number of photos when known without iterating (None for plain streams)."""
    import tensorflow as tf

    if isinstance(photos, tf.data.Dataset):
        cardinality = int(photos.cardinality())
        if cardinality == tf.data.INFINITE_CARDINALITY:
            raise SubmissionError("photos: an endless dataset (remove .repeat())")
        return cardinality if cardinality >= 0 else None
    try:
        return len(photos)
    except TypeError:
        return None


def _photo_shape(photos) -> tuple[tuple[int, ...], Any]:
    """The shape of one photo, and the photos (a peeked stream is chained back together)."""
    import tensorflow as tf

    if isinstance(photos, tf.data.Dataset):
        spec = photos.element_spec
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise SubmissionError("photos: expected a dataset of (name, image) pairs, e.g. "
                                  "data.load_domain(dir, 'photo', with_names=True)")
        shape = tuple(spec[1].shape)
        if len(shape) != 3 or None in shape:
            raise SubmissionError(f"photos: images of shape {_shape_text(shape)}; expected unbatched "
                                  f"(height, width, 3) images of a fixed size")
        return shape, photos
    iterator = iter(photos)
    try:
        first = next(iterator)
    except StopIteration:
        raise SubmissionError("photos: no images") from None
    if not isinstance(first, (tuple, list)) or len(first) != 2:
        raise SubmissionError("photos: expected (name, image) pairs")
    shape = tuple(np.shape(first[1]))
    if len(shape) != 3 or shape[-1] != 3:
        raise SubmissionError(f"photo {_to_text(first[0])!r}: shape {_shape_text(shape)}; "
                              f"expected (height, width, 3)")
    return shape, itertools.chain([first], iterator)


def _entry_name(name: str, seen: set[str]) -> str:
    if not name or "/" in name or "\\" in name:
        raise SubmissionError(f"photo name {name!r}: names must be non-empty and hold no path separators")
    entry = f"{name}.jpg"
    if entry in seen:
        raise SubmissionError(f"photo name {name!r} appears twice: each photo needs its own entry")
    seen.add(entry)
    return entry


def _progress_bar(total: Optional[int], enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="img", desc="images.zip", disable=not enabled, smoothing=0.1)


# --------------------------------------------------------------------------- validating
def validate_submission(path: str, min_images: int = MIN_IMAGES,
                        max_images: Optional[int] = MAX_IMAGES) -> list[str]:
    """Checks a zip against Kaggle's rules; returns the problems (empty list = valid).

    Checks: the file is a readable zip; the image count is in [min_images, max_images];
    no duplicate names; no folders; every entry has a .jpg/.jpeg name, starts with the
    JPEG magic bytes, decodes fully as a JPEG and is 256x256 RGB. Each problem names its entry.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        return [f"{path}: no such file"]
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        return [f"{path}: not a readable zip file ({error})"]
    problems: list[str] = []
    with archive:
        infos = archive.infolist()
        for name, times in sorted(Counter(info.filename for info in infos).items()):
            if times > 1:
                problems.append(f"{name}: duplicate name ({times} entries)")
        images = 0
        for info in infos:
            if info.is_dir():
                problems.append(f"{info.filename}: a folder; images must be at the top level of the zip")
                continue
            images += 1
            problems.extend(f"{info.filename}: {problem}" for problem in _entry_problems(archive, info))
    upper = max_images if max_images is not None else float("inf")
    if not min_images <= images <= upper:
        shown = f"{max_images:,}" if max_images is not None else "any"
        problems.append(f"{path}: {images:,} images; expected {min_images:,} to {shown}")
    return problems


def _entry_problems(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> list[str]:
    problems = []
    if "/" in info.filename or "\\" in info.filename:
        problems.append("inside a folder; images must be at the top level of the zip")
    if not info.filename.lower().endswith(JPEG_EXTENSIONS):
        problems.append("not a .jpg/.jpeg name")
    try:
        blob = archive.read(info)  # also checks the CRC
    except Exception as error:  # noqa: BLE001 - a corrupt entry can fail in many ways
        return problems + [f"unreadable ({type(error).__name__}: {error})"]
    if not blob.startswith(JPEG_MAGIC):
        return problems + [f"not a JPEG (starts with {blob[:4]!r}, expected {JPEG_MAGIC!r})"]
    try:
        with Image.open(io.BytesIO(blob)) as image:
            image.load()  # a full decode: truncated JPEGs fail here
            kind, size, mode = image.format, image.size, image.mode
    except Exception as error:  # noqa: BLE001 - any decoder error means a broken image
        return problems + [f"does not decode ({type(error).__name__}: {error})"]
    if kind != "JPEG":
        problems.append(f"decodes as {kind}, not JPEG")
    height, width, _ = SUBMISSION_SHAPE
    if size != (width, height):
        problems.append(f"{size[0]}x{size[1]} pixels; expected {width}x{height}")
    if mode != "RGB":
        problems.append(f"mode {mode}; expected RGB (3 channels)")
    return problems


# --------------------------------------------------------------------------- loading
def resolve_generator_path(path: str) -> str:
    """A run dir -> its `generator_monet_best.keras` (else `generator_monet.keras`); a file -> itself."""
    if os.path.isdir(path):
        for name in ("generator_monet_best.keras", "generator_monet.keras"):
            candidate = os.path.join(path, name)
            if os.path.isfile(candidate):
                return candidate
        raise SubmissionError(f"{path}: a folder without generator_monet_best.keras or "
                              f"generator_monet.keras (expected a training run dir or a .keras file)")
    if not os.path.isfile(path):
        raise SubmissionError(f"{path}: no such file or run dir (expected a training run dir or a .keras file)")
    if not path.endswith(".keras"):
        raise SubmissionError(f"{path}: expected a .keras model file (keras.Model.save) or a run dir")
    return path


def load_generator(path: str, strategy: Optional[tf.distribute.Strategy] = None):
    """Loads a saved generator (.keras), under `strategy`'s scope when given."""
    import keras

    from . import models  # noqa: F401 - registers the custom layers safe-mode loading needs

    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        return keras.models.load_model(path, compile=False)


def at_submission_size(generator):
    """A generator trained below 256 px, wrapped to take and give Kaggle's 256x256 images.

    Photos are resized down to its input size (antialiased) and its outputs back up to
    256 (bilinear). Quick runs and smoke tests can then make a valid-format zip; a real
    submission should come from a generator trained at 256. A 256 generator comes back
    unchanged.
    """
    import keras

    size = int(generator.input_shape[1])
    if size == SUBMISSION_SHAPE[0]:
        return generator
    photos = keras.Input(SUBMISSION_SHAPE, name="photo_256")
    small = keras.layers.Resizing(size, size, antialias=True, name="to_generator_size")(photos)
    painted = generator(small, training=False)
    large = keras.layers.Resizing(*SUBMISSION_SHAPE[:2], name="to_submission_size")(painted)
    return keras.Model(photos, large, name=f"{generator.name}_at_256")


# --------------------------------------------------------------------------- helpers
def _is_keras(model) -> bool:
    import keras

    return isinstance(model, keras.layers.Layer)


def _model_shape(model, attribute: str) -> Optional[tuple]:
    try:
        shape = getattr(model, attribute)
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(shape, list):  # several inputs/outputs: not an image-to-image generator
        shape = shape[0] if len(shape) == 1 else None
    return tuple(shape) if shape is not None else None


def _shape_text(shape) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


def _to_text(name) -> str:
    if isinstance(name, bytes):
        return name.decode("utf-8")
    if hasattr(name, "numpy"):  # a string tensor
        return _to_text(name.numpy())
    return str(name)


__all__ = [
    "SUBMISSION_SHAPE", "MIN_IMAGES", "MAX_IMAGES", "SubmissionError", "SubmissionSummary",
    "write_submission", "validate_submission", "check_count", "check_generator",
    "resolve_generator_path", "load_generator",
]
