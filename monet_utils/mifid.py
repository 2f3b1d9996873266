"""MiFID, Kaggle's metric for gan-getting-started: exact, fast, usable during training.

What Kaggle computes (its published scoring code for the MiFID competitions):

1. Inception pool_3 features (2048 per image) of the generated and of the real images,
   images fed as 0-255 RGB.
2. FID = ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr(sqrt(S1 S2)), covariances as `np.cov`
   (rows = images, ddof 1).
3. Memorization distance: drop feature rows that sum to zero, L2-normalise rows,
   d = 1 - |cos| between every generated and every real image, minimum over real images,
   mean over generated images.
4. Thresholded distance: d if d < 0.1 else 1.0. MiFID = FID / (thresholded d + 1e-15).

Kaggle takes Tr(sqrt(S1 S2)) with `scipy.linalg.sqrtm` of a 2048 x 2048 non-symmetric
matrix. Here it is the sum of square roots of the eigenvalues of a *symmetric* matrix
with the same spectrum: F1 S2 F1^T (n1 x n1) when side 1 has n1 < d images and S1 =
F1^T F1, or the singular values of F1 F2^T when both sides are small, or
B^T S2 B with S1 = B B^T from one symmetric eigendecomposition otherwise.

Features come from one of three extractors, and every result names which one:

- "calibrated": the FID Inception GraphDef (`.pb`, the network Kaggle's code loads), fed
  raw 0-255 images at `ExpandDims:0`, features from `pool_3:0`.
- "approximate": Keras InceptionV3 (no top, average pool) with ImageNet weights; images
  resized to 299 with the legacy TF1 bilinear kernel. Close to Kaggle's, not equal.
- "uncalibrated": the same network with random weights (the only choice offline).
  Useful to compare runs with each other, never with Kaggle's leaderboard.

Generated images are JPEG-encoded at the submission's quality and decoded before their
features are taken, as Kaggle sees them.
"""

from __future__ import annotations

import functools
import io
import json
import os
import sys
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Optional, Union

import keras
import numpy as np

# Kaggle's scoring constants.
COSINE_DISTANCE_THRESHOLD = 0.1  # `cosine_distance_eps` in Kaggle's code
MIFID_EPSILON = 1e-15
# The quality images.zip is written at; features of generated images are taken after a
# JPEG round trip at this quality (`submission.py` should use the same value).
JPEG_QUALITY = 95
INCEPTION_SIZE = 299
FEATURE_DIMS = 2048
# Fixed subset sizes: compare runs only at the same number of images.
DEFAULT_NUM_IMAGES = 1000
DEFAULT_BATCH_SIZE = 32
DEFAULT_KID_SUBSETS = 100
DEFAULT_KID_SUBSET_SIZE = 1000

LEVELS = ("calibrated", "approximate", "uncalibrated")
LEVEL_CODES = {"uncalibrated": 0, "approximate": 1, "calibrated": 2}
UNCALIBRATED_WARNING = (
    "UNCALIBRATED: these features come from an InceptionV3 with RANDOM weights, not the "
    "ImageNet-trained network Kaggle uses. The numbers are NOT comparable with Kaggle's "
    "MiFID or with runs measured by another network; compare only runs measured the same way. "
    "For a real estimate pass --weights FILE.pb (calibrated) or imagenet / a weights file "
    "(approximate).")
LEVEL_DESCRIPTIONS = {
    "calibrated": "calibrated (the FID Inception graph Kaggle loads)",
    "approximate": "approximate (Keras InceptionV3 with ImageNet weights: close to Kaggle's, not equal)",
    "uncalibrated": "UNCALIBRATED (random weights: not comparable with Kaggle)",
}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
KERAS_NOTOP_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"


class MifidError(ValueError):
    """Bad input to the metric: the message names the file or value and what was expected."""


# =========================================================================== the math
def _check_features(features: Any, what: str) -> np.ndarray:
    """Validates an (n, d) feature matrix: 2-D, finite, at least 2 rows; returns float64."""
    array = np.asarray(features)
    if array.ndim != 2:
        raise MifidError(f"{what}: expected a 2-D (images, features) matrix, got shape {array.shape}")
    if array.shape[0] < 2:
        raise MifidError(f"{what}: {array.shape[0]} image(s); at least 2 are needed for a covariance")
    if array.shape[1] < 1:
        raise MifidError(f"{what}: feature vectors are empty (shape {array.shape})")
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise MifidError(f"{what}: {len(rows)} feature row(s) hold NaN or infinity "
                         f"(first: row {rows[0]}); the images or the feature network are broken")
    return array


def _check_same_dims(dims1: int, dims2: int, what1: str, what2: str) -> None:
    if dims1 != dims2:
        raise MifidError(f"feature sizes differ: {what1} has {dims1} features per image, {what2} has "
                         f"{dims2}; both sides must come from the same network and layer")


def _factor(features: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """F with F^T F = np.cov(features, rowvar=False): centred rows / sqrt(n - 1)."""
    return (features - mean) / np.sqrt(features.shape[0] - 1)


def _sum_sqrt(eigenvalues: np.ndarray) -> float:
    # Round-off leaves tiny negative eigenvalues where the true ones are 0.
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def trace_sqrt_product(sigma1: Optional[np.ndarray], sigma2: Optional[np.ndarray],
                       factor1: Optional[np.ndarray] = None,
                       factor2: Optional[np.ndarray] = None) -> float:
    """Tr(sqrt(S1 S2)) for covariances S1, S2 (PSD), optionally given as S = F^T F.

    The eigenvalues of S1 S2 are those of a symmetric PSD matrix: F1 S2 F1^T when
    S1 = F1^T F1 (k1 x k1, used when k1 < d), the squared singular values of F1 F2^T
    when both factors are small, and B^T S2 B with S1 = B B^T from `eigh(S1)` otherwise.
    Each side needs its covariance or its factor.
    """
    dims = (sigma1 if sigma1 is not None else factor1).shape[-1]
    small1 = factor1 is not None and factor1.shape[0] < dims
    small2 = factor2 is not None and factor2.shape[0] < dims
    if small1 and small2 or (small1 and sigma2 is None) or (small2 and sigma1 is None):
        # sqrt(eig((F1 F2^T)(F1 F2^T)^T)) = singular values of F1 F2^T (k1 x k2).
        return float(np.linalg.svd(factor1 @ factor2.T, compute_uv=False).sum())
    if small1:
        return _sum_sqrt(np.linalg.eigvalsh(factor1 @ sigma2 @ factor1.T))
    if small2:
        return _sum_sqrt(np.linalg.eigvalsh(factor2 @ sigma1 @ factor2.T))
    if sigma1 is None:
        sigma1 = factor1.T @ factor1
    if sigma2 is None:
        sigma2 = factor2.T @ factor2
    values, vectors = np.linalg.eigh(sigma1)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))  # S1 = root @ root.T
    return _sum_sqrt(np.linalg.eigvalsh(root.T @ sigma2 @ root))


