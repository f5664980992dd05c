"""Inference of the introspective VAEs: encode, decode, reconstruct,
sample, interpolate, and the ``forward``/``val_step``/``test_step`` that
mmagic's metrics and hooks call."""
from typing import Callable, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmagic.models.utils import get_valid_num_batches, noise_sample_fn
from mmagic.structures import DataSample
from mmagic.utils.typing import ForwardInputs, SampleList
from torch import Tensor

from ..utils import global_batch_randn, reparameterize


class VAEInference:
    """Sampling and evaluation methods of :class:`BaseIntrospectiveVAE`.

    One of the base class's parents (kept in its own file to keep both
    short); it reads the base's ``encoder``, ``decoder``, ``decoder_ema``,
    ``latent_dim`` and ``data_preprocessor``.

    Tensors passed to and returned by ``encode``/``decode``/``reconstruct``/
    ``sample``/``interpolate`` are in the model's space (what the data
    preprocessor makes of images); ``forward`` returns [0, 255] BGR images
    in ``DataSample``s, as mmagic's ``BaseGAN`` does.
    """

    encoder: nn.Module
    decoder: nn.Module
    decoder_ema: Optional[nn.Module]
    latent_dim: int

    def _decoder_for(self, use_ema: bool) -> nn.Module:
        """The EMA decoder if asked for (and present), else the decoder."""
        if not use_ema:
            return self.decoder
        if self.decoder_ema is None:
            raise ValueError(f'{type(self).__name__} has no EMA decoder: set '
                             "model.ema_config to train one, or sample with "
                             "sample_model='orig'.")
        return self.decoder_ema

    @torch.no_grad()
    def encode(self, images: Tensor) -> Tuple[Tensor, Tensor]:
        """Posterior parameters of preprocessed images.

        Args:
            images (Tensor): Images (N, C, H, W) in the model's range.

        Returns:
            tuple[Tensor, Tensor]: ``mu`` and ``logvar``.
        """
        return self.encoder(images)

    @torch.no_grad()
    def decode(self, z: Tensor, use_ema: bool = False) -> Tensor:
        """Images from latent codes.

        Args:
            z (Tensor): Latent codes (N, latent_dim).
            use_ema (bool): Decode with the EMA decoder.

        Returns:
            Tensor: Images in the model's range.
        """
        return self._decoder_for(use_ema)(z)

    @torch.no_grad()
    def reconstruct(self,
                    images: Tensor,
                    use_ema: bool = False,
                    stochastic: bool = False) -> Tensor:
        """Encodes and decodes images.

        Args:
            images (Tensor): Images in the model's range.
            use_ema (bool): Decode with the EMA decoder.
            stochastic (bool): Decode a posterior sample instead of its mean.

        Returns:
            Tensor: Reconstructions in the model's range.
        """
        mu, logvar = self.encoder(images)
        z = reparameterize(mu, logvar) if stochastic else mu
        return self.decode(z, use_ema)

    @torch.no_grad()
    def sample(self,
               num_samples: int,
               use_ema: bool = False,
               noise: Optional[Tensor] = None) -> Tensor:
        """Images decoded from prior samples z ~ N(0, I).

        Args:
            num_samples (int): How many images.
            use_ema (bool): Decode with the EMA decoder.
            noise (Tensor, optional): Latent codes to use instead of random.

        Returns:
            Tensor: Images in the model's range.
        """
        return self.decode(self.noise_fn(noise, num_samples), use_ema)

    @torch.no_grad()
    def interpolate(self,
                    image_a: Tensor,
                    image_b: Tensor,
                    num_steps: int = 8,
                    use_ema: bool = False) -> Tensor:
        """Decodes the straight line between two images' posterior means.

        Args:
            image_a (Tensor): First image (C, H, W) or (1, C, H, W).
            image_b (Tensor): Second image, same shape.
            num_steps (int): Points on the line, both ends included.
            use_ema (bool): Decode with the EMA decoder.

        Returns:
            Tensor: ``num_steps`` images (num_steps, C, H, W).
        """
        if num_steps < 2:
            raise ValueError(
                f'interpolate: num_steps={num_steps} must be >= 2')
        pair = torch.cat([
            image_a.reshape(1, *image_a.shape[-3:]),
            image_b.reshape(1, *image_b.shape[-3:])
        ])
        mu, _ = self.encoder(pair)
        t = torch.linspace(0, 1, num_steps, device=mu.device)[:, None]
        return self.decode((1 - t) * mu[0] + t * mu[1], use_ema)

    @property
    def _device(self) -> torch.device:
        return next(self.parameters()).device

    # ------------------------------------------------------------------
    # mmagic's inference interface (metrics, VisualizationHook).
    # ------------------------------------------------------------------
    def _sample_models(self, inputs: ForwardInputs) -> List[str]:
        """The decoders to sample with, as BaseGAN's ``sample_model``."""
        choice = inputs.get('sample_model') if isinstance(inputs,
                                                          dict) else None
        if choice is None:
            choice = 'ema' if self.decoder_ema is not None else 'orig'
        if choice not in ('orig', 'ema', 'ema/orig'):
            raise ValueError(f"sample_model={choice!r}: use 'orig', 'ema' "
                             "or 'ema/orig'.")
        return choice.split('/') if choice == 'ema/orig' else [choice]

    def noise_fn(self,
                 noise: Union[Tensor, Callable, None] = None,
                 num_batches: int = 1,
                 generator: Optional[torch.Generator] = None) -> Tensor:
        """Prior noise z ~ N(0, I), as mmagic's ``BaseGAN.noise_fn``.

        The model's one sampler of prior codes: the training steps, mmagic's
        ``VisualizationHook`` (its 'GAN' sampler) and metrics, the
        visualization hook and the demo page all draw through it.

        Args:
            noise (Tensor | Callable, optional): The noise itself (its shape
                is checked), a function called with the shape
                ``(num_batches, latent_dim)``, or None (standard normal
                codes, distinct on each rank: ``global_batch_randn``).
            num_batches (int): How many codes to draw.
            generator (torch.Generator, optional): Draw reproducible codes
                from this generator (on its device, then moved to the
                model's): the same codes on every rank and at any world
                size, e.g. a fixed grid. Without it the codes come from the
                global generators, distinct per rank.

        Returns:
            Tensor: Codes (num_batches, latent_dim) on the model's device.
        """
        if noise is None and generator is not None:
            return torch.randn((num_batches, self.latent_dim),
                               generator=generator,
                               device=generator.device).to(self._device)
        if noise is None:
            # Distinct codes on every rank of a distributed evaluation (its
            # generators are seeded alike): see global_batch_randn.
            return global_batch_randn((num_batches, self.latent_dim),
                                      self._device)
        return noise_sample_fn(
            noise,
            num_batches=num_batches,
            noise_size=self.latent_dim,
            device=self._device)

    def _noise(self, inputs: ForwardInputs,
               data_samples: Optional[DataSample]) -> Tensor:
        """The noise of ``forward``'s inputs, as BaseGAN reads it: a Tensor
        is the noise; a dict's ``noise`` goes through :meth:`noise_fn`, as
        many as mmagic's ``get_valid_num_batches`` finds."""
        if isinstance(inputs, Tensor):
            return self.noise_fn(inputs)
        num_batches = get_valid_num_batches(inputs, data_samples)
        return self.noise_fn(inputs.get('noise'), num_batches)

    @torch.no_grad()
    def forward(self,
                inputs: ForwardInputs,
                data_samples: Optional[DataSample] = None,
                mode: Optional[str] = None) -> SampleList:
        """Samples images (and reconstructs real ones when given).

        Args:
            inputs (dict | Tensor): ``noise`` (Tensor or callable),
                ``num_batches`` and ``sample_model`` ('orig', 'ema',
                'ema/orig'), as mmagic's ``BaseGAN`` takes them; a Tensor is
                the noise itself.
            data_samples (DataSample, optional): A preprocessed batch; when it
                holds ``gt_img``, the output also has the reconstruction as
                ``output.pred_img`` (and ``gt_img`` back in [0, 255], BGR).
            mode (str, optional): Unused, kept for mmengine's interface.

        Returns:
            list[DataSample]: Per-image results with ``fake_img`` in
            [0, 255], BGR, as mmagic's metrics and hooks expect.
        """
        noise = self._noise(inputs, data_samples)
        real = None
        if data_samples is not None and 'gt_img' in data_samples:
            real = data_samples.gt_img
        out = DataSample()
        if data_samples is not None:
            out.update(data_samples)
        models = self._sample_models(inputs)
        for name in models:
            use_ema = name == 'ema'
            result = DataSample(
                fake_img=self._to_image(
                    self.sample(len(noise), use_ema, noise), data_samples))
            if real is not None:
                # mmagic's pixel metrics read ``output.pred_img``.
                result.output = DataSample(
                    pred_img=self._to_image(
                        self.reconstruct(real, use_ema), data_samples))
            if len(models) == 1:
                out.update(result)
            else:
                out.set_field(result, name)
                if 'output' in result and 'output' not in out:
                    out.output = result.output
        if real is not None:
            out.gt_img = self._to_image(real, data_samples)
        out.noise = noise
        out.sample_model = '/'.join(models)
        return out.split(allow_nonseq_value=True)

    def _to_image(self, images: Tensor,
                  data_samples: Optional[DataSample]) -> Tensor:
        """Model-space images to [0, 255] BGR, as the preprocessor's inverse.
        """
        key = 'gt_img' if data_samples is not None else 'img'
        return self.data_preprocessor.destruct(images, data_samples, key)

    def val_step(self, data: dict) -> SampleList:
        """Samples (and reconstructs) for mmagic's evaluators.

        Real images are preprocessed as in training, so that their
        reconstructions are computed in the model's range.

        Args:
            data (dict): A batch from a val dataloader or a metric's sampler.

        Returns:
            list[DataSample]: See :meth:`forward`.
        """
        data = self.data_preprocessor(data, True)
        return self(**data)

    def test_step(self, data: dict) -> SampleList:
        """Same as :meth:`val_step`.

        Args:
            data (dict): A batch from a test dataloader or a metric's sampler.

        Returns:
            list[DataSample]: See :meth:`forward`.
        """
        return self.val_step(data)
