r"""One learned inverse for every beta of the deblurring schedule: the resolvent identity on one network.

The zoo's deblurring schedule (``natural-gray``, 8 stages) takes beta from 0.00056 to 0.5. One
``LearnedInverse`` (direct, linear form, circular padding), trained from noise at the schedule's smallest beta
on the 128 x 128 periodic motion blur (``--inverse``: by default the file ``benchmarks/deblur_bsd68.py`` caches,
63 x 63 kernels and 8000 steps, ``experiments.natural.deblur_inverse_options``) and loaded for 256 x 256, serves
every stage through ``ppsolve.inverses.learned_shift`` (``m(beta) = m_0 / (1 + (beta - beta_0) m_0)``, then
``refine`` steps of iterative refinement). On BSD68 test001-004 central crops (the only images settings are
chosen on), ``b = A^T A x + beta x`` with exact answer ``x``:

(a) periodic 256 x 256: the z-update's relative error at each beta for each ``--refine``, and beside it the
    error of the per-beta network trained for that beta, where ``--per-beta DIR`` holds it
    (``deblur_bsd68.py``'s cache: file names ``learned_inverse_motion9*_beta<beta>.safetensors``);
(b) the unknown-boundary (valid) model of the photo path, ``valid_convolution(kernel, (248, 248))`` (input
    256 x 256): conjugate gradients to the photo path's tolerance 1e-6 at each beta, plain, preconditioned by
    the periodic closed form restricted to the frame (the default, ``fourier.periodic_preconditioner``), and
    preconditioned by the one learned inverse restricted the same way: iterations and CPU seconds (mean per
    image), and the error against the closed-form-preconditioned answer;
(c) at the smallest beta, the closed-form preconditioner with learned edge gains, ``M = D R (beta I + P P^T)^{-1}
    R^T D`` with ``D`` 1 except within ``EDGE`` pixels of the frame's border (one positive gain per side and
    distance, 4 x ``EDGE`` numbers), trained from noise with the learned inverse's loss ``mean ||e - M S e||^2``
    (``S = beta I + A A^T``; Adam, 150 steps of 4 probes): CG iterations against the closed form alone.

Run:   python benchmarks/one_inverse.py [--inverse FILE] [--per-beta DIR] [--refine R ...] [--out DIR]
Writes <out>/one_inverse.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import _timing  # noqa: F401 - thread settings before NumPy / torch start their pools
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import DATA, z_errors  # noqa: E402

from ppsolve import zoo  # noqa: E402
from ppsolve.data import list_images  # noqa: E402
from ppsolve.experiments.natural import central_crops  # noqa: E402
from ppsolve.inverses import ConjugateGradient  # noqa: E402
from ppsolve.inverses.fourier import periodic_preconditioner  # noqa: E402
from ppsolve.inverses.learned import LearnedInverse  # noqa: E402
from ppsolve.inverses.learned_shift import ShiftedLearnedInverse, every_beta  # noqa: E402
from ppsolve.operators import Convolution, valid_convolution  # noqa: E402

CACHE = ROOT / "results" / "deblur_bsd68"
TOL = 1e-6  # the photo path's CG tolerance (photo._inverse)
EDGE = 8  # pixels of learned edge gains per side in part (c)


def per_beta_errors(folder: Path, A, betas, x) -> dict:
    """The per-beta networks' z-update errors, for the betas whose cached file is in ``folder``."""
    out = {}
    for beta in betas:
        found = sorted(folder.glob(f"learned_inverse_motion9*_beta{beta:g}.safetensors"))
        if found:
            inv = LearnedInverse.load(str(found[0]), A, beta, allow_resize=True)
            out.update(z_errors(lambda A, b, inv=inv: inv, A, [beta], x))
    return out


def valid_rows(kernel, x, base, betas) -> list[dict]:
    """Part (b): CG on the valid model, three ways, per beta."""
    A = valid_convolution(kernel, (248, 248))
    _, P = A.periodic_factor()
    if P.in_shape != base.A.in_shape:
        raise SystemExit(f"one_inverse: the valid model's periodic factor is {P!r}, "
                         f"the learned inverse is for {base.A!r}")
    rows = []
    for beta in betas:
        shifted = ShiftedLearnedInverse(base, beta, refine=0)  # P is base's operator: the same blur on 256 x 256
        ways = {"cg": None, "cg_periodic_closed_form": periodic_preconditioner(A, beta),
                "cg_one_learned_inverse": periodic_preconditioner(A, beta, periodic_inverse=shifted.apply_network)}
        row = {"beta": beta}
        reference = []
        for name, M in ways.items():
            iterations, cpu, answers = [], 0.0, []
            for xi in x:
                b = A.adjoint(A.apply(xi)) + beta * xi
                start = time.process_time()
                z, report = ConjugateGradient(A, beta, tol=TOL, maxiter=2000, preconditioner=M).solve_report(b)
                cpu += time.process_time() - start
                iterations.append(report.iterations)
                answers.append(z)
            if name == "cg_periodic_closed_form":
                reference = answers
            row[name] = {"iterations": iterations, "cpu_s_per_image": cpu / len(x), "answers": answers}
        for name in ways:
            answers = row[name].pop("answers")
            row[name]["rel_diff_to_closed_form_pcg"] = max(
                float(np.linalg.norm(z - r) / np.linalg.norm(r)) for z, r in zip(answers, reference))
        rows.append(row)
        print(f"valid, beta {beta:.3g}: " + "; ".join(
            f"{n} {max(row[n]['iterations'])} it {row[n]['cpu_s_per_image']:.3f} CPU-s" for n in ways), flush=True)
    return rows