def frechet_distance(mu1: np.ndarray, sigma1: Optional[np.ndarray], mu2: np.ndarray,
                     sigma2: Optional[np.ndarray], *, features1: Optional[np.ndarray] = None,
                     features2: Optional[np.ndarray] = None) -> float:
    """Frechet distance between two Gaussians, exactly as Kaggle defines FID.

    ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr(sqrt(S1 S2)), with Tr(sqrt(S1 S2)) from the
    eigenvalues of a symmetric matrix (see `trace_sqrt_product`) instead of `sqrtm`.

    Args:
        mu1, mu2: feature means (d,).
        sigma1, sigma2: covariances (d, d) as `np.cov(features, rowvar=False)`; either may
            be None when that side's `features` are given.
        features1, features2: optional (n, d) feature matrices the statistics came from;
            a side with n < d images then uses the n x n form (much faster).

    Returns:
        The distance (float; round-off below zero is returned as 0.0).
    """
    mu1 = np.asarray(mu1, np.float64).ravel()
    mu2 = np.asarray(mu2, np.float64).ravel()
    _check_same_dims(mu1.size, mu2.size, "mu1", "mu2")
    factors = []
    traces = []
    for index, (mu, sigma, features) in enumerate(((mu1, sigma1, features1), (mu2, sigma2, features2)), 1):
        factor = None
        if features is not None:
            features = _check_features(features, f"features{index}")
            _check_same_dims(features.shape[1], mu.size, f"features{index}", f"mu{index}")
            factor = _factor(features, mu)
        if sigma is not None:
            sigma = np.asarray(sigma, np.float64)
            if sigma.shape != (mu.size, mu.size):
                raise MifidError(f"sigma{index}: expected shape ({mu.size}, {mu.size}) to match mu{index}, "
                                 f"got {sigma.shape}")
            if not np.isfinite(sigma).all():
                raise MifidError(f"sigma{index}: covariance holds NaN or infinity")
            traces.append(float(np.trace(sigma)))
        elif factor is not None:
            traces.append(float(np.einsum("ij,ij->", factor, factor)))
        else:
            raise MifidError(f"frechet_distance: side {index} needs sigma{index} or features{index}")
        factors.append(factor)
    sigma1 = None if sigma1 is None else np.asarray(sigma1, np.float64)
    sigma2 = None if sigma2 is None else np.asarray(sigma2, np.float64)
    diff = mu1 - mu2
    tr_covmean = trace_sqrt_product(sigma1, sigma2, factors[0], factors[1])
    # A squared distance: clamp round-off below zero (identical sets), which MiFID's
    # division by ~1e-15 would otherwise blow up into a large negative score.
    return max(float(diff @ diff + traces[0] + traces[1] - 2.0 * tr_covmean), 0.0)


def _drop_zero_rows(features: np.ndarray) -> np.ndarray:
    # Kaggle: features[np.sum(features, axis=1) != 0]
    return features[np.sum(features, axis=1) != 0]


def _normalise_rows(features: np.ndarray) -> np.ndarray:
    return np.nan_to_num(features / np.linalg.norm(features, ord=2, axis=1, keepdims=True))


def memorization_distance(generated: np.ndarray, real: np.ndarray, chunk_size: int = 4096) -> float:
    """Kaggle's memorization distance: mean over generated of min over real of 1 - |cos|.

    Rows that sum to zero are dropped first (as in Kaggle's code). Computed in chunks of
    generated rows so memory stays at `chunk_size` x n_real.
    """
    generated = _drop_zero_rows(_check_features(generated, "generated features"))
    real = _drop_zero_rows(_check_features(real, "real features"))
    _check_same_dims(generated.shape[1], real.shape[1], "generated features", "real features")
    for what, rows in (("generated", generated), ("real", real)):
        if rows.shape[0] == 0:
            raise MifidError(f"memorization distance: every {what} feature row is all zeros")
    real_unit = _normalise_rows(real)
    minima = []
    for start in range(0, generated.shape[0], chunk_size):
        unit = _normalise_rows(generated[start:start + chunk_size])
        minima.append(np.min(1.0 - np.abs(unit @ real_unit.T), axis=1))
    return float(np.mean(np.concatenate(minima)))


def threshold_distance(distance: float, threshold: float = COSINE_DISTANCE_THRESHOLD) -> float:
    """Kaggle's thresholding: the distance if below `threshold` (memorised), else 1.0."""
    return float(distance) if distance < threshold else 1.0


def kernel_inception_distance(generated: np.ndarray, real: np.ndarray,
                              num_subsets: int = DEFAULT_KID_SUBSETS,
                              max_subset_size: int = DEFAULT_KID_SUBSET_SIZE,
                              seed: int = 0) -> tuple[float, float]:
    """KID: unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3, averaged over subsets.

    Unlike FID it has no bias from the sample size, so it compares runs measured at
    different image counts. Subsets of m = min(n_gen, n_real, max_subset_size) images
    are drawn without replacement with a fixed `seed`.

    Returns:
        (mean, standard deviation) over the subsets.
    """
    generated = _check_features(generated, "generated features")
    real = _check_features(real, "real features")
    _check_same_dims(generated.shape[1], real.shape[1], "generated features", "real features")
    if num_subsets < 1 or max_subset_size < 2:
        raise MifidError(f"KID: num_subsets={num_subsets}, max_subset_size={max_subset_size}: "
                         f"expected >= 1 and >= 2")
    dims = generated.shape[1]

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a @ b.T / dims + 1.0) ** 3

    def block(full: Optional[np.ndarray], a, rows, b, columns) -> np.ndarray:
        return full[np.ix_(rows, columns)] if full is not None else kernel(a[rows], b[columns])

    n_gen, n_real = generated.shape[0], real.shape[0]
    size = min(n_gen, n_real, max_subset_size)
    # Kernel matrices up to ~128 MB are computed once and indexed (a callback's 256 images
    # vs 300 paintings: 3 products instead of 300); bigger ones per subset.
    small = lambda rows, columns: rows * columns <= 4096 ** 2  # noqa: E731
    full_xx = kernel(generated, generated) if small(n_gen, n_gen) else None
    full_yy = kernel(real, real) if small(n_real, n_real) else None
    full_xy = kernel(generated, real) if small(n_gen, n_real) else None
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets)
    for index in range(num_subsets):
        ix = rng.choice(n_gen, size, replace=False)
        iy = rng.choice(n_real, size, replace=False)
        k_xx = block(full_xx, generated, ix, generated, ix)
        k_yy = block(full_yy, real, iy, real, iy)
        k_xy = block(full_xy, generated, ix, real, iy)
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (size * (size - 1))
        estimates[index] = within - 2.0 * k_xy.mean()
    return float(estimates.mean()), float(estimates.std())


