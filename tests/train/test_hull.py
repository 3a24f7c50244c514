"""The conservative coarse hull equals a dense box max-pool of the fine hull."""

import pytest
import torch
import torch.nn.functional as F

from codec.train.init import hull_at_resolution


@pytest.mark.parametrize("n", [5, 9, 17])
def test_coarse_hull_is_box_max_of_fine_hull(n: int) -> None:
    gen = torch.Generator().manual_seed(n)
    fine = torch.rand(33, 33, 33, generator=gen) > 0.97
    stride = 32 // (n - 1)
    dense = F.max_pool3d(fine.float()[None, None], 2 * stride + 1, stride=1, padding=stride)
    expected = dense[0, 0, ::stride, ::stride, ::stride] > 0.5
    got = hull_at_resolution(fine, n)
    assert got.shape == (n, n, n)
    assert torch.equal(got, expected)
    assert bool(got.any())


def test_hull_at_its_own_resolution_is_unchanged() -> None:
    fine = torch.rand(17, 17, 17, generator=torch.Generator().manual_seed(1)) > 0.9
    assert torch.equal(hull_at_resolution(fine, 17), fine)
