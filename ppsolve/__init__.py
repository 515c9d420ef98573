"""ppsolve: linear inverse problems in imaging solved by ADMM with swappable parts.

The forward operator (``ppsolve.operators``), the solver of ADMM's least-squares step
(``ppsolve.inverses``) and the proximal operator (``ppsolve.prox``) are independent components:

    from ppsolve import ADMM, LearnedInverse

``import ppsolve`` imports PyTorch (a dependency): the learned inverse and the learned priors are torch
networks, and the model zoo (``ppsolve.zoo``) is available at once.
"""
from . import inverses, operators, prox, zoo
from ._version import __version__
from .admm import ADMM, ADMMResult, History
from .blockwise import restore_large
from .inverses import ConjugateGradient, DenseInverse, FourierInverse, GradientDescent, LearnedInverse, make_inverse
from .photo import restore_image
from .problems import Problem, synthetic_laplace
from .restore import restore

__all__ = [
    "ADMM",
    "ADMMResult",
    "ConjugateGradient",
    "DenseInverse",
    "FourierInverse",
    "GradientDescent",
    "History",
    "LearnedInverse",
    "Problem",
    "__version__",
    "inverses",
    "make_inverse",
    "operators",
    "prox",
    "restore",
    "restore_image",
    "restore_large",
    "synthetic_laplace",
    "zoo",
]
