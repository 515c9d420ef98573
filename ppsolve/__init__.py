"""ppsolve: linear inverse problems in imaging solved by ADMM with swappable parts.

The forward operator (``ppsolve.operators``), the solver of ADMM's least-squares step
(``ppsolve.inverses``) and the proximal operator (``ppsolve.prox``) are independent components.
"""
from . import operators

__version__ = "0.1.0"
__all__ = ["operators", "__version__"]
