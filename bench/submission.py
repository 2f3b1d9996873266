"""Benchmark: our streaming images.zip writer against the tutorial's way, in one run.

The tutorial (Kaggle's "Monet CycleGAN Tutorial") translates one photo at a time with an
eager `generator(img, training=False)`, saves each JPEG with PIL into a folder, then
`shutil.make_archive` zips the folder (deflating already-compressed JPEGs). Ours batches
photos through a traced generator, encodes in TF and streams stored entries into the zip.

Both get the same generator and the same photos (the sample set, repeated with flips and
rotations and renamed, to --images photos). Each is warmed up once on a small run first,
so the figures are steady-state throughput. Then ours makes one long run (--memory-images)
while a thread samples the process RSS: it must level off, not grow with the image count.

    .venv/bin/python bench/submission.py [--images 512] [--batch-size 32] [--generator tiny|unet]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from monet_utils import data, submission  # noqa: E402
from monet_utils.sample_data import write_sample_data  # noqa: E402


def tiny_generator(filters: int = 16) -> keras.Model:
    """A small encoder-decoder, 256x256x3 -> 256x256x3 (cheap enough that writing matters)."""
    images = keras.Input((256, 256, 3))
    x = keras.layers.Conv2D(filters, 4, strides=2, padding="same", activation="relu")(images)   # 128
    x = keras.layers.Conv2D(filters * 2, 4, strides=2, padding="same", activation="relu")(x)     # 64
    x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", activation="relu")(x)  # 128
    x = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh")(x)      # 256
    return keras.Model(images, x, name="tiny_generator")


def make_generator(kind: str, filters: int) -> keras.Model:
    if kind == "tiny":
        return tiny_generator(filters)
    from monet_utils import models  # the project's U-Net (written by the models module)

    return models.build_unet_generator(image_size=256, filters=filters)


def photo_stream(sample_dir: str, count: int) -> tf.data.Dataset:
    """`count` distinct (name, image) pairs from the sample photos: repeated, flipped, rotated.

    Only the sample's encoded JPEGs are held in memory, whatever `count` is.
    """
    base = data.load_domain(sample_dir, "photo", with_names=True)

    def vary(index, element):
        name, image = element
        image = tf.image.rot90(image, tf.cast(index % 4, tf.int32))
        image = tf.cond(index % 8 >= 4, lambda: tf.image.flip_left_right(image), lambda: image)
        return tf.strings.join([name, tf.strings.as_string(index, width=6, fill="0")], "-"), image

    return base.repeat().enumerate().map(vary, num_parallel_calls=tf.data.AUTOTUNE).take(count)


def tutorial_way(generator, photos: tf.data.Dataset, out_zip: str, work_dir: str, quality: int) -> int:
    """The tutorial's loop: one photo per eager call, PIL save each JPEG, make_archive.

    The tutorial saves at PIL's default quality (75); here it gets ours, so both write JPEGs
    of the same quality and size (lower quality would flatter it at the cost of the images).
    """
    folder = os.path.join(work_dir, "images")
    os.makedirs(folder)
    for name, image in photos.batch(1):
        prediction = generator(image, training=False)[0].numpy()
        prediction = (prediction * 127.5 + 127.5).astype(np.uint8)
        Image.fromarray(prediction).save(os.path.join(folder, name[0].numpy().decode() + ".jpg"), quality=quality)
    staged = len(os.listdir(folder))
    shutil.make_archive(out_zip[: -len(".zip")], "zip", folder)
    shutil.rmtree(folder)
    return staged


class RssSampler:
    """Samples this process's resident memory (MiB) every few ms in a thread: `.series`."""

    def __init__(self, interval: float = 0.01):
        self.interval, self.series, self._stop = interval, [], threading.Event()

    @staticmethod
    def current() -> float:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _run(self):
        while not self._stop.is_set():
            self.series.append(self.current())
            time.sleep(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.series.append(self.current())

    def peak_by_quarter(self) -> list[float]:
        """Peak RSS within each quarter of the run (throughput is steady, so ~ each quarter of the images)."""
        n = len(self.series)
        return [max(self.series[i * n // 4:max((i + 1) * n // 4, i * n // 4 + 1)]) for i in range(4)]


def encoder_speeds(count: int = 256) -> tuple[float, float]:
    """images/s of PIL vs tf.io.encode_jpeg (quality 95) on the same 256x256 uint8 images."""
    rng = np.random.default_rng(0)
    smooth = rng.integers(0, 256, (count, 32, 32, 3)).astype(np.uint8)
    images = np.asarray(tf.image.resize(smooth, (256, 256))).astype(np.uint8)  # JPEG-like content

    def pil(image):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=95)
        return buffer.getvalue()

    encode = submission._encode_function(95)
    batches = [tf.constant(images[i:i + 32], tf.float32) for i in range(0, count, 32)]
    encode(batches[0])
    pil(images[0])
    started = time.perf_counter()
    for image in images:
        pil(image)
    pil_rate = count / (time.perf_counter() - started)
    started = time.perf_counter()
    for batch in batches:
        encode(batch).numpy()
    tf_rate = count / (time.perf_counter() - started)
    return pil_rate, tf_rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=512, help="photos per timed run (default 512)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--jpeg-quality", type=int, default=95)
    parser.add_argument("--generator", choices=["tiny", "unet"], default="tiny")
    parser.add_argument("--filters", type=int, default=16, help="generator width (default 16)")
    parser.add_argument("--memory-images", type=int, default=2048,
                        help="photos in the long run that tracks memory (default 2048)")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    generator = make_generator(args.generator, args.filters)
    work = tempfile.mkdtemp(prefix="bench_submission_")
    try:
        sample_dir = os.path.join(work, "sample")
        write_sample_data(sample_dir, monet_count=2, photo_count=60, seed=0, progress=False)
        print(f"generator: {args.generator} ({generator.count_params():,} parameters), "
              f"{args.images} photos of 256x256, batch {args.batch_size}, JPEG quality {args.jpeg_quality}, "
              f"{os.cpu_count()} CPUs")

        def ours(count: int, name: str) -> submission.SubmissionSummary:
            return submission.write_submission(
                generator, photo_stream(sample_dir, count), os.path.join(work, name), args.batch_size,
                args.jpeg_quality, min_images=0, progress=False)

        def theirs(count: int, name: str) -> tuple[float, int]:
            folder = tempfile.mkdtemp(dir=work)
            started = time.perf_counter()
            staged = tutorial_way(generator, photo_stream(sample_dir, count), os.path.join(work, name), folder,
                                  args.jpeg_quality)
            return time.perf_counter() - started, staged

        ours(args.batch_size * 2, "warm_ours.zip")  # traces the generator once
        theirs(8, "warm_tutorial.zip")
        tutorial_seconds, staged = theirs(args.images, "tutorial.zip")
        summary = ours(args.images, "ours.zip")
        for label, path in (("ours", summary.path), ("tutorial", os.path.join(work, "tutorial.zip"))):
            problems = submission.validate_submission(path, min_images=args.images, max_images=args.images)
            print(f"  {label:9s} zip: {os.path.getsize(path) / 2**20:6.1f} MiB, "
                  f"{'valid' if not problems else f'{len(problems)} problems, e.g. {problems[0]}'}")
        tutorial_rate = args.images / tutorial_seconds
        print(f"tutorial (1 image/call, PIL to a folder, make_archive): {tutorial_rate:7.1f} images/s "
              f"({tutorial_seconds:.2f} s, {staged} files staged on disk)")
        print(f"ours     (batched tf.function, streamed stored zip):   {summary.images_per_second:7.1f} images/s "
              f"({summary.seconds:.2f} s, 0 files staged)")
        print(f"speed-up: {summary.images_per_second / tutorial_rate:.2f}x")

        # Memory: one long run, RSS sampled throughout; it must level off, not climb with the count.
        with RssSampler() as rss:
            long_run = ours(args.memory_images, "memory.zip")
        quarters = rss.peak_by_quarter()
        print(f"ours, one run of {long_run.count} images ({long_run.images_per_second:.1f} images/s): peak RSS "
              f"per quarter of the run {' / '.join(f'{q:.1f}' for q in quarters)} MiB")
        print(f"  RSS growth over the second half: {quarters[3] - quarters[1]:+.1f} MiB "
              f"({(quarters[3] - quarters[1]) * 2**10 / (long_run.count / 2):.2f} KiB per image; "
              f"zipfile keeps ~0.3 KiB per entry for the central directory)")

        pil_rate, tf_rate = encoder_speeds()
        print(f"JPEG encoders (256x256, quality 95): PIL {pil_rate:.0f} images/s, "
              f"tf.io.encode_jpeg batch {tf_rate:.0f} images/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
