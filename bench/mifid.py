"""MiFID speed and exactness: ours vs Kaggle's straightforward scipy-sqrtm computation.

7000 generated x 2048 features against 300 real ones (Kaggle's sizes), random
Inception-like features (non-negative, correlated). Both run here, in one process:

  A. Frechet distance from precomputed statistics: `frechet_distance` (n x n form for
     the 300 real images) vs `scipy.linalg.sqrtm(S1 @ S2)`.
  B. The same without the feature shortcut: covariances only (one `eigh` + `eigvalsh`).
  C. MiFID end to end from features: `mifid_from_features` vs Kaggle's code (np.cov of
     both sides, sqrtm, cosine distance, thresholding).

Usage: python bench/mifid.py [--generated 7000] [--real 300] [--dims 2048] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402

from monet_utils import mifid  # noqa: E402


# ---------------------------------------------------------------- Kaggle's reference
def reference_frechet(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """Kaggle's calculate_frechet_distance (scipy sqrtm of the non-symmetric product)."""
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def reference_mifid(generated, real):
    """Kaggle's scoring from features: np.cov, sqrtm, cosine distance, threshold."""
    mu1, sigma1 = np.mean(generated, axis=0), np.cov(generated, rowvar=False)
    mu2, sigma2 = np.mean(real, axis=0), np.cov(real, rowvar=False)
    fid = reference_frechet(mu1, sigma1, mu2, sigma2)
    g = generated[np.sum(generated, axis=1) != 0]
    r = real[np.sum(real, axis=1) != 0]
    g = np.nan_to_num(g / np.linalg.norm(g, ord=2, axis=1, keepdims=True))
    r = np.nan_to_num(r / np.linalg.norm(r, ord=2, axis=1, keepdims=True))
    distance = np.mean(np.min(1.0 - np.abs(g @ r.T), axis=1))
    thresholded = distance if distance < 0.1 else 1.0
    return fid / (thresholded + 1e-15), fid


# ---------------------------------------------------------------- features
def inception_like(rng, count, dims, mixing, shift):
    """Non-negative, correlated features (ReLU of a random mixing), like pool_3's."""
    latent = rng.standard_normal((count, mixing.shape[0]))
    return np.maximum(latent @ mixing + shift, 0.0) + 0.01 * rng.random((count, dims))


def timed(function, repeat):
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return value, min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=7000)
    parser.add_argument("--real", type=int, default=300)
    parser.add_argument("--dims", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours (best time); the reference runs once")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    mixing = rng.standard_normal((512, args.dims)) / np.sqrt(512)
    generated = inception_like(rng, args.generated, args.dims, mixing, 0.05).astype(np.float32)
    real = inception_like(rng, args.real, args.dims, mixing, 0.0).astype(np.float32)
    g64, r64 = generated.astype(np.float64), real.astype(np.float64)
    mu_g, sigma_g = g64.mean(axis=0), np.cov(g64, rowvar=False)
    mu_r, sigma_r = r64.mean(axis=0), np.cov(r64, rowvar=False)
    print(f"features: {args.generated} generated x {args.dims} vs {args.real} real "
          f"(numpy {np.__version__}, scipy {scipy.__version__}, {os.cpu_count()} CPUs)")

    ref_fid, ref_time = timed(lambda: reference_frechet(mu_g, sigma_g, mu_r, sigma_r), 1)
    rows = []
    ours, ours_time = timed(lambda: mifid.frechet_distance(mu_g, sigma_g, mu_r, sigma_r, features2=r64),
                            args.repeat)
    rows.append(("A. FID from statistics, n x n form", ours, ours_time, ref_fid, ref_time))
    ours, ours_time = timed(lambda: mifid.frechet_distance(mu_g, sigma_g, mu_r, sigma_r), args.repeat)
    rows.append(("B. FID from covariances only", ours, ours_time, ref_fid, ref_time))
    (ref_mifid, _), ref_e2e_time = timed(lambda: reference_mifid(g64, r64), 1)
    result, ours_time = timed(lambda: mifid.mifid_from_features(generated, real, kid=False), args.repeat)
    rows.append(("C. MiFID end to end from features", result.mifid, ours_time, ref_mifid, ref_e2e_time))

    print(f"{'comparison':38s} {'ours':>16s} {'reference':>16s} {'rel. diff':>9s} "
          f"{'ours s':>8s} {'ref s':>8s} {'speed-up':>8s}")
    for name, value, seconds, reference, reference_seconds in rows:
        print(f"{name:38s} {value:16.9f} {reference:16.9f} {abs(value - reference) / abs(reference):9.1e} "
              f"{seconds:8.3f} {reference_seconds:8.2f} {reference_seconds / seconds:7.1f}x")
    trace_scale = np.trace(sigma_g) + np.trace(sigma_r)
    print(f"FID {rows[0][1]:.6f}; |ours - reference| / (Tr S1 + Tr S2) = "
          f"{abs(rows[0][1] - ref_fid) / trace_scale:.1e}; memorization distance "
          f"{result.distance:.4f} (thresholded {result.thresholded_distance})")
    ratio = rows[0][4] / rows[0][2]
    print(f"target >= 20x on A: {'met' if ratio >= 20 else 'NOT met'} ({ratio:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