# =========================================================================== statistics
class FeatureStatistics:
    """Features of one image set with their mean and (lazily computed) covariance.

    Attributes:
        features: (n, d) features, one row per image (float32 from the network).
        mean: (d,) float64 mean.
        cov: (d, d) float64 covariance as `np.cov(features, rowvar=False)` (computed on
            first use: the n x n FID form does not need it).
        feature_level: "calibrated", "approximate", "uncalibrated" or None (unknown).
        feature_source: which network ("imagenet", a file path, "random (seed 0)", ...).
        image_source: where the images came from (for messages and the .npz).
    """

    def __init__(self, features: np.ndarray, feature_level: Optional[str] = None,
                 feature_source: Optional[str] = None, image_source: Optional[str] = None,
                 cov: Optional[np.ndarray] = None, what: str = "features"):
        checked = _check_features(features, what)
        if feature_level is not None and feature_level not in LEVELS:
            raise MifidError(f"feature_level={feature_level!r}: expected one of {LEVELS}")
        # The network's float32 stays float32 (memory); float64 input keeps its precision.
        given = np.asarray(features)
        self.features = given if given.dtype in (np.float32, np.float64) else checked
        self.mean = checked.mean(axis=0)
        self.feature_level = feature_level
        self.feature_source = feature_source
        self.image_source = image_source
        if cov is not None:
            self.__dict__["cov"] = np.asarray(cov, np.float64)

    @functools.cached_property
    def cov(self) -> np.ndarray:
        return np.cov(self.features.astype(np.float64), rowvar=False)

    @property
    def count(self) -> int:
        return int(self.features.shape[0])

    @property
    def dims(self) -> int:
        return int(self.features.shape[1])

    def __repr__(self) -> str:
        return (f"FeatureStatistics({self.count} images x {self.dims} features, "
                f"level={self.feature_level}, source={self.feature_source!r})")

    def save(self, path: str | os.PathLike) -> str:
        """Writes mean, covariance, features and provenance to `.npz` atomically."""
        from .config import atomic_file

        path = os.fspath(path)
        with atomic_file(path, "wb") as handle:  # a handle: np.savez would append ".npz" to a name
            np.savez(handle, mean=self.mean, cov=self.cov, features=self.features,
                     feature_level=np.array(self.feature_level or ""),
                     feature_source=np.array(self.feature_source or ""),
                     image_source=np.array(self.image_source or ""))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FeatureStatistics":
        """Reads statistics written by `save`."""
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as archive:
                contents = {key: archive[key] for key in archive.files}
        except FileNotFoundError:
            raise MifidError(f"{path}: statistics file does not exist") from None
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise MifidError(f"{path}: not a statistics .npz ({error})") from None
        missing = [key for key in ("mean", "cov", "features") if key not in contents]
        if missing:
            raise MifidError(f"{path}: missing {', '.join(missing)}; expected an .npz written by "
                             f"FeatureStatistics.save / `mifid --save-real-stats` (the memorization "
                             f"distance needs the features, not only mean and covariance)")
        features = contents["features"]
        dims = features.shape[-1] if features.ndim == 2 else None
        if contents["mean"].shape != (dims,) or contents["cov"].shape != (dims, dims):
            raise MifidError(f"{path}: inconsistent shapes: mean {contents['mean'].shape}, "
                             f"cov {contents['cov'].shape}, features {features.shape}")
        text = {key: str(contents[key]) if key in contents else "" for key in
                ("feature_level", "feature_source", "image_source")}
        stats = cls(features, text["feature_level"] or None, text["feature_source"] or None,
                    text["image_source"] or path, cov=contents["cov"], what=f"{path}: features")
        return stats


def _as_statistics(value: Any, what: str) -> FeatureStatistics:
    if isinstance(value, FeatureStatistics):
        return value
    if isinstance(value, (str, os.PathLike)):
        return FeatureStatistics.load(value)
    return FeatureStatistics(value, what=what)


# =========================================================================== result
@dataclass(frozen=True)
class MifidResult:
    """MiFID and its parts.

    Attributes:
        fid: Frechet distance.
        distance: memorization distance (mean min cosine distance to the real images).
        thresholded_distance: `distance` if below 0.1, else 1.0.
        mifid: fid / (thresholded_distance + 1e-15).
        kid, kid_std: kernel inception distance (unbiased) and its spread over subsets.
        feature_level: "calibrated", "approximate", "uncalibrated" or None if unknown.
        feature_source: the network's weights ("imagenet", a path, "random (seed 0)").
        generated_count, real_count: images on each side.
    """

    fid: float
    distance: float
    thresholded_distance: float
    mifid: float
    kid: Optional[float] = None
    kid_std: Optional[float] = None
    feature_level: Optional[str] = None
    feature_source: Optional[str] = None
    generated_count: Optional[int] = None
    real_count: Optional[int] = None
    extra: dict = field(default_factory=dict)

    @property
    def warning(self) -> Optional[str]:
        if self.feature_level == "uncalibrated":
            return UNCALIBRATED_WARNING
        if self.feature_level is None:
            return "feature network unknown: these numbers cannot be compared with Kaggle's"
        return None

    def to_dict(self) -> dict:
        """JSON-ready dict; starts with `warning` when the features are uncalibrated."""
        payload = {"warning": self.warning} if self.warning else {}
        payload.update({key: value for key, value in asdict(self).items() if key != "extra"})
        payload.update(self.extra)
        return payload

    def __str__(self) -> str:
        level = LEVEL_DESCRIPTIONS.get(self.feature_level, "unknown network")
        kid = f", KID {self.kid:.5f} +- {self.kid_std:.5f}" if self.kid is not None else ""
        lines = []
        if self.warning:
            lines.append(f"*** {self.warning} ***")
        lines.append(f"MiFID {self.mifid:.3f} = FID {self.fid:.3f} / (distance {self.thresholded_distance:.4f}"
                     f" + 1e-15) [memorization distance {self.distance:.4f}]{kid}")
        lines.append(f"features: {level}; source {self.feature_source}; "
                     f"{self.generated_count} generated vs {self.real_count} real images")
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # notebook display
        import html

        body = "<br>".join(html.escape(line) for line in str(self).splitlines()[-2:])
        banner = ""
        if self.warning:
            banner = (f"<div style='border:3px solid #c00;background:#fee;padding:6px;font-weight:bold'>"
                      f"{html.escape(self.warning)}</div>")
        return f"{banner}<div style='font-family:monospace'>{body}</div>"


