"""IntroVAE's decoder (generator)."""
from typing import Sequence

import torch
import torch.nn as nn
from mmagic.registry import MODELS

from .introvae_modules import check_channels, get_res_block


@MODELS.register_module()
class IntroVAEDecoder(nn.Module):
    """Maps a latent code to an image.

    Linear -> ReLU to a 4x4 map, then for each channel count (in reverse) a
    residual block and an x2 upsampling (``upsample``, nearest as the
    authors by default), a last residual block and a
    conv5x5 to the image. No output activation, as in the authors' code.

    Args:
        image_size (int): Output side length, ``4 * 2**len(channels)``.
        channels (Sequence[int]): The encoder's channel list (the decoder
            walks it in reverse).
        latent_dim (int): Size of z.
        out_channels (int): Image channels. Defaults to 3.
        block (str): The residual block, ``'introvae'`` or
            ``'soft_introvae'``, as for :class:`IntroVAEEncoder`. Defaults
            to ``'introvae'``.
        upsample (str): How each level doubles the feature map:
            ``'nearest'`` (the authors' code) or ``'bilinear'`` (no
            parameters either, so checkpoints load into both; smooths the
            period-2 pattern nearest + conv can leave). Defaults to
            ``'nearest'``.

    Raises:
        ValueError: If ``block`` is not one of the values above (the
            message names ``model.decoder.block``), or if ``channels`` does
            not fit ``image_size``, or if ``upsample`` is neither
            ``'nearest'`` nor ``'bilinear'`` (``model.decoder.upsample``).
    """

    def __init__(self,
                 image_size: int,
                 channels: Sequence[int],
                 latent_dim: int,
                 out_channels: int = 3,
                 block: str = 'introvae',
                 upsample: str = 'nearest'):
        super().__init__()
        res_block = get_res_block(block, 'model.decoder.block')
        if upsample not in ('nearest', 'bilinear'):
            raise ValueError(
                f'model.decoder.upsample={upsample!r} is not supported; use '
                "'nearest' (the authors' code) or 'bilinear'.")
        check_channels(image_size, channels, type(self).__name__)
        self.image_size = image_size
        self.latent_dim = latent_dim
        self.block = block
        self.upsample = upsample
        # mmagic's samplers read ``noise_size`` to draw z from the prior.
        self.noise_size = latent_dim
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, channels[-1] * 4 * 4), nn.ReLU())
        reversed_channels = list(channels[::-1])
        layers = []
        c_in = reversed_channels[0]
        for c_out in reversed_channels:
            layers += [
                res_block(c_in, c_out),
                nn.Upsample(scale_factor=2, mode=upsample)
            ]
            c_in = c_out
        layers += [
            res_block(c_in, c_in),
            nn.Conv2d(c_in, out_channels, 5, padding=2)
        ]
        self.main = nn.Sequential(*layers)
        self._first_channels = reversed_channels[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decodes latent codes.

        Args:
            z (Tensor): Latent codes (N, latent_dim).

        Returns:
            Tensor: Images (N, out_channels, image_size, image_size).
        """
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f'IntroVAEDecoder expects latent codes of shape (N, '
                f'{self.latent_dim}) but got {tuple(z.shape)}.')
        x = self.fc(z).view(z.shape[0], self._first_channels, 4, 4)
        return self.main(x)
