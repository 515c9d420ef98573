"""Data loading: MNIST IDX files, image files and folders, splits and training patches.

Every loader takes a path; nothing here knows where a data set lives. Arrays are float32 in ``[0, 1]``
in the operators' layout: ``(H, W)`` grey, ``(3, H, W)`` colour, a leading ``N`` for stacks.
"""
from .images import IMAGE_EXTENSIONS, holdout_split, list_images, load_image, load_images, random_crops
from .mnist import load_mnist, load_mnist_images, load_mnist_labels, load_mnist_sample

__all__ = [
    "IMAGE_EXTENSIONS",
    "holdout_split",
    "list_images",
    "load_image",
    "load_images",
    "load_mnist",
    "load_mnist_images",
    "load_mnist_labels",
    "load_mnist_sample",
    "random_crops",
]
