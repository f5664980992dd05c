"""Writes the layout-v1 checkpoints and their reference outputs.

Run once, at commit d54c6cd (the last commit before IntroVAE and
SoftIntroVAE got their shared base class), from the repository root::

    python tests/data/layout_v1/make_checkpoints.py

For each config beside this file it trains 4 iterations on 4 random 16x16
images with tools/train.py, keeps the checkpoint (weights, EMA, optimizer
states, margin, RNG states) as ``<config>.pth`` and stores what the model of
that layout computes from it in ``<config>.ref.pth``: samples of fixed codes
(decoder and EMA decoder), posterior means and reconstructions of fixed
images. tests/test_models/test_checkpoint_layout.py loads both with the
current code and compares.
"""
import os
import os.path as osp
import sys
import tempfile

import cv2
import numpy as np
import torch

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(osp.dirname(HERE)))
sys.path.insert(0, osp.join(REPO, 'tools'))


def reference_inputs():
    """The fixed codes and images the references are computed from."""
    gen = torch.Generator().manual_seed(1234)
    return (torch.randn(5, 6, generator=gen),
            torch.rand(3, 3, 16, 16, generator=gen))


def main():
    import train

    from mmintrovae.apis import load_model
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        os.makedirs(f'{tmp}/train')
        for i in range(4):
            cv2.imwrite(f'{tmp}/train/{i}.png',
                        rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
        for name in ('introvae_tiny', 'soft_introvae_tiny'):
            work = f'{tmp}/{name}'
            sys.argv = [
                'train.py', f'{HERE}/{name}.py', '--work-dir', work,
                '--cfg-options', f'train_dataloader.dataset.data_root={tmp}'
            ]
            train.main()
            ckpt = torch.load(f'{work}/iter_4.pth', weights_only=False)
            torch.save(ckpt, f'{HERE}/{name}.pth')
            _, model = load_model(f'{HERE}/{name}.py', f'{HERE}/{name}.pth')
            z, x = reference_inputs()
            mu, logvar = model.encode(x)
            torch.save(
                dict(
                    sample=model.decode(z),
                    sample_ema=model.decode(z, use_ema=True),
                    mu=mu,
                    logvar=logvar,
                    reconstruction=model.reconstruct(x)),
                f'{HERE}/{name}.ref.pth')


if __name__ == '__main__':
    main()