def edge_gain_row(kernel, x, beta, steps: int = 150) -> dict:
    """Part (c): learned edge gains around the closed-form preconditioner of the valid model, at one beta."""
    import torch

    A = valid_convolution(kernel, (248, 248))
    closed = periodic_preconditioner(A, beta)
    log_gain = torch.zeros((4, EDGE), dtype=torch.float64, requires_grad=True)

    def gains():
        g, ones = torch.exp(log_gain), torch.ones(248 - EDGE, dtype=torch.float64)
        rows = torch.cat([g[0], ones]) * torch.cat([g[1], ones]).flip(0)
        cols = torch.cat([g[2], ones]) * torch.cat([g[3], ones]).flip(0)
        return rows[:, None] * cols[None, :]

    optimizer = torch.optim.Adam([log_gain], lr=0.05)
    gen = torch.Generator().manual_seed(0)
    start = time.process_time()
    for _ in range(steps):
        e = torch.randn((4, 248, 248), generator=gen, dtype=torch.float64)
        d = gains()
        loss = torch.mean((e - d * closed(d * (beta * e + A.apply(A.adjoint(e))))) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    train = time.process_time() - start
    d = gains().detach().numpy()
    ways = {"cg_periodic_closed_form": closed, "cg_closed_form_with_edge_gains": lambda r: d * closed(d * r)}
    row = {"beta": beta, "edge": EDGE, "steps": steps, "train_cpu_s": train,
           "gains_first_rows": [round(float(v), 3) for v in d[:EDGE, 124]]}
    for name, M in ways.items():
        row[name] = [ConjugateGradient(A, beta, tol=TOL, maxiter=2000, preconditioner=M).solve_report(
            A.adjoint(A.apply(xi)) + beta * xi)[1].iterations for xi in x]
    print(f"valid, beta {beta:.3g}, edge gains ({train:.0f} CPU-s to train): CG iterations "
          f"{row['cg_closed_form_with_edge_gains']} against {row['cg_periodic_closed_form']} (closed form)", flush=True)
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--inverse", type=Path, default=None,
                   help="a learned inverse model file (direct, linear, circular) trained at the schedule's smallest "
                        "beta (default: deblur_bsd68.py's cached one)")
    p.add_argument("--per-beta", type=Path, default=CACHE,
                   help="folder of per-beta networks to compare (default %(default)s)")
    p.add_argument("--refine", type=int, nargs="+", default=[0, 2, 6, 10],
                   help="conjugate-gradient iterations after the network, each a row (default %(default)s)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "one_inverse")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    kernel = np.loadtxt(DATA / "kernels" / "motion9_30deg.txt")
    A = Convolution(kernel, (256, 256))
    x = central_crops(list_images(DATA / "bsd68")[:4])
    betas = [s[0] for s in zoo.info("natural-gray")["tasks"]["deblur"]["stages"]]
    path = args.inverse or sorted(CACHE.glob(f"learned_inverse_motion9*_beta{min(betas):g}.safetensors"))[0]
    base = LearnedInverse.load(str(path), A, None, allow_resize=True)
    report = {"inverse": str(path), "beta_0": base.beta, "training": {
        k: base.training.get(k) for k in ("steps", "batch_size", "seconds", "final_check")}, "betas": betas}
    print(f"one learned inverse: {path.name}, beta_0 {base.beta:g}, trained {base.training.get('steps')} steps in "
          f"{base.training.get('seconds', float('nan')):.0f} s", flush=True)
    report["z_error_mean_max"] = {f"refine {r}": z_errors(every_beta(base, r), A, betas, x) for r in args.refine}
    report["z_error_mean_max"]["per-beta networks"] = per_beta_errors(args.per_beta, A, betas, x)
    for name, errors in report["z_error_mean_max"].items():
        print(f"z error (max over images), {name}: " + ", ".join(
            f"{b}: {100 * e[1]:.2f} %" for b, e in errors.items()), flush=True)
    report["valid"] = valid_rows(kernel, x, base, betas)
    report["valid_edge_gains"] = edge_gain_row(kernel, x, min(betas))
    (args.out / "one_inverse.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out / 'one_inverse.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
