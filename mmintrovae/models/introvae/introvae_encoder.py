"""IntroVAE's encoder (inference model), which is also its discriminator."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmagic.registry import MODELS

from .introvae_modules import check_channels, get_res_block


@MODELS.register_module()
class IntroVAEEncoder(nn.Module):
    """Maps an image to the mean and log-variance of q(z|x).

    conv5x5 -> BN -> LeakyReLU -> AvgPool2, then for each later channel
    count a residual block and AvgPool2, a residual block at 4x4 and a
    linear layer to ``2 * latent_dim`` (the authors' ``networks.py``).

    Args:
        image_size (int): Input side length, ``4 * 2**len(channels)``.
        channels (Sequence[int]): Channels per level, from the image
            resolution down to 8x8, e.g. (32, 64, 128, 256, 512, 512) at 256.
        latent_dim (int): Size of z.
        in_channels (int): Image channels. Defaults to 3.
        block (str): The residual block: ``'introvae'``
            (:class:`IntroVAEResBlock`, BatchNorm after the residual add, as
            IntroVAE's code) or ``'soft_introvae'``
            (:class:`SoftIntroVAEResBlock`, BatchNorm before the add, as
            Soft-IntroVAE's code). Both have the same parameter names, so
            the state dict keys do not depend on it. Defaults to
            ``'introvae'``.

    Raises:
        ValueError: If ``block`` is not one of the values above (the
            message names ``model.encoder.block``), or if ``channels`` does
            not fit ``image_size``.
    """

    def __init__(self,
                 image_size: int,
                 channels: Sequence[int],
                 latent_dim: int,
                 in_channels: int = 3,
                 block: str = 'introvae'):
        super().__init__()
        res_block = get_res_block(block, 'model.encoder.block')
        check_channels(image_size, channels, type(self).__name__)
        self.image_size = image_size
        self.latent_dim = latent_dim
        self.in_channels = in_channels
        self.block = block
        layers = [
            nn.Conv2d(in_channels, channels[0], 5, padding=2, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.LeakyReLU(0.2),
            nn.AvgPool2d(2),
        ]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [res_block(c_in, c_out), nn.AvgPool2d(2)]
        layers.append(res_block(channels[-1], channels[-1]))
        self.main = nn.Sequential(*layers)
        self.fc = nn.Linear(channels[-1] * 4 * 4, 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encodes images.

        Args:
            x (Tensor): Images (N, in_channels, image_size, image_size).

        Returns:
            tuple[Tensor, Tensor]: ``mu`` and ``logvar``, each (N, D).
        """
        if x.shape[1:] != (self.in_channels, self.image_size, self.image_size):
            raise ValueError(
                f'IntroVAEEncoder expects images of shape (N, '
                f'{self.in_channels}, {self.image_size}, {self.image_size}) '
                f'but got {tuple(x.shape)}; resize the data in the pipeline '
                '(Resize scale) or set model.image_size (or '
                'model.encoder.in_channels).')
        features = self.main(x).flatten(1)
        mu, logvar = self.fc(features).chunk(2, dim=1)
        return mu, logvar
