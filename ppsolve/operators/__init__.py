"""Forward models as composable linear operators on image-shaped arrays (see ``base`` for the algebra)."""
from .base import DENSE_MAX_SIZE, Adjoint, Composition, LinearOperator, Scaled, Sum
from .color import ColorToGray
from .convolution import Convolution, strided_convolution
from .crop import Crop, ValidModel, valid_convolution, valid_strided_convolution
from .differences import FiniteDifference
from .dottest import dot_test
from .elementwise import Diagonal, Identity, Mask, Scale
from .external import ExternalOperator, from_pylops, from_scipy
from .flat import to_pylops, to_scipy
from .kernels import box_kernel, gaussian_kernel, motion_kernel
from .matrix import MatrixOperator
from .resize import Resize
from .sampling import Downsample
from .shuffle import PixelShuffle, PixelUnshuffle
from .structure import FourierStructure

__all__ = [
    "DENSE_MAX_SIZE",
    "Adjoint",
    "ColorToGray",
    "Composition",
    "Convolution",
    "Crop",
    "Diagonal",
    "Downsample",
    "ExternalOperator",
    "FiniteDifference",
    "FourierStructure",
    "Identity",
    "LinearOperator",
    "Mask",
    "MatrixOperator",
    "PixelShuffle",
    "PixelUnshuffle",
    "Resize",
    "Scale",
    "Scaled",
    "Sum",
    "ValidModel",
    "box_kernel",
    "dot_test",
    "from_pylops",
    "from_scipy",
    "gaussian_kernel",
    "motion_kernel",
    "strided_convolution",
    "to_pylops",
    "to_scipy",
    "valid_convolution",
    "valid_strided_convolution",
]
