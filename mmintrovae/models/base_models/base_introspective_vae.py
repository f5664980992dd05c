"""The base of IntroVAE and Soft-IntroVAE: what both models share.

It owns the networks, the loss modules, the EMA decoder, the training
step's frame (a plain-VAE warm-up, then the subclass's introspective
step), the update rule and the helpers the objectives are written with.
A subclass adds only its objective: ``loss_names``, its weights,
``warmup_weights`` and ``introspective_step``. Inference (sampling,
reconstruction, mmagic's ``forward``/``val_step``/``test_step``) is
:class:`~.vae_inference.VAEInference`'s.
"""
from contextlib import contextmanager
from copy import deepcopy
from typing import (ClassVar, Dict, Iterator, NamedTuple, Optional, Sequence,
                    Tuple, Union)

import torch
import torch.nn as nn
from mmagic.registry import MODELS
from mmengine import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import Tensor

from ..utils import frozen_running_stats, reduce_gradients, reparameterize
from .vae_inference import VAEInference

ModelType = Union[dict, nn.Module]


@contextmanager
def per_pixel(loss: nn.Module) -> Iterator[None]:
    """Inside, the pixel loss ``loss`` reduces nothing (reduction 'none').

    mmagic's pixel losses read their ``reduction`` attribute when called
    and take no override, so it is switched for the call and restored.
    """
    reduction = loss.reduction
    loss.reduction = 'none'
    try:
        yield
    finally:
        loss.reduction = reduction


class WarmupWeights(NamedTuple):
    """The plain-VAE warm-up's loss: ``kl * L_REG(x) + rec * L_AE``."""

    kl: float
    rec: float