def mifid_from_features(generated: Any, real: Any, *, feature_level: Optional[str] = None,
                        feature_source: Optional[str] = None, kid: bool = True,
                        kid_subsets: int = DEFAULT_KID_SUBSETS, seed: int = 0) -> MifidResult:
    """MiFID (and FID, memorization distance, KID) from two sets of features.

    Args:
        generated, real: (n, d) feature matrices, `FeatureStatistics`, or `.npz` paths.
        feature_level, feature_source: override/declare which network made the features.
        kid: also compute KID.
        kid_subsets: KID subsets (fixed seed).

    Raises:
        MifidError: mismatched feature sizes, fewer than 2 images, NaN features, or
            statistics from different feature levels.
    """
    gen = _as_statistics(generated, "generated features")
    ref = _as_statistics(real, "real features")
    _check_same_dims(gen.dims, ref.dims, "generated features", "real features")
    levels = {level for level in (gen.feature_level, ref.feature_level) if level}
    if len(levels) > 1:
        raise MifidError(f"generated features are {gen.feature_level}, real ones are {ref.feature_level}: "
                         f"both must come from the same network")
    level = feature_level or (levels.pop() if levels else None)
    source = feature_source or gen.feature_source or ref.feature_source
    # The real side usually has n < d (300 paintings): its factor gives the n x n form.
    # A side's covariance is used only when already known (loaded) and that side is big.
    sigma_gen = gen.__dict__.get("cov")
    sigma_real = ref.__dict__.get("cov")
    fid = frechet_distance(gen.mean, sigma_gen, ref.mean, sigma_real,
                           features1=gen.features, features2=ref.features)
    distance = memorization_distance(gen.features, ref.features)
    thresholded = threshold_distance(distance)
    kid_mean = kid_std = None
    if kid:
        kid_mean, kid_std = kernel_inception_distance(gen.features, ref.features, kid_subsets, seed=seed)
    return MifidResult(fid=fid, distance=distance, thresholded_distance=thresholded,
                       mifid=fid / (thresholded + MIFID_EPSILON), kid=kid_mean, kid_std=kid_std,
                       feature_level=level, feature_source=source,
                       generated_count=gen.count, real_count=ref.count)


# =========================================================================== feature extractor
class FeatureExtractor:
    """Inception pool_3 features (2048 per image) of uint8 images, batched under tf.function.

    Build with `feature_extractor(weights)`. Attributes: `level` (one of LEVELS),
    `source` (which weights), `dims`.
    """

    def __init__(self, function, level: str, source: str, dims: int = FEATURE_DIMS):
        self._function = function
        self.level = level
        self.source = source
        self.dims = dims

    def __repr__(self) -> str:
        return f"FeatureExtractor({LEVEL_DESCRIPTIONS[self.level]}, source={self.source!r})"

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """(b, h, w, 3) uint8 images -> (b, dims) float32 features."""
        import tensorflow as tf

        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise MifidError(f"feature extractor: expected (batch, height, width, 3) uint8 images, "
                             f"got {images.dtype} {images.shape}")
        features = self._function(tf.constant(images)).numpy()
        return features.reshape(features.shape[0], -1).astype(np.float32, copy=False)

    def features(self, batches: Iterable[np.ndarray], total: Optional[int] = None,
                 progress: bool = True, desc: str = "features") -> np.ndarray:
        """Features of every image in an iterable of uint8 batches, with a progress bar."""
        from tqdm.auto import tqdm

        parts = []
        with tqdm(total=total, unit="img", desc=desc, disable=not progress, file=sys.stderr) as bar:
            for batch in batches:
                parts.append(self(batch))
                bar.update(len(batch))
        if not parts:
            raise MifidError(f"{desc}: no images")
        return np.concatenate(parts)


def resize_legacy_bilinear(images, size: int = INCEPTION_SIZE):
    """Bilinear resize with TF1's kernel (`half_pixel_centers=False`), as the FID graph did."""
    import tensorflow as tf

    return tf.raw_ops.ResizeBilinear(images=images, size=[size, size], align_corners=False,
                                     half_pixel_centers=False)


def feature_extractor(weights: Union[str, os.PathLike, None] = "imagenet", seed: int = 0
                      ) -> FeatureExtractor:
    """Builds the Inception feature extractor for `weights`.

    Args:
        weights: a `.pb` path -> "calibrated" (the FID Inception GraphDef); "imagenet"
            (Keras download or cache) or a local weights file (e.g.
            `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`) -> "approximate";
            "random" -> "uncalibrated" (random weights from `seed`; only when asked).
            None means "imagenet".
        seed: seed of the random weights (uncalibrated only).

    Raises:
        MifidError: the file is missing or unusable, or ImageNet weights cannot be
            downloaded (offline); the message lists the alternatives.
    """
    if isinstance(weights, FeatureExtractor):
        return weights
    weights = "imagenet" if weights is None else os.fspath(weights)
    if weights.lower().endswith(".pb"):
        return _calibrated_extractor(weights)
    if weights == "random":
        return _keras_extractor(None, seed)
    if weights != "imagenet" and not os.path.isfile(weights):
        raise MifidError(f"weights={weights!r}: no such file; expected a FID Inception .pb (calibrated), "
                         f"'imagenet' or a Keras InceptionV3 weights file (approximate), or 'random'")
    return _keras_extractor(weights, seed)


