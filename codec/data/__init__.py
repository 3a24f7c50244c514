"""Cameras, multi-view datasets (transforms.json), and the synthetic dynamic scene."""

from .cameras import Camera, CameraError, orbit_camera, random_ray_batch
from .dataset import DatasetWriter, MultiViewDataset, estimate_aabb, load_dataset, write_dataset

__all__ = [
    "Camera",
    "CameraError",
    "DatasetWriter",
    "MultiViewDataset",
    "estimate_aabb",
    "load_dataset",
    "orbit_camera",
    "random_ray_batch",
    "write_dataset",
]
