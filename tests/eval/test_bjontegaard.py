"""BD-rate / BD-PSNR: our numpy PCHIP against the `bjontegaard` package, and the refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from codec.eval.bjontegaard import CurveError, Pchip, bd_psnr, bd_rate

bjontegaard = pytest.importorskip("bjontegaard")

# The package's README example (libx265 presets), plus curves of other shapes.
X265_ANCHOR = ([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 36.845, 34.851])
X265_TEST = ([9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 36.970, 34.987])


def _reference(fn_name: str, anchor, test) -> float:
    fn = getattr(bjontegaard, fn_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its partial-overlap warning; we check overlap ourselves
        return float(
            fn(*anchor, *test, method="pchip", require_matching_points=False, min_overlap=0)
        )


def _random_curve(rng: np.random.Generator, n: int, shift_db: float, rate_scale: float):
    """A concave, monotone RD curve: PSNR rising with log-rate, with some jitter."""
    log_rate = np.sort(rng.uniform(2.0, 5.0, n))
    log_rate += np.arange(n) * 1e-3  # strictly increasing
    psnr = 20 + shift_db + 6 * np.log2(1 + log_rate) + rng.normal(0, 0.05, n)
    psnr = np.maximum.accumulate(psnr) + np.arange(n) * 1e-3
    return list(10**log_rate * rate_scale), list(psnr)


def test_readme_example_matches_package() -> None:
    for name, ours in (("bd_rate", bd_rate), ("bd_psnr", bd_psnr)):
        ref = _reference(name, X265_ANCHOR, X265_TEST)
        assert ours(*X265_ANCHOR, *X265_TEST) == pytest.approx(ref, abs=1e-9)
    assert bd_rate(*X265_ANCHOR, *X265_TEST, min_overlap_db=1.0) < 0  # the test curve is better


@pytest.mark.parametrize("seed", range(12))
def test_random_curves_match_package(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_a, n_t = rng.integers(4, 9, 2)
    anchor = _random_curve(rng, n_a, 0.0, 1.0)
    test = _random_curve(rng, n_t, rng.uniform(-1.5, 1.5), rng.uniform(0.5, 2.0))
    try:
        ours_rate = bd_rate(*anchor, *test)
    except CurveError:
        pytest.skip("this draw shares < 1 dB")
    assert ours_rate == pytest.approx(_reference("bd_rate", anchor, test), rel=1e-9, abs=1e-9)
    assert bd_psnr(*anchor, *test) == pytest.approx(
        _reference("bd_psnr", anchor, test), rel=1e-9, abs=1e-9
    )


def test_identical_curves_give_zero_and_scaled_rate_gives_its_ratio() -> None:
    rates, psnr = X265_ANCHOR
    assert bd_rate(rates, psnr, rates, psnr) == pytest.approx(0.0, abs=1e-12)
    assert bd_psnr(rates, psnr, rates, psnr) == pytest.approx(0.0, abs=1e-12)
    half = [r * 0.5 for r in rates]
    assert bd_rate(rates, psnr, half, psnr) == pytest.approx(-50.0, abs=1e-9)
    assert bd_rate(half, psnr, rates, psnr) == pytest.approx(100.0, abs=1e-9)


def test_point_order_does_not_matter() -> None:
    a_r, a_p = X265_ANCHOR
    t_r, t_p = X265_TEST
    ref = bd_rate(a_r, a_p, t_r, t_p)
    perm = [2, 0, 3, 1]
    shuffled = bd_rate([a_r[i] for i in perm], [a_p[i] for i in perm], t_r, t_p)
    assert shuffled == pytest.approx(ref, abs=1e-12)


def test_fewer_than_four_points_is_an_error() -> None:
    rates, psnr = X265_ANCHOR
    with pytest.raises(CurveError, match="at least 4"):
        bd_rate(rates[:3], psnr[:3], rates, psnr)
    with pytest.raises(CurveError, match="at least 4"):
        bd_psnr(rates, psnr, rates[:3], psnr[:3])


def test_less_than_one_db_overlap_is_an_error() -> None:
    rates, psnr = X265_ANCHOR  # PSNR 34.85 .. 40.04
    far = [p + 4.5 for p in psnr]  # shares 0.69 dB
    with pytest.raises(CurveError, match="share 0.69 dB"):
        bd_rate(rates, psnr, rates, far)
    with pytest.raises(CurveError, match="dB"):
        bd_psnr(rates, psnr, rates, far)
    disjoint = [p + 20 for p in psnr]
    with pytest.raises(CurveError):
        bd_rate(rates, psnr, rates, disjoint)
    assert np.isfinite(bd_rate(rates, psnr, rates, [p + 4.0 for p in psnr]))  # 1.19 dB: fine


def test_bad_values_are_errors() -> None:
    rates, psnr = X265_ANCHOR
    with pytest.raises(CurveError, match="positive"):
        bd_rate([0.0, *rates[1:]], psnr, rates, psnr)
    with pytest.raises(CurveError, match="finite"):
        bd_rate(rates, [float("nan"), *psnr[1:]], rates, psnr)
    with pytest.raises(CurveError, match="same PSNR"):
        bd_rate(rates, [psnr[0], psnr[0], *psnr[2:]], rates, psnr)
    with pytest.raises(CurveError, match="rates but"):
        bd_rate(rates, psnr[:3] + [1, 2], rates, psnr)


def test_pchip_interpolates_keeps_monotone_and_integrates_exactly() -> None:
    x = np.array([0.0, 1.0, 2.5, 3.0, 5.0])
    y = np.array([0.0, 0.1, 2.0, 2.05, 4.0])
    f = Pchip(x, y)
    assert np.allclose(f(x), y)
    fine = np.linspace(0, 5, 2001)
    assert np.all(np.diff(f(fine)) >= -1e-12)  # no overshoot on monotone data
    # Exact integral vs a fine trapezoid rule, across segment boundaries.
    a, b = 0.3, 4.7
    grid = np.linspace(a, b, 200001)
    vals = f(grid)
    trapezoid = float(np.sum((vals[1:] + vals[:-1]) * 0.5 * np.diff(grid)))
    assert f.integrate(a, b) == pytest.approx(trapezoid, abs=1e-8)
