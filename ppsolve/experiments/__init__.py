"""Set-ups and baselines shared by the benchmarks that reproduce the paper's experiments.

``ppsolve.experiments.mnist``: the MNIST 4x super-resolution problem (the operator, the measurements, the
train / held-out split), aligned periodic bicubic interpolation and gradient-penalty Tikhonov in closed form.
Nothing here knows where a data set lives: loaders take paths, the benchmarks take ``--data``.
"""
