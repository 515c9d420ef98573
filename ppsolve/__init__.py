"""ppsolve: linear inverse problems in imaging solved by ADMM with swappable parts.

The forward operator (``ppsolve.operators``), the solver of ADMM's least-squares step
(``ppsolve.inverses``) and the proximal operator (``ppsolve.prox``) are independent components:

    from ppsolve import ADMM, LearnedInverse
"""
from . import inverses, operators, prox
from .admm import ADMM, ADMMResult, History
from .inverses import ConjugateGradient, DenseInverse, FourierInverse, GradientDescent, make_inverse
from .problems import Problem, synthetic_laplace
from .restore import restore

__version__ = "0.1.0"
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
    "synthetic_laplace",
]


def __getattr__(name):
    # torch networks load on first use, keeping ``import ppsolve`` light
    if name == "LearnedInverse":
        from .inverses.learned import LearnedInverse

        return LearnedInverse
    raise AttributeError(f"module 'ppsolve' has no attribute {name!r}")
