"""The robust scatter every layer uses."""

import warnings

import numpy as np
import pytest

from asteris.stats import nanmedian, nmad


def test_nmad_is_the_standard_deviation_of_gaussian_values_and_ignores_outliers():
    values = np.random.default_rng(1).normal(3.0, 2.0, 200_000)
    assert nmad(values) == pytest.approx(2.0, rel=0.01)
    values[:1000] = 1e6
    assert nmad(values) == pytest.approx(2.0, rel=0.02)


def test_empty_and_non_finite_values():
    assert np.isnan(nmad([])) and nmad([], empty=0.0) == 0.0
    assert np.isnan(nmad([1.0, np.nan, 3.0]))
    assert nmad([1.0, np.nan, 3.0, np.inf], finite_only=True) == pytest.approx(1.4826)
    assert nmad([np.nan], finite_only=True, empty=0.0) == 0.0


def test_float32_values_are_measured_in_float64_unless_kept():
    values = np.random.default_rng(2).normal(0, 1, 1001).astype(np.float32)
    assert nmad(values) == nmad(values.astype(np.float64))
    kept = nmad(values, keep_dtype=True)
    assert kept == pytest.approx(nmad(values), rel=1e-6)
    assert kept == float(1.4826 * np.median(np.abs(values - np.median(values))))  # as float32 arithmetic


LINES = [((64, 300), 1), ((300, 64), 0), ((5, 40, 40), 0), ((6, 7, 33), 2), ((4, 1), 1), ((3, 0), 0)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("shape", "axis"), LINES)
def test_nanmedian_equals_numpys_bit_for_bit(shape, axis, dtype):
    rng = np.random.default_rng(3)
    values = rng.normal(size=shape).astype(dtype)
    values[rng.random(shape) < 0.3] = np.nan
    values.flat[::7] = np.round(values.flat[::7], 1)  # ties
    if values.size:
        values.flat[1] = np.inf
        np.moveaxis(values, axis, -1)[0] = np.nan  # a line with no value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's warning for that line
        expected = np.nanmedian(values, axis=axis, keepdims=True)
    got = nanmedian(values, axis=axis, keepdims=True)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.array_equal(nanmedian(values, axis=axis), expected.squeeze(axis), equal_nan=True)
