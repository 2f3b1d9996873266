"""Where we run: distribution strategy, seeds, precision, environment facts.

`strategy()` is the one entry point the notebooks and `train` use: TPUStrategy on a
Kaggle TPU (TPU VM or the older TPU node), MirroredStrategy on several GPUs (or on
several logical CPUs when asked, which is how the tests exercise distributed code),
the default strategy otherwise.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any, Optional

import tensorflow as tf

KAGGLE_INPUT = "/kaggle/input"
KAGGLE_COMPETITION = "gan-getting-started"


def on_kaggle() -> bool:
    """True inside a Kaggle kernel."""
    return "KAGGLE_KERNEL_RUN_TYPE" in os.environ or kaggle_data_dir() is not None


def kaggle_data_dir() -> Optional[str]:
    """The competition's input folder when attached, else None."""
    path = os.path.join(KAGGLE_INPUT, KAGGLE_COMPETITION)
    return path if os.path.isdir(path) else None


def resolve_data_dir(data_dir: str = "", sample_dir: str = "data/sample") -> str:
    """The data folder a notebook should use.

    "" means: the competition input on Kaggle, else the embedded sample set at
    `sample_dir` (written on first use, with a note that it is a stand-in).
    """
    if data_dir:
        return data_dir
    kaggle = kaggle_data_dir()
    if kaggle:
        return kaggle
    if not os.path.isdir(sample_dir):
        from .sample_data import write_sample_data

        print(f"[monet_utils] no data_dir given and not on Kaggle: writing the sample set to {sample_dir}")
        write_sample_data(sample_dir, progress=False)
    print(f"[monet_utils] using the embedded sample set {sample_dir} "
          "(a stand-in: its 'monet' images are painterly renderings of photos, not Monet)")
    return sample_dir


def _tpu_resolver() -> Optional[tf.distribute.cluster_resolver.TPUClusterResolver]:
    """A connected TPU resolver, or None when there is no TPU.

    TPU VMs (Kaggle's `TpuV5E8`, `Tpu1VmV38`) are reached with tpu="local"; the older
    TPU nodes advertise themselves through TPU_NAME / COLAB_TPU_ADDR.
    """
    candidates = []
    if os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR"):
        candidates.append(None)  # resolver reads the environment
    if os.path.exists("/dev/accel0") or os.path.exists("/dev/vfio/0") or os.environ.get("TPU_ACCELERATOR_TYPE"):
        candidates.append("local")
    for tpu in candidates:
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
            if tpu != "local":
                tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return resolver
        except (ValueError, RuntimeError, tf.errors.OpError):
            continue
    return None


def strategy(kind: str = "auto", verbose: bool = True) -> tf.distribute.Strategy:
    """Returns the distribution strategy for this machine.

    Args:
        kind: "auto" (TPU > several GPUs > default), "tpu", "gpus", "cpus" (Mirrored over
            all logical CPU devices; for testing distributed code), or "default".
        verbose: print what was found.

    Raises:
        RuntimeError: `kind="tpu"` and no TPU could be reached.
    """
    if kind not in ("auto", "tpu", "gpus", "cpus", "default"):
        raise ValueError(f"strategy kind={kind!r}: expected auto, tpu, gpus, cpus or default")
    found: tf.distribute.Strategy
    if kind in ("auto", "tpu"):
        resolver = _tpu_resolver()
        if resolver is not None:
            found = tf.distribute.TPUStrategy(resolver)
            _say(verbose, f"TPU: {found.num_replicas_in_sync} replicas ({resolver.master() or 'local'})")
            return found
        if kind == "tpu":
            raise RuntimeError("strategy(kind='tpu'): no TPU found (TPU_NAME unset and no /dev/accel*)")
    gpus = tf.config.list_logical_devices("GPU")
    if kind in ("auto", "gpus") and len(gpus) > 1:
        found = tf.distribute.MirroredStrategy()
        _say(verbose, f"GPUs: MirroredStrategy over {len(gpus)} devices")
        return found
    if kind == "cpus":
        cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
        # ReductionToOneDevice: the default NCCL-less collectives of a second
        # MirroredStrategy in one process abort with "Shape mismatch in the collective".
        found = tf.distribute.MirroredStrategy(cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
        _say(verbose, f"CPUs: MirroredStrategy over {len(cpus)} logical devices")
        return found
    found = tf.distribute.get_strategy()
    _say(verbose, f"default strategy on {'GPU' if gpus else 'CPU'} ({describe_device()})")
    return found


def split_cpu(count: int) -> None:
    """Splits the physical CPU into `count` logical devices (before TF initialises).

    Used by tests and benchmarks to run MirroredStrategy without accelerators.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])


def accelerator_kind(dist: Optional[tf.distribute.Strategy] = None) -> str:
    """"tpu", "gpu" or "cpu" for the given (or current) strategy."""
    dist = dist or tf.distribute.get_strategy()
    if isinstance(dist, tf.distribute.TPUStrategy):
        return "tpu"
    return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"


def set_seeds(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow (Keras' global seed)."""
    import keras

    keras.utils.set_random_seed(seed)


def compute_dtype(mixed_precision: bool, dist: Optional[tf.distribute.Strategy] = None) -> str:
    """The dtype policy name for model layers: bf16 only when asked and on a TPU.

    Applied per model (never `keras.mixed_precision.set_global_policy`, which leaks into
    other models, tests and saved files).
    """
    if mixed_precision and accelerator_kind(dist) == "tpu":
        return "mixed_bfloat16"
    return "float32"


def describe_device() -> str:
    """A short human description: 'TPU x8', 'GPU: NVIDIA H100', 'CPU (2 cores)'."""
    tpus = tf.config.list_logical_devices("TPU")
    if tpus:
        return f"TPU x{len(tpus)}"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = []
        for gpu in gpus:
            details = tf.config.experimental.get_device_details(gpu)
            names.append(details.get("device_name", gpu.name))
        return "GPU: " + ", ".join(names)
    return f"CPU ({os.cpu_count()} cores, {platform.machine()})"


def environment_info() -> dict[str, Any]:
    """Library versions and device, recorded in each run's config.json."""
    import keras
    import numpy

    return {
        "versions": {
            "python": sys.version.split()[0],
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": numpy.__version__,
        },
        "device": describe_device(),
        "platform": platform.platform(),
        "on_kaggle": on_kaggle(),
    }


def _say(verbose: bool, message: str) -> None:
    if verbose:
        print(f"[monet_utils] {message}", flush=True)