def _keras_extractor(weights: Optional[str], seed: int) -> FeatureExtractor:
    import tensorflow as tf

    try:
        model = keras.applications.InceptionV3(include_top=False, weights=weights, pooling="avg",
                                               input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
    except Exception as error:  # noqa: BLE001 - download and file errors come in many types
        if weights == "imagenet":
            raise MifidError(
                f"could not get Keras' ImageNet weights for InceptionV3 ({type(error).__name__}: {error}). "
                f"Offline? Pass a local {KERAS_NOTOP_WEIGHTS} (e.g. from a Kaggle dataset), "
                f"the FID Inception .pb for calibrated features, or weights='random' for an "
                f"UNCALIBRATED run") from None
        raise MifidError(f"weights file {weights!r} does not fit InceptionV3 without top "
                         f"({type(error).__name__}: {error})") from None
    if weights is None:
        _seeded_random_weights(model, seed)
        level, source = "uncalibrated", f"random (seed {seed})"
    else:
        level, source = "approximate", weights

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    def extract(images):
        pixels = resize_legacy_bilinear(tf.cast(images, tf.float32))
        # Keras' InceptionV3 weights were trained on inputs scaled to [-1, 1].
        return model(pixels / 127.5 - 1.0, training=False)

    return FeatureExtractor(extract, level, source, int(model.output_shape[-1]))


def _seeded_random_weights(model, seed: int) -> None:
    """Replaces every conv kernel by He-normal values from `seed`.

    Keras' own initialisers draw from a global seed; this makes the uncalibrated network
    the same in every process, so its numbers compare across runs. He scaling keeps the
    activations' scale through the ~90 conv + ReLU layers (Glorot would shrink them).
    """
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        if len(shape) == 4:
            fan_in = shape[0] * shape[1] * shape[2]
            variable.assign(rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in)))


def _calibrated_extractor(path: str) -> FeatureExtractor:
    import tensorflow as tf

    if not os.path.isfile(path):
        raise MifidError(f"{path}: no such file; expected the FID Inception GraphDef "
                         f"(classify_image_graph_def.pb, the network Kaggle's scoring code loads)")
    graph_def = tf.compat.v1.GraphDef()
    try:
        with open(path, "rb") as handle:
            graph_def.ParseFromString(handle.read())
    except Exception as error:  # noqa: BLE001 - protobuf raises DecodeError and friends
        raise MifidError(f"{path}: not a TensorFlow GraphDef ({type(error).__name__}: {error})") from None
    names = {node.name for node in graph_def.node}
    missing = [name for name in ("ExpandDims", "pool_3") if name not in names]
    if missing:
        raise MifidError(f"{path}: graph has no {' or '.join(n + ':0' for n in missing)}; expected the FID "
                         f"Inception graph (input ExpandDims:0 takes 0-255 images, output pool_3:0)")

    def import_graph(images):
        # The graph resizes to 299 and scales to [-1, 1] itself; feeding ExpandDims:0
        # through input_map gives it a free batch dimension (the .pb fixes it at 1).
        (pool,) = tf.compat.v1.import_graph_def(graph_def, input_map={"ExpandDims:0": images},
                                                return_elements=["pool_3:0"], name="")
        return pool

    # Loading a frozen graph is the one place tf.compat.v1 is needed.
    wrapped = tf.compat.v1.wrap_function(import_graph, [tf.TensorSpec([None, None, None, 3], tf.float32)])
    pruned = wrapped.prune(wrapped.inputs[0], wrapped.outputs[0])  # only the ops pool_3 needs

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    def extract(images):
        return pruned(tf.cast(images, tf.float32))

    dims = pruned.outputs[0].shape[-1]  # 2048 for the real graph
    return FeatureExtractor(extract, "calibrated", path, int(dims) if dims is not None else FEATURE_DIMS)


# =========================================================================== image sources
@dataclass
class ImageBatches:
    """uint8 batches of an image source, in file order.

    Attributes:
        batches: iterator of (b, h, w, 3) uint8 arrays.
        count: number of images when known in advance (for the progress bar).
        encoded: True when the images were read from image files (already JPEGs as
            Kaggle sees them); False for in-memory images (a JPEG round trip applies).
        description: what the source is, for messages and the .npz.
    """

    batches: Iterator[np.ndarray]
    count: Optional[int]
    encoded: bool
    description: str


def is_kaggle_data_dir(path: Any) -> bool:
    """True for a folder in Kaggle's gan-getting-started layout (monet_tfrec/ or monet_jpg/)."""
    if not isinstance(path, (str, os.PathLike)):
        return False
    path = os.fspath(path)
    return any(os.path.isdir(os.path.join(path, name)) for name in ("monet_tfrec", "monet_jpg"))


def first_photos(data_dir: str, num_images: int = DEFAULT_NUM_IMAGES, image_size: int = 256,
                 with_names: bool = False):
    """The first `num_images` photos in file order: the fixed subset runs are compared on."""
    from . import data

    return data.load_domain(data_dir, "photo", with_names=with_names, image_size=image_size).take(num_images)


def photo_subset(data_dir: str, num_images: int = DEFAULT_NUM_IMAGES, image_size: int = 256) -> np.ndarray:
    """`first_photos` as one uint8 array (fewer rows if the data has fewer photos)."""
    from . import data

    return data.to_uint8(np.stack(list(first_photos(data_dir, num_images, image_size).as_numpy_iterator())))


def image_batches(source: Any, batch_size: int = DEFAULT_BATCH_SIZE, limit: Optional[int] = None,
                  what: str = "images") -> ImageBatches:
    """uint8 batches from a folder, an images.zip, a Kaggle data dir (its monet domain),
    a `tf.data.Dataset` (float [-1, 1] or uint8, batched or not, or (name, image)), or an
    array. Takes the first `limit` images in file order.
    """
    if limit is not None and limit < 2:
        raise MifidError(f"{what}: limit={limit}; at least 2 images are needed")
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if is_kaggle_data_dir(path):
            from . import data

            encoded = data.read_domain(path, "monet")
            count = len(encoded) if limit is None else min(limit, len(encoded))
            batches = _dataset_batches(data.encoded_dataset(encoded), batch_size, limit, f"{path} (monet)")
            return ImageBatches(batches.batches, count, True, f"{path} (monet)")
        if os.path.isdir(path):
            return _file_batches(_folder_entries(path), batch_size, limit, path)
        if os.path.isfile(path) and path.lower().endswith(".zip"):
            return _file_batches(_zip_entries(path), batch_size, limit, path)
        if os.path.isfile(path):
            raise MifidError(f"{path}: expected a folder of images, an images.zip, a Kaggle data folder "
                             f"or a statistics .npz")
        raise MifidError(f"{path}: does not exist ({what})")
    import tensorflow as tf

    if isinstance(source, tf.data.Dataset):
        return _dataset_batches(source, batch_size, limit, f"dataset of {what}")
    array = np.asarray(source)
    if array.ndim != 4 or array.shape[-1] != 3:
        raise MifidError(f"{what}: expected (n, height, width, 3) images, got {type(source).__name__} "
                         f"of shape {array.shape}")
    if limit is not None:
        array = array[:limit]
    array = _to_uint8(array, what)
    return ImageBatches(iter([array[i:i + batch_size] for i in range(0, len(array), batch_size)]),
                        len(array), False, f"array of {what}")


