"""SpecAugment masking of training features: what is masked, how much, and that it is repeatable."""
from __future__ import annotations

import numpy as np
import pytest

from tinymlkit.audio.masking import MaskConfig, make_masker, mask_features


def _ramp() -> np.ndarray:
    # Every value different, so a masked cell is recognisable by taking the mean.
    return np.arange(49 * 40, dtype=np.float32).reshape(49, 40) / 100.0


def _masked_rows_and_columns(x: np.ndarray, y: np.ndarray) -> tuple[set[int], set[int]]:
    fill = np.float32(x.mean())
    changed = y != x
    assert np.all(y[changed] == fill)  # only ever set to the mean
    rows = {int(i) for i in np.where((y == fill).all(axis=1))[0]}
    cols = {int(j) for j in np.where((y == fill).all(axis=0))[0]}
    return rows, cols


def test_time_masks_blank_whole_frames_within_the_widest_width():
    x = _ramp()
    cfg = MaskConfig(time_masks=1, time_width=8, freq_masks=0)
    widths = []
    for seed in range(60):
        y = mask_features(x, cfg, np.random.default_rng(seed))
        rows, cols = _masked_rows_and_columns(x, y)
        assert not cols  # no frequency band masked
        changed_rows = {int(i) for i in np.where((y != x).any(axis=1))[0]}
        assert changed_rows <= rows  # a changed frame is changed in every channel
        if rows:
            assert max(rows) - min(rows) + 1 == len(rows)  # one contiguous stretch
        widths.append(len(rows))
    assert max(widths) <= 8 and max(widths) >= 6  # draws reach near the widest, never beyond
    assert np.array_equal(x, _ramp())  # the input is left alone


def test_frequency_masks_blank_whole_channels():
    x = _ramp()
    y = mask_features(x, MaskConfig(time_masks=0, freq_masks=2, freq_width=5), np.random.default_rng(3))
    rows, cols = _masked_rows_and_columns(x, y)
    assert not rows and 1 <= len(cols) <= 10
    assert np.array_equal(y[:, [j for j in range(40) if j not in cols]], x[:, [j for j in range(40) if j not in cols]])


def test_masking_is_repeatable_and_can_be_turned_off():
    x = _ramp()
    cfg = MaskConfig()
    a = mask_features(x, cfg, np.random.default_rng(9))
    b = mask_features(x, cfg, np.random.default_rng(9))
    assert np.array_equal(a, b) and not np.array_equal(a, x)
    assert np.array_equal(mask_features(x, MaskConfig(time_masks=0, freq_masks=0), np.random.default_rng(1)), x)
    assert np.array_equal(mask_features(x, MaskConfig(probability=0.0), np.random.default_rng(1)), x)
    hook = make_masker(cfg)
    assert np.array_equal(hook(x, 2, np.random.default_rng(9)), a)


def test_bad_mask_settings_are_refused():
    with pytest.raises(ValueError, match="time_width"):
        MaskConfig(time_width=-1)
    with pytest.raises(ValueError, match="probability"):
        MaskConfig(probability=1.5)
    with pytest.raises(ValueError, match="frames x channels"):
        mask_features(np.zeros(10, np.float32), MaskConfig(), np.random.default_rng(0))
