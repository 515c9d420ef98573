"""Forward models as composable linear operators on image-shaped arrays (see ``base`` for the algebra)."""
from .base import DENSE_MAX_SIZE, Adjoint, Composition, LinearOperator, Scaled, Sum
from .color import ColorToGray
from .convolution import Convolution, strided_convolution
from .differences import FiniteDifference
from .elementwise import Diagonal, Identity, Mask, Scale
from .interop import from_pylops, from_scipy, to_pylops, to_scipy
from .kernels import box_kernel, gaussian_kernel, motion_kernel
from .matrix import MatrixOperator
from .sampling import Downsample
from .shuffle import PixelShuffle, PixelUnshuffle
from .structure import FourierStructure

__all__ = [
    "LinearOperator", "Composition", "Sum", "Scaled", "Adjoint", "DENSE_MAX_SIZE", "FourierStructure",
    "Identity", "Scale", "Diagonal", "Mask", "Convolution", "strided_convolution", "Downsample",
    "ColorToGray", "PixelShuffle", "PixelUnshuffle", "FiniteDifference", "MatrixOperator",
    "to_scipy", "to_pylops", "from_scipy", "from_pylops", "gaussian_kernel", "motion_kernel", "box_kernel",
]
