"""Neural networks used by ppsolve's learned components (built on PyTorch)."""
from .cpsdae import CPSDAE, SameConv2d
from .dae import DAE
from .discriminator import Discriminator, FeatureComparator
from .dncnn import DnCNN, SigmaDnCNN
from .symmetric import LinearSymmetricNet, PaperSymmetricNet, build_symmetric_net
from .unet import SigmaUNet

__all__ = [
    "CPSDAE",
    "DAE",
    "Discriminator",
    "DnCNN",
    "FeatureComparator",
    "LinearSymmetricNet",
    "PaperSymmetricNet",
    "SameConv2d",
    "SigmaDnCNN",
    "SigmaUNet",
    "build_symmetric_net",
]
