"""Grids of real, reconstructed and sampled images while training."""
from typing import Optional

import torch
from mmagic.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torchvision.utils import make_grid


@HOOKS.register_module()
class IntroVAEVisualizationHook(Hook):
    """Every ``interval`` iterations, draws one grid through the visualizer.

    The grid has rows of real training images, their reconstructions (the
    posterior mean decoded) and samples from the prior, for fixed images
    and fixed noise, so successive grids show the same faces improving. It
    goes to every backend of ``runner.visualizer`` (local PNG files under
    ``vis_data``, TensorBoard) as ``name`` at the current iteration.

    Args:
        interval (int): Iterations between grids. Defaults to 1000.
        num_images (int): Real images (and reconstructions) per grid.
        num_samples (int): Prior samples per grid.
        name (str): Image name in the backends. Defaults to 'introvae'.
        sample_model (str): 'orig' or 'ema' decoder. Defaults to 'orig'.
        seed (int): Seed of the fixed noise. Defaults to 0.
        after_run (bool): Also draw a grid when training ends.

    mmagic's ``VisualizationHook`` works with IntroVAE too (its ``GAN``
    sampler draws through ``IntroVAE.noise_fn``), but cannot draw this grid
    (checked with mmagic 1.2.0 on a tiny Runner): fixed noise can only be
    passed as a tensor in ``forward_kwargs``, which a ``.py`` config cannot
    create;
    each sampler writes its own picture, so fixed-noise samples cannot share
    the picture of the reconstructions; its ``Data`` batch carries no
    ``sample_model``, so the EMA decoder is always used when there is one;
    and it draws nothing after the last iteration.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 1000,
                 num_images: int = 8,
                 num_samples: int = 16,
                 name: str = 'introvae',
                 sample_model: str = 'orig',
                 seed: int = 0,
                 after_run: bool = True):
        if interval <= 0:
            raise ValueError(f'IntroVAEVisualizationHook: interval='
                             f'{interval} must be positive.')
        if sample_model not in ('orig', 'ema'):
            raise ValueError("IntroVAEVisualizationHook: sample_model must be"
                             f" 'orig' or 'ema', got {sample_model!r}.")
        self.interval = interval
        self.num_images = num_images
        self.num_samples = num_samples
        self.name = name
        self.use_ema = sample_model == 'ema'
        self.seed = seed
        self.draw_after_run = after_run
        self._real: Optional[torch.Tensor] = None
        self._noise: Optional[torch.Tensor] = None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Keeps the first batch's images; draws a grid at the interval."""
        model = self._model(runner)
        if self._real is None and data_batch is not None:
            data = model.data_preprocessor(data_batch, True)
            self._real = data['data_samples'].gt_img[:self.num_images]
            self._noise = model.noise_fn(
                num_batches=self.num_samples,
                generator=torch.Generator().manual_seed(self.seed))
        if self.every_n_train_iters(runner, self.interval):
            self.draw(runner, runner.iter + 1)

    def after_train(self, runner) -> None:
        """Draws a last grid when training ends."""
        if self.draw_after_run and self._real is not None:
            self.draw(runner, runner.iter)

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    @torch.no_grad()
    def draw(self, runner, step: int) -> None:
        """Renders the grid and hands it to the visualizer.

        Args:
            runner (Runner): The runner.
            step (int): The iteration to file the image under.
        """
        model = self._model(runner)
        was_training = model.training
        model.eval()
        real = self._real.to(model._device)
        rec = model.reconstruct(real, use_ema=self.use_ema)
        fake = model.sample(
            len(self._noise), use_ema=self.use_ema, noise=self._noise)
        model.train(was_training)
        nrow = max(len(real), 1)
        rows = [
            model.data_preprocessor.destruct(t, None)
            for t in (real, rec, fake)
        ]
        grid = make_grid(torch.cat(rows).float().cpu(), nrow=nrow, padding=2)
        # The visualizer takes RGB HWC uint8; destruct gave BGR.
        image = grid.flip(0).permute(1, 2, 0).round().clamp(0, 255).byte()
        runner.visualizer.add_image(self.name, image.numpy(), step=step)
