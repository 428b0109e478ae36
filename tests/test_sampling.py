"""Training samples: interlaced halves, augmentations and the patches of an epoch."""

import numpy as np

from asteris.sampling import dihedral, epoch_samples, interlaced_split, make_sample, subtract_half_median


def test_interlaced_split_and_half_median():
    patch = np.arange(16, dtype=np.float32)[:, None, None] * np.ones((16, 4, 4), np.float32)
    inp, tgt = interlaced_split(patch)
    assert inp[:, 0, 0].tolist() == list(range(0, 16, 2)) and tgt[:, 0, 0].tolist() == list(range(1, 16, 2))
    half = np.full((4, 3, 3), 7.0, np.float32)
    half[0, 0, 0] = 0
    out = subtract_half_median(half)
    assert out[0, 0, 0] == 0 and np.allclose(out[1:], 0)


def test_dihedral_group():
    a = np.arange(2 * 3 * 3).reshape(2, 3, 3)
    images = {dihedral(a, k).tobytes() for k in range(8)}
    assert len(images) == 8
    assert np.array_equal(dihedral(dihedral(a, 1), 3), a)


def test_epoch_samples_filter_zeros_and_shuffle(train_stack):
    stack = train_stack.copy()
    stack[:, :16, :16] = 0
    positions = [(0, 0), (0, 16), (16, 16)]
    a = epoch_samples([stack], positions, frames=8, patch=16, max_zero_fraction=0.2, seed=1, epoch=0)
    assert {(s.y, s.x) for s in a} == {(0, 16), (16, 16)}
    b = epoch_samples([stack], positions, frames=8, patch=16, max_zero_fraction=0.2, seed=1, epoch=1)
    assert a[0].frames != b[0].frames  # frame order reshuffled every epoch
    inp, tgt = make_sample([stack], a[0], patch=16, rng=np.random.default_rng(0))
    assert inp.shape == tgt.shape == (8, 16, 16)
