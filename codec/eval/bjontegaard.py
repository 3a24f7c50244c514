"""Bjøntegaard metrics (BD-rate, BD-PSNR) between two rate–distortion curves.

The method in common use (JCT-VC/JVET common test conditions, and the default ``'pchip'`` method
of the ``bjontegaard`` PyPI package): rates go to log10, each curve is interpolated by a
piecewise-cubic Hermite interpolant (PCHIP, Fritsch–Carlson/Brodlie slopes with the shape-keeping
three-point end slopes), and the two interpolants are averaged over the range where both curves
exist. BD-rate interpolates log-rate as a function of PSNR and reports the average rate change in
percent (negative: the test curve needs fewer bytes); BD-PSNR interpolates PSNR as a function of
log-rate and reports the average PSNR gain in dB.

PCHIP is written here in numpy (about 40 lines) so the runtime needs no scipy; a test checks it
against the ``bjontegaard`` package on the same points.

A number is only returned when it means something: each curve needs at least ``MIN_POINTS``
points, and the curves must share at least ``MIN_OVERLAP_DB`` of PSNR; otherwise `CurveError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import FieldCastError

MIN_POINTS = 4
"""Fewest RD points per curve: a cubic through fewer says more about the fit than the codec."""
MIN_OVERLAP_DB = 1.0
"""Least shared PSNR range: averaging over a sliver would report noise as a rate difference."""


class CurveError(FieldCastError, ValueError):
    """Two RD curves that cannot be compared (too few points, too little overlap, bad values)."""


class Pchip:
    """Monotonicity-preserving piecewise-cubic Hermite interpolant of (x, y) with exact integral.

    Slopes as in Fritsch & Carlson (1980) with Brodlie's weighted harmonic mean inside and the
    one-sided three-point formula, limited to keep the shape, at both ends (the same choices as
    scipy's ``PchipInterpolator``, hence as the JVET spreadsheet).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or x.size < 2:
            raise CurveError("PCHIP needs two 1-D arrays of the same length >= 2")
        if np.any(np.diff(x) <= 0):
            raise CurveError("PCHIP needs strictly increasing x")
        self.x, self.y = x, y
        h = np.diff(x)
        m = np.diff(y) / h
        self.d = self._slopes(h, m)
        # Per segment, y = c0 + c1*s + c2*s^2 + c3*s^3 with s = x - x_k.
        d0, d1 = self.d[:-1], self.d[1:]
        self.c = np.stack([y[:-1], d0, (3 * m - 2 * d0 - d1) / h, (d0 + d1 - 2 * m) / h**2])

    @staticmethod
    def _slopes(h: np.ndarray, m: np.ndarray) -> np.ndarray:
        if m.size == 1:
            return np.array([m[0], m[0]])
        d = np.zeros(m.size + 1)
        flat_or_turn = (np.sign(m[1:]) != np.sign(m[:-1])) | (m[1:] == 0) | (m[:-1] == 0)
        w1 = 2 * h[1:] + h[:-1]
        w2 = h[1:] + 2 * h[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            harmonic = (w1 / m[:-1] + w2 / m[1:]) / (w1 + w2)
            d[1:-1] = np.where(flat_or_turn, 0.0, 1.0 / harmonic)
        d[0] = Pchip._end_slope(h[0], h[1], m[0], m[1])
        d[-1] = Pchip._end_slope(h[-1], h[-2], m[-1], m[-2])
        return d

    @staticmethod
    def _end_slope(h0: float, h1: float, m0: float, m1: float) -> float:
        d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        if np.sign(d) != np.sign(m0):
            return 0.0
        if np.sign(m0) != np.sign(m1) and abs(d) > 3 * abs(m0):
            return 3 * m0
        return float(d)

    def _segment(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.x, x, side="right") - 1, 0, self.x.size - 2)

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        k = self._segment(x)
        s = x - self.x[k]
        c = self.c[:, k]
        return c[0] + s * (c[1] + s * (c[2] + s * c[3]))

    def _antiderivative(self, x: float) -> float:
        """Integral from x[0] to x (x inside the data range)."""
        k = int(self._segment(np.asarray(x)))
        c = self.c
        h = np.diff(self.x)
        full = c[0] * h + c[1] * h**2 / 2 + c[2] * h**3 / 3 + c[3] * h**4 / 4
        s = x - self.x[k]
        part = c[0, k] * s + c[1, k] * s**2 / 2 + c[2, k] * s**3 / 3 + c[3, k] * s**4 / 4
        return float(full[:k].sum() + part)

    def integrate(self, a: float, b: float) -> float:
        if not (self.x[0] - 1e-12 <= a <= b <= self.x[-1] + 1e-12):
            raise CurveError("PCHIP integrates only inside its data range")
        return self._antiderivative(b) - self._antiderivative(a)


def _curve(
    rate: Sequence[float], psnr: Sequence[float], name: str
) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64).ravel()
    p = np.asarray(psnr, dtype=np.float64).ravel()
    if r.shape != p.shape:
        raise CurveError(f"{name}: {r.size} rates but {p.size} PSNR values")
    if r.size < MIN_POINTS:
        raise CurveError(f"{name}: {r.size} RD points; BD metrics need at least {MIN_POINTS}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(p))):
        raise CurveError(f"{name}: rates and PSNR values must be finite")
    if np.any(r <= 0):
        raise CurveError(f"{name}: rates must be positive")
    return np.log10(r), p


def _sorted_by(x: np.ndarray, y: np.ndarray, name: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) <= 0):
        raise CurveError(f"{name}: two RD points share the same {what}; drop the duplicate")
    return x, y


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    return max(a.min(), b.min()), min(a.max(), b.max())