def _to_uint8(images: np.ndarray, what: str) -> np.ndarray:
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise MifidError(f"{what}: expected uint8 or float [-1, 1] images, got {images.dtype}")
    if images.size and (not np.isfinite(images).all() or images.min() < -1.01 or images.max() > 1.01):
        raise MifidError(f"{what}: float images must be in [-1, 1] (the generator's tanh range); got "
                         f"values in [{np.nanmin(images):.3g}, {np.nanmax(images):.3g}] (pass uint8 for 0-255)")
    from .data import to_uint8

    return to_uint8(images)


def _dataset_batches(dataset, batch_size: int, limit: Optional[int], description: str) -> ImageBatches:
    spec = dataset.element_spec
    if isinstance(spec, tuple):  # (name, image)
        index = len(spec) - 1
        dataset = dataset.map(lambda *parts: parts[index])
        spec = spec[index]
    rank = spec.shape.rank
    if rank not in (3, 4):
        raise MifidError(f"{description}: expected images of shape (h, w, 3) or batches (b, h, w, 3), "
                         f"got element shape {spec.shape}")
    if rank == 4:
        dataset = dataset.unbatch()
    if limit is not None:
        dataset = dataset.take(limit)
    dataset = dataset.batch(batch_size).prefetch(2)

    def batches():
        for batch in dataset.as_numpy_iterator():
            yield _to_uint8(batch, description)

    return ImageBatches(batches(), limit, False, description)


def _folder_entries(path: str) -> list[tuple[str, Any]]:
    names = sorted(os.listdir(path))
    images = [n for n in names if n.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(path, n))]
    others = [n for n in names if n not in images and not n.startswith(".")
              and os.path.isfile(os.path.join(path, n))]
    if others:
        warnings.warn(f"{path}: ignoring {len(others)} file(s) that are not {'/'.join(IMAGE_EXTENSIONS)} "
                      f"images, e.g. {others[0]!r}", stacklevel=3)
    if not images:
        raise MifidError(f"{path}: no {'/'.join(IMAGE_EXTENSIONS)} images in this folder")

    def reader(name):
        return lambda: open(os.path.join(path, name), "rb").read()

    return [(os.path.join(path, n), reader(n)) for n in images]


def _zip_entries(path: str) -> list[tuple[str, Any]]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise MifidError(f"{path}: not a valid zip file ({error})") from None
    infos = [info for info in archive.infolist() if not info.is_dir()]
    others = [info.filename for info in infos if not info.filename.lower().endswith(IMAGE_EXTENSIONS)]
    if others:
        shown = ", ".join(repr(name) for name in others[:5]) + (" ..." if len(others) > 5 else "")
        raise MifidError(f"{path}: {len(others)} entr{'y is' if len(others) == 1 else 'ies are'} not "
                         f"{'/'.join(IMAGE_EXTENSIONS)} images: {shown} (Kaggle's images.zip holds only images)")
    if not infos:
        raise MifidError(f"{path}: the zip holds no images")

    def reader(info):
        return lambda: archive.read(info)

    return [(f"{path}:{info.filename}", reader(info)) for info in infos]


def _decode(label: str, read) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(read())) as image:
            return np.asarray(image.convert("RGB"))
    except Exception as error:  # noqa: BLE001 - any decoder error means a broken file
        raise MifidError(f"{label}: does not decode as an image ({type(error).__name__}: {error})") from None


def _file_batches(entries: list[tuple[str, Any]], batch_size: int, limit: Optional[int],
                  description: str) -> ImageBatches:
    if limit is not None:
        entries = entries[:limit]

    def batches():
        expected = None
        with ThreadPoolExecutor(max_workers=4) as pool:
            for start in range(0, len(entries), batch_size):
                chunk = entries[start:start + batch_size]
                images = list(pool.map(lambda entry: _decode(*entry), chunk))
                for (label, _), image in zip(chunk, images):
                    expected = expected or image.shape
                    if image.shape != expected:
                        raise MifidError(f"{label}: image is {image.shape[1]}x{image.shape[0]}, the first one "
                                         f"is {expected[1]}x{expected[0]}; all images must have one size "
                                         f"(Kaggle's are 256x256)")
                yield np.stack(images)

    return ImageBatches(batches(), len(entries), True, description)


