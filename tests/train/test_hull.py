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


def test_visual_hull_keeps_exactly_the_points_every_seeing_view_covers(tiny) -> None:
    """Projecting only the not-yet-carved points gives the definition's hull, point by point."""
    from codec.train.init import lattice_points, project, silhouettes, visual_hull
    from codec.train.rays import frame_rays

    rays = frame_rays(tiny, tiny.frame_ids[0], list(tiny.train_views), "cpu")
    aabb = torch.as_tensor(tiny.aabb, dtype=torch.float32)
    n = 17
    hull = visual_hull(rays.cameras, rays.alphas(), aabb, n, 0.05, 1)
    masks = silhouettes(rays.alphas(), 0.05, 1)
    pts = lattice_points(aabb, n).reshape(-1, 3)
    expected = torch.ones(pts.shape[0], dtype=torch.bool)
    for cam, mask in zip(rays.cameras, masks):
        col, row, front = project(pts, cam)
        h, w = mask.shape
        ci, ri = col.floor().long(), row.floor().long()
        seen = front & (ci >= 0) & (ci < w) & (ri >= 0) & (ri < h)
        covered = mask[ri.clamp(0, h - 1), ci.clamp(0, w - 1)]
        expected &= covered | ~seen
    assert torch.equal(hull.reshape(-1), expected)
    assert 0 < int(hull.sum()) < hull.numel()