def _check_psnr_overlap(p_anchor: np.ndarray, p_test: np.ndarray, min_overlap_db: float) -> None:
    lo, hi = _overlap(p_anchor, p_test)
    if hi - lo < min_overlap_db:
        raise CurveError(
            f"the curves share {max(hi - lo, 0.0):.2f} dB of PSNR "
            f"(anchor {p_anchor.min():.2f}-{p_anchor.max():.2f}, "
            f"test {p_test.min():.2f}-{p_test.max():.2f}); BD metrics need {min_overlap_db:g} dB"
        )


def bd_rate(
    rate_anchor: Sequence[float],
    psnr_anchor: Sequence[float],
    rate_test: Sequence[float],
    psnr_test: Sequence[float],
    *,
    min_overlap_db: float = MIN_OVERLAP_DB,
) -> float:
    """Average rate change of `test` against `anchor` at equal PSNR, in percent.

    −40 means the test needs 40% fewer bytes than the anchor for the same quality, on average
    over the PSNR range both curves cover.
    """
    lr_a, p_a = _curve(rate_anchor, psnr_anchor, "anchor")
    lr_t, p_t = _curve(rate_test, psnr_test, "test")
    _check_psnr_overlap(p_a, p_t, min_overlap_db)
    p_a, lr_a = _sorted_by(p_a, lr_a, "anchor", "PSNR")
    p_t, lr_t = _sorted_by(p_t, lr_t, "test", "PSNR")
    lo, hi = _overlap(p_a, p_t)
    mean_diff = (Pchip(p_t, lr_t).integrate(lo, hi) - Pchip(p_a, lr_a).integrate(lo, hi)) / (
        hi - lo
    )
    return float((10.0**mean_diff - 1.0) * 100.0)


def bd_psnr(
    rate_anchor: Sequence[float],
    psnr_anchor: Sequence[float],
    rate_test: Sequence[float],
    psnr_test: Sequence[float],
    *,
    min_overlap_db: float = MIN_OVERLAP_DB,
) -> float:
    """Average PSNR gain of `test` over `anchor` at equal rate, in dB (positive: test better).

    The same validity rules as `bd_rate` (the curves must share ``min_overlap_db`` of PSNR),
    and their log-rate ranges must overlap.
    """
    lr_a, p_a = _curve(rate_anchor, psnr_anchor, "anchor")
    lr_t, p_t = _curve(rate_test, psnr_test, "test")
    _check_psnr_overlap(p_a, p_t, min_overlap_db)
    lr_a, p_a = _sorted_by(lr_a, p_a, "anchor", "rate")
    lr_t, p_t = _sorted_by(lr_t, p_t, "test", "rate")
    lo, hi = _overlap(lr_a, lr_t)
    if hi <= lo:
        raise CurveError("the curves share no range of rates; BD-PSNR is undefined")
    return float(
        (Pchip(lr_t, p_t).integrate(lo, hi) - Pchip(lr_a, p_a).integrate(lo, hi)) / (hi - lo)
    )
