"""Training ppsolve's learned components.

=====================  ==================================================================================
``loop``               ``Trainer``: the resumable loop every training shares (schedule, checkpoints, resume,
                       Ctrl-C, progress), used by the denoisers here and by ``LearnedInverse.fit``
``denoiser``           ``DenoiserTrainer`` / ``train_denoiser``: denoisers as ADMM's proximal operator
                       (paper eqs. 12-13), ``export_denoiser``
``distributed``        ``World``: this process's rank under ``torch.distributed`` and the collectives the
                       trainer uses (one global batch split over the ranks, rank-0 writes)
``metadata``           what a denoiser's model file records of its training
``inputs``             batch samplers and the ``BicubicOrNoise`` input of the conditional priors
``recipes``            the zoo's training set-ups with their data splits
``cli``                ``python -m ppsolve.train RECIPE`` (also ``ppsolve train``)
=====================  ==================================================================================
"""
from .denoiser import DenoiserTrainer, export_denoiser, train_denoiser
from .inputs import ArraySampler, BicubicOrNoise, CropSampler
from .loop import DeferredSigint, Trainer, learning_rate

__all__ = [
    "ArraySampler", "BicubicOrNoise", "CropSampler", "DeferredSigint", "DenoiserTrainer", "Trainer",
    "export_denoiser", "learning_rate", "train_denoiser",
]
