"""Building blocks shared by IntroVAE's encoder and decoder."""
from typing import Dict, Sequence, Type

import torch
import torch.nn as nn


class _ResBlockLayers(nn.Module):
    """The layers and first half both residual blocks share; only ``join``
    (how the branch meets the shortcut) differs.

    Two bias-free 3x3 convs (``conv1``, ``conv2``) with a BatchNorm after
    each (``bn1``, ``bn2``), LeakyReLU(0.2) and a shortcut that is a
    bias-free 1x1 conv when the channel count changes, an identity (no
    parameters) otherwise. Both blocks therefore have the same parameter
    names and shapes.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.shortcut = (
            nn.Conv2d(in_channels, out_channels, 1, bias=False)
            if in_channels != out_channels else nn.Identity())
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Applies the block.

        Args:
            x (Tensor): Input feature map (N, C_in, H, W).

        Returns:
            Tensor: Output feature map (N, C_out, H, W).
        """
        return self.join(self.conv2(self.act(self.bn1(self.conv1(x)))), x)

    def join(self, branch: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Combines the residual branch (after conv2) with the shortcut."""
        raise NotImplementedError


class IntroVAEResBlock(_ResBlockLayers):
    """The residual block of the authors' ``networks.py``.

    conv3x3 -> BN -> LeakyReLU(0.2) -> conv3x3 -> (+ shortcut) -> BN ->
    LeakyReLU(0.2). The shortcut is a bias-free 1x1 conv when the channel
    count changes. (The authors test ``inc is not outc``, an identity check
    that gives some 512->512 blocks a needless 1x1 conv; this compares
    values.)

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
    """

    def join(self, branch: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """BN and LeakyReLU of the sum of branch and shortcut."""
        return self.act(self.bn2(branch + self.shortcut(x)))


class SoftIntroVAEResBlock(_ResBlockLayers):
    """The residual block of Soft-IntroVAE (Daniel & Tamar, CVPR 2021).

    conv3x3 -> BN -> LeakyReLU(0.2) -> conv3x3 -> BN -> (+ shortcut) ->
    LeakyReLU(0.2), as ``ResidualBlock`` in the authors'
    ``soft_intro_vae/train_soft_intro_vae.py``: the second BatchNorm
    normalises the residual branch only, before the add, where
    :class:`IntroVAEResBlock` normalises the sum. The shortcut is a
    bias-free 1x1 conv (no BatchNorm) when the channel count changes and
    the identity otherwise (the authors compare ``inc != outc``).

    The parameters and their names are those of :class:`IntroVAEResBlock`,
    so a state dict of one loads into the other without an error; the
    networks they make still differ.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
    """

    def join(self, branch: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """LeakyReLU of the BN-normalised branch plus the shortcut."""
        return self.act(self.bn2(branch) + self.shortcut(x))


#: The residual blocks the encoder and decoder accept as ``block``.
RES_BLOCKS: Dict[str, Type[nn.Module]] = {
    'introvae': IntroVAEResBlock,
    'soft_introvae': SoftIntroVAEResBlock,
}


def get_res_block(block: str, config_key: str) -> Type[nn.Module]:
    """Looks up the residual block class named by a ``block`` argument.

    Args:
        block (str): ``'introvae'`` or ``'soft_introvae'``.
        config_key (str): Where the value comes from in a config, e.g.
            ``'model.encoder.block'``, for the message.

    Returns:
        type: The block class, built as ``cls(in_channels, out_channels)``.

    Raises:
        ValueError: If ``block`` is not one of :data:`RES_BLOCKS`.
    """
    if not isinstance(block, str) or block not in RES_BLOCKS:
        raise ValueError(
            f'{config_key}={block!r} is not a residual block; use one of '
            f'{sorted(RES_BLOCKS)} (introvae: BatchNorm after the residual '
            'add, as IntroVAE; soft_introvae: BatchNorm before the add, as '
            'Soft-IntroVAE).')
    return RES_BLOCKS[block]


def check_channels(image_size: int, channels: Sequence[int],
                   owner: str) -> None:
    """Checks that ``4 * 2**len(channels) == image_size``.

    Each channel entry is one resolution level, halving (encoder) or
    doubling (decoder) the feature map between ``image_size`` and 4x4.

    Args:
        image_size (int): Image side length.
        channels (Sequence[int]): Channel count of each level.
        owner (str): The class being built, for the message.

    Raises:
        ValueError: If the channel list does not fit the image size.
    """
    if not channels or any(int(c) <= 0 for c in channels):
        raise ValueError(f'{owner}: channels={list(channels)} must be a '
                         'non-empty list of positive integers.')
    expected = 4 * 2**len(channels)
    if expected != image_size:
        levels = image_size // 4
        hint = (f'{levels.bit_length() - 1} entries'
                if image_size >= 8 and levels & (levels - 1) == 0 else
                'an image_size of the form 4 * 2**k (32, 64, ..., 1024)')
        raise ValueError(
            f'{owner}: channels={list(channels)} ({len(channels)} levels) '
            f'builds {expected}x{expected} images, but image_size='
            f'{image_size}. Use {hint} for image_size={image_size}, or set '
            f'image_size={expected}.')
