"""``ppsolve.interop.deepinv_physics``: deepinv's Blur / BlurFFT / Downsampling / Inpainting as native ppsolve
operators and ppsolve operators as deepinv physics, with the boundary conventions mapped (float64 throughout)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ppsolve.operators import (
    ColorToGray,
    Convolution,
    Crop,
    Diagonal,
    Mask,
    dot_test,
    gaussian_kernel,
    strided_convolution,
    valid_convolution,
)

bridge = pytest.importorskip("ppsolve.interop.deepinv_physics", reason="deepinv is not installed "
                             "(pip install --no-deps -r requirements-deepinv.txt)", exc_type=ImportError)
P = bridge.deepinv.physics
from_deepinv, to_deepinv, PhysicsOperator = bridge.from_deepinv, bridge.to_deepinv, bridge.PhysicsOperator


def _filter(shape, seed=0):
    return torch.tensor(np.random.default_rng(seed).random(shape))


def _mask(shape, seed=0, binary=True):
    values = np.random.default_rng(seed).random(shape)
    return torch.tensor((values > 0.4).astype(float) if binary else values)


CASES = {
    "BlurFFT 5x5": lambda: (P.BlurFFT(img_size=(1, 16, 16), filter=_filter((1, 1, 5, 5))), None),
    "BlurFFT 4x4 even": lambda: (P.BlurFFT(img_size=(1, 16, 12), filter=_filter((1, 1, 4, 4))), None),
    "BlurFFT colour, per channel": lambda: (P.BlurFFT(img_size=(3, 8, 8), filter=_filter((1, 3, 3, 3))), None),
    "Blur circular": lambda: (P.Blur(filter=_filter((1, 1, 5, 3)), padding="circular"), (1, 16, 16)),
    "Blur constant": lambda: (P.Blur(filter=_filter((1, 1, 5, 5)), padding="constant"), (1, 16, 16)),
    "Blur zeros even": lambda: (P.Blur(filter=_filter((1, 1, 4, 2)), padding="zeros"), (1, 12, 16)),
    "Blur valid": lambda: (P.Blur(filter=_filter((1, 1, 5, 5)), padding="valid"), (1, 16, 16)),
    "Blur valid even": lambda: (P.Blur(filter=_filter((1, 1, 4, 6)), padding="valid"), (1, 16, 16)),
    "Blur colour shared": lambda: (P.Blur(filter=_filter((1, 1, 3, 3)), padding="circular"), (3, 8, 8)),
    "Downsampling circular": lambda: (P.Downsampling(img_size=(1, 16, 16), filter=_filter((1, 1, 9, 9)), factor=4,
                                                     padding="circular"), None),
    "Downsampling constant": lambda: (P.Downsampling(img_size=(1, 16, 16), filter=_filter((1, 1, 4, 4)), factor=2,
                                                     padding="constant"), None),
    "Downsampling valid": lambda: (P.Downsampling(img_size=(1, 20, 20), filter=_filter((1, 1, 5, 5)), factor=4,
                                                  padding="valid"), None),
    "Downsampling no filter": lambda: (P.Downsampling(img_size=(1, 12, 12), filter=None, factor=3), None),
    "Inpainting": lambda: (P.Inpainting(img_size=(1, 12, 12), mask=_mask((12, 12))), None),
    "Inpainting colour, one mask": lambda: (P.Inpainting(img_size=(3, 8, 8), mask=_mask((1, 8, 8))), None),
    "Inpainting weights": lambda: (P.Inpainting(img_size=(1, 8, 8), mask=_mask((1, 8, 8), binary=False)), None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_from_deepinv_is_the_same_operator(name):
    physics, img_size = CASES[name]()
    A = from_deepinv(physics, img_size)
    size = img_size or tuple(getattr(physics, "imsize", None) or physics.img_size)
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.standard_normal((2,) + tuple(size)))
    y = physics.A(x)
    assert A.in_shape == bridge.ppsolve_shape(size) and A.out_shape == bridge.ppsolve_shape(y.shape[1:])
    ours = A.apply(x.reshape((2,) + A.in_shape)).reshape(y.shape)
    assert float(torch.linalg.vector_norm(ours - y) / torch.linalg.vector_norm(y)) <= 1e-12
    r = torch.tensor(rng.standard_normal(tuple(y.shape)))
    theirs = physics.A_adjoint(r)
    ours = A.adjoint(r.reshape((2,) + A.out_shape)).reshape(theirs.shape)
    assert float(torch.linalg.vector_norm(ours - theirs) / torch.linalg.vector_norm(theirs)) <= 1e-12
    assert dot_test(A) <= 1e-10  # exact adjoints, float64
    assert dot_test(A, backend="torch", batch=(2,)) <= 1e-10
    assert dot_test(PhysicsOperator(physics, size)) <= 1e-10  # deepinv's own adjoint, wrapped


def test_native_operators_keep_their_structure():
    h = torch.tensor(gaussian_kernel(9, 2.0))[None, None]
    sr = from_deepinv(P.Downsampling(img_size=(1, 32, 32), filter=h, factor=4, padding="circular"))
    assert sr.fourier_structure() is not None  # FourierInverse applies
    assert sr.fingerprint() == strided_convolution(gaussian_kernel(9, 2.0), (32, 32), 4).fingerprint()
    # deepinv's "valid" with an odd kernel is ppsolve's valid-convolution model of the (H - k + 1) frame
    valid = from_deepinv(P.Blur(filter=h, padding="valid"), (1, 40, 40))
    model = valid_convolution(gaussian_kernel(9, 2.0), (32, 32))
    assert valid.in_shape == model.in_shape and valid.fingerprint() == model.fingerprint()
    restriction, periodic = valid.periodic_factor()  # the periodic preconditioner of make_inverse("auto") applies
    assert isinstance(restriction, Crop) and isinstance(periodic, Convolution) and periodic.boundary == "periodic"
    assert isinstance(from_deepinv(CASES["Inpainting"]()[0]), Mask)
    assert isinstance(from_deepinv(CASES["Inpainting weights"]()[0]), Diagonal)
    per_channel = from_deepinv(CASES["BlurFFT colour, per channel"]()[0])
    assert per_channel.kernel.shape == (3, 3, 3) and per_channel.in_shape == (3, 8, 8)


def test_reflect_conventions_differ_and_are_refused():
    """torch's (deepinv's) 'reflect' mirrors without the edge pixel, ppsolve's (scipy's) with it."""
    edge = torch.arange(4.0, dtype=torch.float64)[None, None]  # a b c d = 0 1 2 3
    whole = torch.nn.functional.pad(edge, (2, 0), mode="reflect")[0, 0]
    assert whole.tolist() == [2.0, 1.0, 0.0, 1.0, 2.0, 3.0]  # c b | a b c d
    h = _filter((1, 1, 5, 5))
    torch_reflect = PhysicsOperator(P.Blur(filter=h, padding="reflect"), (1, 12, 12))
    ours = Convolution(h[0, 0].numpy(), (12, 12), boundary="reflect")
    x = np.random.default_rng(2).standard_normal((12, 12))
    difference = np.linalg.norm(torch_reflect.apply(x) - ours.apply(x)) / np.linalg.norm(ours.apply(x))
    assert difference > 1e-3  # different operators ...
    inner = (slice(2, -2), slice(2, -2))  # ... equal away from the border
    np.testing.assert_allclose(torch_reflect.apply(x)[inner], ours.apply(x)[inner], atol=1e-12)
    for padding in ("reflect", "replicate"):
        supported = r"no ppsolve equivalent.*supported: 'circular', 'constant', 'zeros', 'valid'"
        with pytest.raises(ValueError, match=supported):
            from_deepinv(P.Blur(filter=h, padding=padding), (1, 12, 12))
        with pytest.raises(ValueError, match="no ppsolve equivalent"):
            from_deepinv(P.Downsampling(img_size=(1, 12, 12), filter=h, factor=2, padding=padding))


def test_from_deepinv_refuses_what_it_cannot_map():
    h = _filter((1, 1, 3, 3))
    with pytest.raises(ValueError, match="pass img_size"):
        from_deepinv(P.Blur(filter=h, padding="circular"))
    with pytest.raises(ValueError, match="differs"):
        from_deepinv(P.BlurFFT(img_size=(1, 8, 8), filter=h), (1, 8, 9))
    with pytest.raises(ValueError, match="one filter"):
        from_deepinv(P.Blur(filter=_filter((2, 1, 3, 3)), padding="circular"), (1, 8, 8))
    with pytest.raises(ValueError, match="one mask"):
        from_deepinv(P.Inpainting(img_size=(1, 8, 8), mask=_mask((2, 1, 8, 8))))
    with pytest.raises(ValueError, match="divide"):
        from_deepinv(P.Downsampling(img_size=(1, 10, 10), filter=h, factor=4, padding="circular"))
    with pytest.raises(TypeError, match="supported: BlurFFT, Blur, Downsampling, Inpainting"):
        from_deepinv(P.Denoising())


@pytest.mark.parametrize("build", [
    lambda: strided_convolution(gaussian_kernel(5, 1.0), (12, 12), 3),
    lambda: Convolution(gaussian_kernel(3, 1.0), (10, 10), boundary="reflect"),  # ppsolve's own reflect: any A works
    lambda: ColorToGray((3, 8, 8)),
    lambda: valid_convolution(gaussian_kernel(5, 1.0), (8, 8)),
])
def test_to_deepinv(build):
    A = build()
    physics = to_deepinv(A)
    assert isinstance(physics, P.LinearPhysics) and from_deepinv(physics) is A
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.standard_normal((2,) + bridge.deepinv_shape(A.in_shape)), requires_grad=True)
    y = physics.A(x)
    assert tuple(y.shape) == (2,) + bridge.deepinv_shape(A.out_shape)
    np.testing.assert_allclose(y.detach().numpy().reshape((2,) + A.out_shape),
                               A.apply(x.detach().numpy().reshape((2,) + A.in_shape)), atol=1e-14)
    r = torch.tensor(rng.standard_normal(tuple(y.shape)))
    (grad,) = torch.autograd.grad((y * r).sum(), x)  # autograd through A: its vector-Jacobian product is A^T
    torch.testing.assert_close(grad, physics.A_adjoint(r), atol=1e-12, rtol=0)
    assert dot_test(PhysicsOperator(physics, bridge.deepinv_shape(A.in_shape))) <= 1e-10
    with pytest.raises(ValueError, match=r"expected a tensor of shape \(B, "):
        physics.A(torch.zeros(A.in_shape, dtype=torch.float64))  # no batch axis