def jpeg_round_trip(images: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """Encodes uint8 images as JPEG at `quality` and decodes them: what Kaggle reads back.

    Encoded with `tf.io.encode_jpeg` as `submission.py` writes images.zip, decoded with
    PIL as Kaggle's scorer reads it.
    """
    import tensorflow as tf
    from PIL import Image

    def one(image: np.ndarray) -> np.ndarray:
        encoded = tf.io.encode_jpeg(image, quality=quality).numpy()
        with Image.open(io.BytesIO(encoded)) as decoded:
            return np.asarray(decoded.convert("RGB"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return np.stack(list(pool.map(one, images)))


# =========================================================================== end to end
def statistics(source: Any, extractor: FeatureExtractor, limit: Optional[int] = None,
               batch_size: int = DEFAULT_BATCH_SIZE, jpeg_quality: Optional[int] = None,
               progress: bool = True, what: str = "real images") -> FeatureStatistics:
    """Feature statistics of an image source, or loaded from a cached `.npz`.

    Args:
        source: a statistics `.npz` (or `FeatureStatistics`), a folder, an images.zip, a
            Kaggle data dir (its monet domain), a `tf.data.Dataset`, an array of images,
            or `ImageBatches`.
        extractor: from `feature_extractor`.
        limit: first N images only (file order).
        jpeg_quality: JPEG round trip for in-memory images (generated ones); None: none.

    Raises:
        MifidError: a cached `.npz` was made by a different feature level.
    """
    if isinstance(source, (str, os.PathLike)) and os.fspath(source).lower().endswith(".npz"):
        source = FeatureStatistics.load(source)
    if isinstance(source, FeatureStatistics):
        stats = source
        if limit is not None and limit < stats.count:
            stats = FeatureStatistics(stats.features[:limit], stats.feature_level, stats.feature_source,
                                      stats.image_source)
    else:
        images = source if isinstance(source, ImageBatches) else image_batches(source, batch_size, limit, what)
        batches = images.batches
        if jpeg_quality is not None and not images.encoded:
            batches = (jpeg_round_trip(batch, jpeg_quality) for batch in batches)
        features = extractor.features(batches, images.count, progress, desc=what)
        return FeatureStatistics(features, extractor.level, extractor.source, images.description,
                                 what=f"{what} features")
    if stats.feature_level != extractor.level:
        raise MifidError(f"{stats.image_source}: statistics were made with {stats.feature_level} features "
                         f"({stats.feature_source}), but the generated images use {extractor.level} "
                         f"({extractor.source}); recompute them with the same --weights")
    if stats.feature_source and stats.feature_source != extractor.source:
        # Same level, other weights (another file, another random seed): the two sides live
        # in different feature spaces unless the files hold the same weights.
        warnings.warn(f"{stats.image_source}: statistics were made with weights {stats.feature_source!r}, "
                      f"the generated images use {extractor.source!r}; the score is only meaningful if "
                      "both are the same network", stacklevel=2)
    _check_same_dims(stats.dims, extractor.dims, str(stats.image_source), "the feature network")
    return stats


def evaluate(generated: Any, real: Any, weights: Any = "imagenet", num_images: Optional[int] = None,
             num_real: Optional[int] = None, batch_size: int = DEFAULT_BATCH_SIZE,
             jpeg_quality: int = JPEG_QUALITY, kid_subsets: int = DEFAULT_KID_SUBSETS,
             save_real_stats: Optional[str] = None, progress: bool = True) -> MifidResult:
    """MiFID of generated images against real ones, end to end.

    Args:
        generated: images.zip, a folder of images, a `tf.data.Dataset` or an array
            (in-memory images get the JPEG round trip at `jpeg_quality`; files are read
            as stored, as Kaggle reads them).
        real: a folder, a Kaggle data dir (its monet paintings), a dataset, or a `.npz`
            of cached statistics.
        weights: see `feature_extractor`, or a built `FeatureExtractor`.
        num_images, num_real: first N images of each side (file order).
        save_real_stats: write the real statistics to this `.npz` for next time.
    """
    # Open both sources first: a bad path or zip fails before the network is built.
    if isinstance(real, (str, os.PathLike)) and os.fspath(real).lower().endswith(".npz"):
        real = FeatureStatistics.load(real)
    elif not isinstance(real, FeatureStatistics):
        real = image_batches(real, batch_size, num_real, "real images")
    generated = image_batches(generated, batch_size, num_images, "generated images")
    extractor = feature_extractor(weights)
    if extractor.level == "uncalibrated":
        warnings.warn(UNCALIBRATED_WARNING, stacklevel=2)
    real_stats = statistics(real, extractor, num_real, batch_size, None, progress, "real images")
    if save_real_stats:
        real_stats.save(save_real_stats)
    generated_stats = statistics(generated, extractor, None, batch_size, jpeg_quality, progress,
                                 "generated images")
    return mifid_from_features(generated_stats, real_stats, feature_level=extractor.level,
                               feature_source=extractor.source, kid_subsets=kid_subsets)


def score_generator(generator, photos: np.ndarray, extractor: "FeatureExtractor", real: "FeatureStatistics",
                    batch_size: int = 16, jpeg_quality: int = JPEG_QUALITY,
                    kid_subsets: int = DEFAULT_KID_SUBSETS, progress: bool = True,
                    label: str = "generated") -> tuple[MifidResult, np.ndarray]:
    """MiFID/KID of one generator on given uint8 photos against ready real statistics.

    The translations get the JPEG round trip of the submission before their features are
    taken, as Kaggle sees them.

    Returns:
        (the result, the uint8 translations).
    """
    translated = np.concatenate(list(translate_photos(generator, photos, batch_size)))
    stats = statistics(translated, extractor, batch_size=batch_size, jpeg_quality=jpeg_quality,
                       progress=progress, what=f"{label} images")
    result = mifid_from_features(stats, real, feature_level=extractor.level, feature_source=extractor.source,
                                 kid_subsets=kid_subsets)
    return result, translated


def evaluate_generators(generators: dict[str, Any], data_dir: str, num_images: int = DEFAULT_NUM_IMAGES,
                        weights: Any = "imagenet", real: Any = None, batch_size: int = 16,
                        jpeg_quality: int = JPEG_QUALITY, kid_subsets: int = DEFAULT_KID_SUBSETS,
                        progress: bool = True) -> dict[str, MifidResult]:
    """MiFID and KID of several generators, comparable with each other.

    Every generator translates the same fixed subset (the first `num_images` photos of
    `data_dir`, at its input size), and all are scored with one feature network against
    one set of real statistics, computed once: by default `data_dir`'s paintings at the
    first generator's size, so runs trained below 256 px are not penalised for
    upsampling blur against 256 px originals.

    Args:
        generators: {label: photo -> Monet keras model}.
        data_dir: Kaggle-layout folder: photos to translate and, unless `real`, the paintings.
        num_images: photos translated per generator.
        weights: see `feature_extractor`, or a built `FeatureExtractor`.
        real: real images or cached statistics instead of `data_dir`'s paintings.
    """
    from . import data

    if not generators:
        raise MifidError("evaluate_generators: no generators given")
    extractor = weights if isinstance(weights, FeatureExtractor) else feature_extractor(weights)
    if extractor.level == "uncalibrated":
        warnings.warn(UNCALIBRATED_WARNING, stacklevel=2)
    if real is None:
        size = int(next(iter(generators.values())).input_shape[1])
        real = data.load_domain(data_dir, "monet", image_size=size)
    real_stats = statistics(real, extractor, batch_size=batch_size, progress=progress, what="real images")
    photos_by_size: dict[int, np.ndarray] = {}
    results = {}
    for label, generator in generators.items():
        size = int(generator.input_shape[1])
        if size not in photos_by_size:
            photos_by_size[size] = photo_subset(data_dir, num_images, size)
        results[label], _ = score_generator(generator, photos_by_size[size], extractor, real_stats, batch_size,
                                            jpeg_quality, kid_subsets, progress, label)
    return results


def translate_photos(generator, photos: np.ndarray, batch_size: int = 16) -> Iterator[np.ndarray]:
    """Yields uint8 translations of uint8 photos by a [-1, 1] -> [-1, 1] generator."""
    from .data import to_uint8

    for start in range(0, len(photos), batch_size):
        batch = photos[start:start + batch_size].astype(np.float32) / 127.5 - 1.0
        yield to_uint8(np.asarray(generator.predict_on_batch(batch)))


# =========================================================================== training callback
class MifidCallback(keras.callbacks.Callback):
    """Computes MiFID and KID of `model.monet_generator` every `every` epochs.

    Translates the first `num_images` photos (always the same ones), takes their features
    after the JPEG round trip, and compares them with `real` (statistics computed once).
    Adds to the epoch's `logs` (so a history callback placed after this one records them):
    "mifid", "fid", "kid", "mifid_distance", and "mifid_features", the feature level as a
    number (`LEVEL_CODES`: 2 calibrated, 1 approximate, 0 uncalibrated) because Keras'
    progress bar cannot print strings; the level's name is in `self.feature_level`, in
    every printed line and in `generator_monet_best.json`. The generator with the best
    MiFID so far is saved as `run_dir/generator_monet_best.keras` (atomically).

    Args:
        photos: `tf.data.Dataset` of [-1, 1] photos (or (name, photo)), or an array.
        real: statistics `.npz`, Kaggle data dir, folder, dataset or `FeatureStatistics`.
        every: evaluate after every k-th epoch.
        num_images: photos translated each time (the fixed subset).
        weights: see `feature_extractor` (None = "imagenet"), or a `FeatureExtractor`.
        run_dir: where the best generator goes (None: not saved).
        batch_size: translation and feature batch size.
        verbose: print one line per evaluation.
    """

    BEST_MODEL = "generator_monet_best.keras"
    BEST_INFO = "generator_monet_best.json"

    def __init__(self, photos: Any, real: Any, every: int = 1, num_images: int = 256, weights: Any = None,
                 run_dir: Optional[str] = None, batch_size: int = 16, kid_subsets: int = DEFAULT_KID_SUBSETS,
                 jpeg_quality: int = JPEG_QUALITY, verbose: bool = True):
        super().__init__()
        if every < 1:
            raise MifidError(f"MifidCallback: every={every}: expected >= 1")
        if num_images < 2:
            raise MifidError(f"MifidCallback: num_images={num_images}: expected >= 2")
        self.photos = photos
        self.real = real
        self.every = every
        self.num_images = num_images
        self.weights = weights
        self.run_dir = run_dir
        self.batch_size = batch_size
        self.kid_subsets = kid_subsets
        self.jpeg_quality = jpeg_quality
        self.verbose = verbose
        self.extractor: Optional[FeatureExtractor] = None
        self.real_stats: Optional[FeatureStatistics] = None
        self.best_mifid = float("inf")
        self.results: list[tuple[int, MifidResult]] = []
        self._photos_uint8: Optional[np.ndarray] = None

    @property
    def feature_level(self) -> Optional[str]:
        return self.extractor.level if self.extractor else None

    def _prepare(self) -> None:
        if self.extractor is None:
            self.extractor = feature_extractor(self.weights)
            if self.extractor.level == "uncalibrated":
                warnings.warn(f"MifidCallback: {UNCALIBRATED_WARNING}", stacklevel=2)
        if self.real_stats is None:
            self.real_stats = statistics(self.real, self.extractor, batch_size=self.batch_size,
                                         progress=False, what="real images")
        if self._photos_uint8 is None:
            images = image_batches(self.photos, self.batch_size, self.num_images, "photos")
            self._photos_uint8 = np.concatenate(list(images.batches))
            if len(self._photos_uint8) < self.num_images:
                warnings.warn(f"MifidCallback: only {len(self._photos_uint8)} photos, fewer than "
                              f"num_images={self.num_images}", stacklevel=2)
        if self.run_dir and self.best_mifid == float("inf"):
            self._resume_best()

    def _resume_best(self) -> None:
        # A resumed run keeps the best generator of its earlier epochs unless beaten.
        info_path = os.path.join(self.run_dir, self.BEST_INFO)
        if os.path.isfile(info_path) and os.path.isfile(os.path.join(self.run_dir, self.BEST_MODEL)):
            with open(info_path, encoding="utf-8") as handle:
                info = json.load(handle)
            if info.get("feature_level") == self.feature_level and info.get("num_images") == len(self._photos_uint8):
                self.best_mifid = float(info["mifid"])

    def on_train_begin(self, logs=None):
        if not hasattr(self.model, "monet_generator"):
            raise MifidError(f"MifidCallback: the model ({type(self.model).__name__}) has no `monet_generator`; "
                             f"expected a CycleGAN")
        self._prepare()

    def evaluate(self) -> MifidResult:
        """MiFID of the current `model.monet_generator` on the fixed photo subset."""
        self._prepare()
        generator = self.model.monet_generator
        batches = (jpeg_round_trip(batch, self.jpeg_quality)
                   for batch in translate_photos(generator, self._photos_uint8, self.batch_size))
        features = self.extractor.features(batches, len(self._photos_uint8), progress=False)
        generated = FeatureStatistics(features, self.extractor.level, self.extractor.source)
        return mifid_from_features(generated, self.real_stats, kid_subsets=self.kid_subsets)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        result = self.evaluate()
        self.results.append((epoch + 1, result))
        if logs is not None:
            logs.update({"mifid": result.mifid, "fid": result.fid, "kid": result.kid,
                         "mifid_distance": result.distance,
                         "mifid_features": float(LEVEL_CODES[result.feature_level])})
        improved = result.mifid < self.best_mifid
        if improved:
            self.best_mifid = result.mifid
            if self.run_dir:
                self._save_best(epoch + 1, result)
        if self.verbose:
            level = LEVEL_DESCRIPTIONS[result.feature_level]
            print(f"\nepoch {epoch + 1}: MiFID {result.mifid:.2f} (FID {result.fid:.2f}, distance "
                  f"{result.distance:.4f}, KID {result.kid:.5f}) on {result.generated_count} photos; "
                  f"features {level}{'; best so far' if improved else ''}", flush=True)

    def _save_best(self, epoch: int, result: MifidResult) -> None:
        from .config import write_json_atomic
        from .models import save_float32

        save_float32(self.model.monet_generator, os.path.join(self.run_dir, self.BEST_MODEL))
        write_json_atomic(os.path.join(self.run_dir, self.BEST_INFO),
                          {"epoch": epoch, "num_images": result.generated_count, **result.to_dict()})


__all__ = [
    "JPEG_QUALITY", "COSINE_DISTANCE_THRESHOLD", "MIFID_EPSILON", "LEVELS", "LEVEL_CODES",
    "UNCALIBRATED_WARNING", "DEFAULT_NUM_IMAGES", "MifidError", "frechet_distance", "trace_sqrt_product",
    "memorization_distance", "threshold_distance", "kernel_inception_distance", "FeatureStatistics",
    "MifidResult", "mifid_from_features", "FeatureExtractor", "feature_extractor", "resize_legacy_bilinear",
    "ImageBatches", "image_batches", "first_photos", "photo_subset", "is_kaggle_data_dir", "jpeg_round_trip",
    "statistics",
    "evaluate", "score_generator", "evaluate_generators", "translate_photos", "MifidCallback",
]
