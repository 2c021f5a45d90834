"""Keras's preprocessing package: image augmentation in :mod:`minicnn.preprocessing.image`."""
from minicnn.preprocessing import image

__all__ = ["image"]