class BaseIntrospectiveVAE(VAEInference, BaseModel):
    """A VAE whose encoder also judges generated images.

    Each step encodes the real images x and, for the first
    ``vae_warmup_iters`` iterations, trains both networks as a plain VAE
    (:meth:`vae_step`); afterwards it runs the subclass's
    :meth:`introspective_step`. Then the EMA decoder, if any, is updated.

    All losses see images as the ``data_preprocessor`` makes them (mean=0,
    std=255 gives [0, 1], the authors' code). Every loss is a batch mean of
    per-image terms: the KL summed over latents, the ``rec_loss`` summed over
    the pixels of an image for its reduction ``'sum'`` or averaged over them
    for ``'mean'``.

    Args:
        encoder (dict | nn.Module): The encoder, e.g. ``IntroVAEEncoder``.
        decoder (dict | nn.Module): The decoder, e.g. ``IntroVAEDecoder``.
        data_preprocessor (dict, optional): mmagic's ``DataPreprocessor``.
        loss_config (dict): Loss module configs by name, one for each of
            :attr:`loss_names`; their defaults are in the subclass's
            :attr:`base_config` (the model has none of its own).
        vae_warmup_iters (int): Iterations of plain-VAE training before the
            introspective game starts. Defaults to 0.
        ema_config (dict, optional): mmagic ``ExponentialMovingAverage``
            config for a sampling copy of the decoder (e.g.
            ``dict(momentum=0.001)``, ``start_iter`` as mmagic's GANs).
            Defaults to None (no EMA).
        channels_last (bool): Keep the networks' weights and the real images
            in ``torch.channels_last`` memory format. Defaults to False.
        compile (bool | dict, optional): ``torch.compile`` the encoder and
            the decoder in place (state dict keys do not change); a dict is
            passed on as keyword arguments. The EMA copy is not compiled.
            Defaults to None (eager).
        bn_stats (str): Which encoder passes update its BatchNorm running
            statistics (those eval mode uses): ``'real'`` (default) only the
            passes over real images; ``'all'`` also those over
            reconstructions and samples, as the authors' code (which cost
            3.5 dB of eval-mode PSNR on Fashion-MNIST, README "The study").
        image_size (int, optional): The images' side, given to both networks
            when built from dicts (a network dict that sets it keeps its own).
        channels (tuple[int], optional): Channels per stage, likewise.
        latent_dim (int, optional): The latent size, likewise.
    """

    #: The loss modules ``model.loss_config`` must give.
    loss_names: ClassVar[Tuple[str, ...]] = ()
    #: The ``_base_`` model config holding their defaults, the one place
    #: they are written: a config's dump in its work dir then names every
    #: loss the run used.
    base_config: ClassVar[str] = ''

    def __init__(self,
                 encoder: ModelType,
                 decoder: ModelType,
                 data_preprocessor: Optional[dict] = None,
                 loss_config: Optional[dict] = None,
                 vae_warmup_iters: int = 0,
                 ema_config: Optional[dict] = None,
                 channels_last: bool = False,
                 compile: Union[bool, dict, None] = None,
                 bn_stats: str = 'real',
                 image_size: Optional[int] = None,
                 channels: Optional[Sequence[int]] = None,
                 latent_dim: Optional[int] = None):
        if isinstance(data_preprocessor, dict):
            # mmagic's registry, whatever the current default scope is.
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor)
        self._build_networks(encoder, decoder, image_size, channels,
                             latent_dim)
        if vae_warmup_iters < 0:
            raise ValueError(f'{self._name}: model.vae_warmup_iters='
                             f'{vae_warmup_iters} must be >= 0.')
        self.vae_warmup_iters = vae_warmup_iters
        self._build_losses(dict(loss_config or {}))
        self._build_ema(ema_config)
        if bn_stats not in ('real', 'all'):
            raise ValueError(f'{self._name}: model.bn_stats={bn_stats!r} '
                             "must be 'real' or 'all'.")
        self.bn_stats = bn_stats
        self._set_fast_path(channels_last, compile)

    @property
    def _name(self) -> str:
        """The class name, for error messages."""
        return type(self).__name__

    # ------------------------------------------------------------------
    # Construction.
    # ------------------------------------------------------------------
    def _build_networks(self, encoder: ModelType, decoder: ModelType,
                        image_size: Optional[int],
                        channels: Optional[Sequence[int]],
                        latent_dim: Optional[int]) -> None:
        """Builds both networks with the model's sizes; checks they agree."""
        sizes = dict(
            image_size=image_size, channels=channels, latent_dim=latent_dim)
        sizes = {k: v for k, v in sizes.items() if v is not None}
        self.encoder = self._build_network('encoder', encoder, sizes)
        self.decoder = self._build_network('decoder', decoder, sizes)
        self.latent_dim = self.decoder.latent_dim
        for key in ('latent_dim', 'image_size'):
            enc, dec = (
                getattr(net, key, None)
                for net in (self.encoder, self.decoder))
            if enc != dec:
                raise ValueError(
                    f'{self._name}: encoder {key}={enc} and decoder '
                    f'{key}={dec} differ; set model.{key} once (or the same '
                    f'{key} in model.encoder and model.decoder).')

    def _build_network(self, name: str, network: ModelType,
                       sizes: dict) -> nn.Module:
        """Builds ``model.<name>`` from a dict, with the model's sizes as
        default arguments; a module is taken as it is."""
        if isinstance(network, dict):
            return MODELS.build(network, default_args=sizes)
        if sizes:
            raise ValueError(
                f'{self._name}: model.{sorted(sizes)} only apply to networks '
                f'built from config dicts, but model.{name} is an already '
                f'built {type(network).__name__}; drop them or give '
                f'model.{name} as a dict.')
        return network

    def _build_losses(self, loss_config: dict) -> None:
        """Builds the loss modules, with clear errors for bad keys."""
        unknown = set(loss_config) - set(self.loss_names)
        if unknown:
            raise KeyError(
                f'{self._name}: unknown key(s) {sorted(unknown)} in '
                f'model.loss_config; expected {sorted(self.loss_names)}.')
        missing = [name for name in self.loss_names if name not in loss_config]
        if missing:
            raise KeyError(
                f'{self._name}: model.loss_config has no {missing}; it must '
                f'give {list(self.loss_names)}. Inherit {self.base_config} '
                "(in the config's _base_), which holds their defaults, or "
                'copy them from it.')
        for name in self.loss_names:
            cfg = loss_config[name]
            try:
                setattr(self, name, MODELS.build(cfg))
            except KeyError as err:
                raise KeyError(
                    f'{self._name}: model.loss_config.{name}.type='
                    f'{cfg["type"]!r} is not a registered loss; check the '
                    'spelling or import the module that registers it '
                    f'({err}).') from None
        self._check_rec_loss()

    def _check_rec_loss(self) -> None:
        """Checks that ``rec_loss`` can give per-pixel errors.

        Its configured reduction says how the pixels of one image combine
        ('sum' or 'mean'); :meth:`rec_per_sample`, the one place the module
        is called, calls it with reduction 'none' (per-pixel errors, times
        its ``loss_weight``). A custom loss that ignores ``reduction`` would
        break the per-image errors silently, so it is refused here.
        """
        loss = self.rec_loss
        reduction = getattr(loss, 'reduction', 'mean')
        if reduction not in ('sum', 'mean'):
            raise ValueError(
                f'{self._name}: model.loss_config.rec_loss.reduction='
                f"{reduction!r}; use 'sum' (per-image sum, batch mean) or "
                "'mean' (mean over all pixels).")
        probe = torch.zeros(2, 1, 2, 2)
        try:
            with per_pixel(loss):
                shape = tuple(loss(probe, probe + 1).shape)
        except Exception as err:  # any failure means it is not per pixel
            shape = f'an error ({type(err).__name__}: {err})'
        if shape != tuple(probe.shape):
            raise ValueError(
                f'{self._name}: model.loss_config.rec_loss '
                f'({type(loss).__name__}) must return per-pixel errors, the '
                "input's shape, when its reduction is 'none', but it gave "
                f'{shape} for inputs {tuple(probe.shape)}; use a pixel loss '
                "that honours reduction (mmagic's MSELoss, L1Loss, "
                'CharbonnierLoss).')

    def _build_ema(self, ema_config: Optional[dict]) -> None:
        """The EMA decoder (``decoder_ema``) and its ``ema_start``, as
        mmagic's ``BaseGAN`` builds its ``generator_ema``."""
        self.decoder_ema = None
        if ema_config is None:
            return
        ema_config = deepcopy(ema_config)
        ema_config.setdefault('type', 'ExponentialMovingAverage')
        self.ema_start = ema_config.pop('start_iter', 0)
        self.decoder_ema = MODELS.build(
            ema_config, default_args=dict(model=self.decoder))

    def _set_fast_path(self, channels_last: bool,
                       compile: Union[bool, dict, None]) -> None:
        """Applies the ``channels_last`` and ``compile`` options."""
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.encoder.to(memory_format=torch.channels_last)
            self.decoder.to(memory_format=torch.channels_last)
        if compile in (None, False):
            return
        if compile is True:
            compile = {}
        if not isinstance(compile, dict):
            raise TypeError(
                f'{self._name}: model.compile must be True, None or a dict of '
                f'torch.compile keyword arguments, got {compile!r}.')
        # The encoder's backward keeps the graph (retain_graph=True) for the
        # decoder's update, which AOTAutograd's donated buffers forbid
        # ("compiled with non-empty donated buffers which requires ...
        # retain_graph=False"); donation only saves memory.
        import torch._functorch.config as functorch_config
        functorch_config.donated_buffer = False
        self.encoder.compile(**compile)
        self.decoder.compile(**compile)

    # ------------------------------------------------------------------
    # The training step.
    # ------------------------------------------------------------------
    @property
    def warmup_weights(self) -> WarmupWeights:
        """The weights of the plain-VAE warm-up's loss."""
        raise NotImplementedError

    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One iteration: a warm-up step or an introspective step.

        Args:
            data (dict): A batch from the dataloader; real images are read
                from ``data_samples.gt_img`` after preprocessing.
            optim_wrapper (OptimWrapperDict): Wrappers ``encoder`` and
                ``decoder``.

        Returns:
            dict[str, Tensor]: Detached values to log.
        """
        data = self.data_preprocessor(data, True)
        x = self._real_images(data)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        enc_optim, dec_optim = self._split_optim_wrapper(optim_wrapper)
        if self.current_iter < self.vae_warmup_iters:
            log_vars = self.vae_step(x, enc_optim, dec_optim)
        else:
            log_vars = self.introspective_step(x, enc_optim, dec_optim)
        self._update_ema(self.current_iter)
        return log_vars

    @property
    def current_iter(self) -> int:
        """The runner's iteration (mmengine's MessageHub), 0 outside one."""
        return MessageHub.get_current_instance().get_info('iter', 0)

    def introspective_step(self, x: Tensor, enc_optim: OptimWrapper,
                           dec_optim: OptimWrapper) -> Dict[str, Tensor]:
        """One encoder update, then one decoder update: the objective.

        Args:
            x (Tensor): Real images, preprocessed.
            enc_optim (OptimWrapper): The encoder's optimizer wrapper.
            dec_optim (OptimWrapper): The decoder's optimizer wrapper.

        Returns:
            dict[str, Tensor]: Detached values to log.
        """
        raise NotImplementedError

    def vae_step(self, x: Tensor, enc_optim: OptimWrapper,
                 dec_optim: OptimWrapper) -> Dict[str, Tensor]:
        """A plain-VAE step, used during the warm-up iterations.

        Both networks descend ``kl * L_REG(x) + rec * L_AE`` with the
        weights of :attr:`warmup_weights`. Arguments and return value as
        :meth:`introspective_step`.
        """
        w = self.warmup_weights
        with enc_optim.optim_context(self.encoder):
            mu, logvar = self.encoder(x)
            x_r = self.decoder(reparameterize(mu, logvar))
            loss_ae = self.reconstruction_loss(x_r, x)
            kl_real = self.kl_loss(mu, logvar)
            loss_vae = w.kl * kl_real + w.rec * loss_ae
        self._update(enc_optim, loss_vae, self.encoder, retain_graph=True)
        self._update(dec_optim, loss_vae, self.decoder)
        return self._detach(
            loss_ae=loss_ae, kl_real=kl_real, loss_vae=loss_vae)

    def _update_ema(self, curr_iter: int) -> None:
        """Updates the EMA decoder (or copies the decoder before
        ``ema_start``), as mmagic's ``BaseGAN.train_step``."""
        if self.decoder_ema is None:
            return
        if curr_iter + 1 >= self.ema_start:
            self.decoder_ema.update_parameters(self.decoder)
            if not self.decoder_ema.update_buffers:
                self.decoder_ema.sync_buffers(self.decoder)
        else:
            self.decoder_ema.sync_parameters(self.decoder)

    # ------------------------------------------------------------------
    # What the objectives are written with.
    # ------------------------------------------------------------------
    def prior_sample(self, x: Tensor) -> Tensor:
        """Z_p ~ N(0, I), one code per real image (:meth:`noise_fn`)."""
        return self.noise_fn(num_batches=x.shape[0])

    def reconstruction_loss(self, x_r: Tensor, x: Tensor) -> Tensor:
        """L_AE: the batch mean of the per-image errors (float32).

        Args:
            x_r (Tensor): Reconstructions.
            x (Tensor): Real images.

        Returns:
            Tensor: The reconstruction loss.
        """
        return self.rec_per_sample(x_r, x).mean()

    def rec_per_sample(self, x_r: Tensor, x: Tensor) -> Tensor:
        """The reconstruction error of each image, shape (N,) (float32).

        ``rec_loss`` per pixel (times its ``loss_weight``), summed over each
        image for its reduction 'sum', averaged for 'mean'.

        Args:
            x_r (Tensor): Reconstructions.
            x (Tensor): Targets.

        Returns:
            Tensor: Per-image errors.
        """
        reduction = self.rec_loss.reduction
        with per_pixel(self.rec_loss):
            errors = self.rec_loss(x_r.float(), x.float()).flatten(1)
        return errors.sum(1) if reduction == 'sum' else errors.mean(1)

    def kl_per_sample(self, images: Tensor) -> Tensor:
        """Encodes images (:meth:`judge`) and returns the KL of each
        posterior, shape (N,), times the KL loss' ``loss_weight``."""
        mu, logvar = self.judge(images)
        return self.kl_loss(mu, logvar, reduction_override='none')

    def judge(self, images: Tensor) -> Tuple[Tensor, Tensor]:
        """The encoder's posterior (``mu``, ``logvar``) of generated images.

        As ``self.encoder(images)``, but with ``bn_stats='real'`` the pass
        does not move the encoder's BatchNorm running statistics.
        """
        if self.bn_stats == 'all':
            return self.encoder(images)
        with frozen_running_stats(self.encoder):
            return self.encoder(images)

    @staticmethod
    def _update(optim: OptimWrapper,
                loss: Tensor,
                module: nn.Module,
                retain_graph: bool = False) -> None:
        """Backward restricted to ``module``'s parameters, then maybe step.

        Does what ``OptimWrapper.update_params`` does (loss scaling for
        gradient accumulation, AMP loss scaling, step and zero_grad when the
        accumulation is complete), but computes gradients only for the
        parameters this optimizer updates, so no gradient leaks from one
        network's update into the other's, and averages them over ranks
        once before the step when training is distributed.
        """
        params = [p for p in module.parameters() if p.requires_grad]
        optim.backward(
            optim.scale_loss(loss), inputs=params, retain_graph=retain_graph)
        if optim.should_update():
            reduce_gradients(params)
            optim.step()
            optim.zero_grad()

    @staticmethod
    def _detach(**values: Tensor) -> Dict[str, Tensor]:
        """Detached copies of the values to log."""
        return {k: v.detach() for k, v in values.items()}

    @classmethod
    def _game_logs(cls, loss_ae: Tensor, kl_real: Tensor,
                   kls: Tuple[Tensor, Tensor, Tensor,
                              Tensor], losses: Tuple[Tensor, Tensor],
                   terms: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """The values an introspective step logs, detached.

        Args:
            loss_ae (Tensor): The reconstruction loss of real images.
            kl_real (Tensor): The KL of real images.
            kls (tuple[Tensor]): The KL of reconstructions and samples as
                the encoder judged them (per sample) and as the decoder's
                update saw them (batch means).
            losses (tuple[Tensor]): The encoder's and the decoder's loss.
            terms (dict[str, Tensor]): The objective's own terms.
        """
        kl_rec_e, kl_fake_e, kl_rec_d, kl_fake_d = kls
        return cls._detach(
            loss_ae=loss_ae,
            kl_real=kl_real,
            kl_rec_enc=kl_rec_e.mean(),
            kl_fake_enc=kl_fake_e.mean(),
            kl_rec_dec=kl_rec_d,
            kl_fake_dec=kl_fake_d,
            **terms,
            loss_encoder=losses[0],
            loss_decoder=losses[1])

    def _split_optim_wrapper(
            self, optim_wrapper: OptimWrapperDict
    ) -> Tuple[OptimWrapper, OptimWrapper]:
        """Returns the encoder's and the decoder's optimizer wrappers."""
        keys = set(optim_wrapper.keys())
        if not {'encoder', 'decoder'} <= keys:
            raise KeyError(
                f'{self._name} needs optim_wrapper with the keys encoder and '
                "decoder (constructor='MultiOptimWrapperConstructor'), got "
                f'{sorted(keys)}.')
        return optim_wrapper['encoder'], optim_wrapper['decoder']

    def _real_images(self, data: dict) -> Tensor:
        """Real images of a preprocessed batch (``data_samples.gt_img``)."""
        samples = data.get('data_samples')
        if samples is None or 'gt_img' not in samples:
            raise KeyError(
                f'{self._name} reads real images from data_samples.gt_img: '
                "load them with dict(type='LoadImageFromFile', key='gt') and "
                "end the pipeline with dict(type='PackInputs').")
        return samples.gt_img
