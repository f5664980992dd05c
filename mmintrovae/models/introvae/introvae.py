"""IntroVAE (Huang et al., NeurIPS 2018) as an mmagic model."""
from copy import deepcopy
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmagic.registry import MODELS
from mmengine import MessageHub
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import Tensor

from ..utils import (frozen_running_stats, global_batch_randn,
                     reduce_gradients, reparameterize)
from .introvae_inference import IntroVAEInferenceMixin
from .introvae_weights import IntroVAEWeights

ModelType = Union[dict, nn.Module]


@MODELS.register_module()
class IntroVAE(IntroVAEInferenceMixin, BaseModel):
    """Introspective VAE: a VAE whose encoder is also the discriminator.

    Each training step is Algorithm 1 of the paper: encode x, decode the
    posterior sample (x_r) and a prior sample (x_p), update the encoder with
    ``L_E = L_REG(x) + alpha * sum_s [m - L_REG(ng(x_s))]^+ + beta * L_AE``,
    then the decoder with ``L_G = alpha * sum_s L_REG(x_s) + beta * L_AE``,
    where the updated encoder judges x_r and x_p. The decoder's outputs are
    shared by both updates (the decoder has not stepped in between); each
    backward is restricted to the parameters it updates, so no gradient
    leaks from one update into the other and no graph is differentiated
    through weights that an optimizer step already changed.

    All losses see images as the ``data_preprocessor`` makes them: mean=0,
    std=255 gives [0, 1] (the authors' code), mmagic's default 127.5/127.5
    gives [-1, 1], which quadruples L_AE; ``margin`` and ``beta`` depend on
    this choice.

    Where the loss weights live (one rule): a loss module's
    ``loss_weight`` is part of the term's definition (L_AE's 1/2 is
    ``rec_loss.loss_weight=0.5``), and every coefficient between terms is
    in :attr:`weights` (:class:`IntroVAEWeights`, from ``alpha``/``beta``
    or ``authors_weights``). Every loss is a batch mean of per-image terms:
    the KL summed over latents, and the ``rec_loss`` summed over the pixels
    of an image for its reduction ``'sum'`` (the paper's L_AE) or averaged
    over them for ``'mean'``.

    :class:`SoftIntroVAE` trains the same networks with the Soft-IntroVAE
    objective (``type='SoftIntroVAE'``).

    Args:
        encoder (dict | nn.Module): The encoder, e.g. ``IntroVAEEncoder``.
        decoder (dict | nn.Module): The decoder, e.g. ``IntroVAEDecoder``.
        data_preprocessor (dict, optional): mmagic's ``DataPreprocessor``.
        loss_config (dict, optional): Loss modules ``kl_loss`` (L_REG,
            default ``GaussianKLLoss``), ``margin_loss`` (the hinge, default
            ``MarginHingeLoss(margin=100)``; ``margin='auto'`` measures it
            at the end of the warm-up) and ``rec_loss`` (L_AE, any mmagic
            pixel loss; default ``MSELoss(loss_weight=0.5, reduction='sum')``).
            Keys left out keep their default (:attr:`default_losses`).
        alpha (float, optional): The paper's weight of the adversarial terms
            (default 0.25). 0 trains a plain VAE.
        beta (float, optional): The paper's weight of L_AE (default 0.5).
        authors_weights (dict, optional): Instead of alpha/beta, the authors'
            ``weight_rec``, ``weight_kl``, ``weight_neg``, with their meaning
            (see :class:`IntroVAEWeights`).
        vae_warmup_iters (int): Iterations of plain-VAE training before the
            introspective game starts. Defaults to 0.
        ema_config (dict, optional): mmagic ``ExponentialMovingAverage``
            config for a sampling copy of the decoder (e.g.
            ``dict(momentum=0.001)``). Defaults to None (no EMA).
        channels_last (bool): Keep the encoder's and the decoder's weights
            and the real images in ``torch.channels_last`` memory format
            (faster convolutions on tensor-core GPUs). Defaults to False.
        bn_stats (str): Which encoder passes update its BatchNorm running
            statistics, the ones eval mode (reconstruction, test) uses:
            ``'real'`` (default) only the passes over real images, so the
            statistics are those of the data; ``'all'`` also the passes over
            reconstructions and samples, as the authors' code (their
            running statistics then mix real and generated images, which
            cost 3.5 dB of eval-mode reconstruction PSNR on Fashion-MNIST,
            README "The study"). Training numerics are the same for both:
            train-mode BatchNorm normalises with the batch's statistics.
        compile (bool | dict, optional): ``torch.compile`` the encoder and
            the decoder once, in place (``nn.Module.compile``, so state
            dict keys do not change); a dict is passed on as its keyword
            arguments, e.g. ``dict(mode='max-autotune')``. The EMA copy of
            the decoder is not compiled. Defaults to None (eager).
        image_size (int, optional): The side of the images, given to both
            networks when built from dicts (as mmagic's ``BaseGAN`` gives
            its generator ``noise_size``), so a config states the size once.
            A network dict that sets it itself keeps its own value.
        channels (tuple[int], optional): The networks' channels per stage,
            given to both likewise.
        latent_dim (int, optional): The latent size, given to both likewise.
        objective (str, optional): Removed; only there to tell configs
            written for it what to use instead (``type='SoftIntroVAE'``).
        soft_weights (dict, optional): Removed likewise (a
            :class:`SoftIntroVAE` argument).
    """

    #: The loss modules of ``loss_config`` and their defaults.
    default_losses = dict(
        kl_loss=dict(type='GaussianKLLoss', reduction='mean'),
        margin_loss=dict(type='MarginHingeLoss', margin=100.),
        rec_loss=dict(type='MSELoss', loss_weight=0.5, reduction='sum'))

    def __init__(self,
                 encoder: ModelType,
                 decoder: ModelType,
                 data_preprocessor: Optional[dict] = None,
                 loss_config: Optional[dict] = None,
                 alpha: Optional[float] = None,
                 beta: Optional[float] = None,
                 authors_weights: Optional[dict] = None,
                 vae_warmup_iters: int = 0,
                 ema_config: Optional[dict] = None,
                 channels_last: bool = False,
                 compile: Union[bool, dict, None] = None,
                 bn_stats: str = 'real',
                 image_size: Optional[int] = None,
                 channels: Optional[Sequence[int]] = None,
                 latent_dim: Optional[int] = None,
                 objective: Optional[str] = None,
                 soft_weights: Optional[dict] = None):
        if isinstance(data_preprocessor, dict):
            # mmagic's registry, whatever the current default scope is.
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor)
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
                    f'{type(self).__name__}: encoder {key}={enc} and decoder '
                    f'{key}={dec} differ; set model.{key} once (or the same '
                    f'{key} in model.encoder and model.decoder).')
        if objective is not None or soft_weights is not None:
            raise ValueError(
                f'{type(self).__name__}: model.objective and '
                'model.soft_weights were removed from IntroVAE. For '
                "Soft-IntroVAE set model.type='SoftIntroVAE' with its "
                'model.soft_weights (see configs/_base_/models/'
                "soft_introvae.py); for IntroVAE drop both keys.")
        self.weights = self._build_weights(alpha, beta, authors_weights)
        if vae_warmup_iters < 0:
            raise ValueError('IntroVAE: model.vae_warmup_iters='
                             f'{vae_warmup_iters} must be >= 0.')
        self.vae_warmup_iters = vae_warmup_iters
        self._build_losses(dict(loss_config or {}))
        margin_loss = getattr(self, 'margin_loss', None)
        if margin_loss is not None and margin_loss.auto and (vae_warmup_iters
                                                             == 0):
            raise ValueError(
                "IntroVAE: model.loss_config.margin_loss.margin='auto' sets "
                'm from the KL of real images at the end of the plain-VAE '
                'warm-up, but model.vae_warmup_iters=0; set it > 0 (e.g. a '
                'fifth of the iterations) or give the margin as a number.')
        self.decoder_ema = None
        if ema_config is not None:
            ema_config = deepcopy(ema_config)
            ema_config.setdefault('type', 'ExponentialMovingAverage')
            self.ema_start = ema_config.pop('start_iter', 0)
            self.decoder_ema = MODELS.build(
                ema_config, default_args=dict(model=self.decoder))
        if bn_stats not in ('real', 'all'):
            raise ValueError(f"IntroVAE: model.bn_stats={bn_stats!r} must be "
                             "'real' or 'all'.")
        self.bn_stats = bn_stats
        self._set_fast_path(channels_last, compile)

    def _build_network(self, name: str, network: ModelType,
                       sizes: dict) -> nn.Module:
        """Builds ``model.<name>`` from a dict, with the model's sizes as
        default arguments; a module is taken as it is."""
        if isinstance(network, dict):
            return MODELS.build(network, default_args=sizes)
        if sizes:
            raise ValueError(
                f'{type(self).__name__}: model.{sorted(sizes)} only apply to '
                f'networks built from config dicts, but model.{name} is an '
                f'already built {type(network).__name__}; drop them or give '
                f'model.{name} as a dict.')
        return network

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
                'IntroVAE: model.compile must be True, None or a dict of '
                f'torch.compile keyword arguments, got {compile!r}.')
        # The encoder's backward keeps the graph (retain_graph=True) for the
        # decoder's update, which AOTAutograd's donated buffers forbid
        # ("compiled with non-empty donated buffers which requires ...
        # retain_graph=False"); donation only saves memory.
        import torch._functorch.config as functorch_config
        functorch_config.donated_buffer = False
        self.encoder.compile(**compile)
        self.decoder.compile(**compile)

    def _build_weights(self, alpha: Optional[float], beta: Optional[float],
                       authors_weights: Optional[dict]) -> IntroVAEWeights:
        """Every loss coefficient, from the paper's or the authors' weights.

        Args:
            alpha (float, optional): The paper's alpha (default 0.25).
            beta (float, optional): The paper's beta (default 0.5).
            authors_weights (dict, optional): The authors' scripts' weights.

        Returns:
            IntroVAEWeights: The coefficients of L_E, L_G and the warm-up.
        """
        return IntroVAEWeights.from_config(alpha, beta, authors_weights)

    def _build_losses(self, loss_config: dict) -> None:
        """Builds the loss modules, with clear errors for bad keys."""
        owner = type(self).__name__
        unknown = set(loss_config) - set(self.default_losses)
        if unknown:
            raise KeyError(
                f'{owner}: unknown key(s) {sorted(unknown)} in '
                f'model.loss_config; expected {sorted(self.default_losses)}.')
        for name, default in self.default_losses.items():
            cfg = loss_config.get(name, default)
            try:
                setattr(self, name, MODELS.build(cfg))
            except KeyError as err:
                raise KeyError(
                    f'{owner}: model.loss_config.{name}.type={cfg["type"]!r}'
                    ' is not a registered loss; check the spelling or import '
                    f'the module that registers it ({err}).') from None
        reduction = getattr(self.rec_loss, 'reduction', 'mean')
        if reduction not in ('sum', 'mean'):
            raise ValueError(
                f'{owner}: model.loss_config.rec_loss.reduction='
                f"{reduction!r}; use 'sum' (per-image sum, batch mean) or "
                "'mean' (mean over all pixels).")
        # The same loss, per pixel, for per-image errors (rec_per_sample).
        self._rec_loss_per_pixel = deepcopy(self.rec_loss)
        self._rec_loss_per_pixel.reduction = 'none'

    # ------------------------------------------------------------------
    # The training step: Algorithm 1 of the paper.
    # ------------------------------------------------------------------
    def train_step(self, data: dict,
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One iteration: an encoder update, then a decoder update.

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
        curr_iter = MessageHub.get_current_instance().get_info('iter', 0)
        if curr_iter < self.vae_warmup_iters:
            log_vars = self.vae_step(x, enc_optim, dec_optim)
            self._observe_margin(curr_iter, log_vars['kl_real'])
        else:
            self._calibrate_margin()
            log_vars = self.introspective_step(x, enc_optim, dec_optim)
        self._update_ema(curr_iter)
        return log_vars

    def introspective_step(self, x: Tensor, enc_optim: OptimWrapper,
                           dec_optim: OptimWrapper) -> Dict[str, Tensor]:
        """Algorithm 1: one encoder update, then one decoder update.

        Args:
            x (Tensor): Real images, preprocessed.
            enc_optim (OptimWrapper): The encoder's optimizer wrapper.
            dec_optim (OptimWrapper): The decoder's optimizer wrapper.

        Returns:
            dict[str, Tensor]: Detached values to log.
        """
        w = self.weights
        with enc_optim.optim_context(self.encoder):
            # Z <- Enc(X), Z_p ~ N(0, I), X_r <- Dec(Z), X_p <- Dec(Z_p)
            # (Z_p is drawn first, as the authors' loop does.)
            z_p = global_batch_randn((x.shape[0], self.latent_dim), x.device)
            mu, logvar = self.encoder(x)
            z = reparameterize(mu, logvar)
            x_r, x_p = self.decoder(z), self.decoder(z_p)
            loss_ae = self.reconstruction_loss(x_r, x)
            kl_real = self.kl_loss(mu, logvar)
            # The encoder judges ng(X_r) and ng(X_p): no gradient reaches
            # the decoder through the margin terms.
            kl_rec_e = self.kl_per_sample(x_r.detach())
            kl_fake_e = self.kl_per_sample(x_p.detach())
            hinge_rec = self.margin_loss(kl_rec_e)
            hinge_fake = self.margin_loss(kl_fake_e)
            loss_encoder = (
                w.kl_real * kl_real + w.hinge * (hinge_rec + hinge_fake) +
                w.rec * loss_ae)
        # theta_E <- theta_E - eta * grad_E(L_E); the decoder's graph is kept
        # for its own update, which uses the same X_r, X_p and L_AE.
        self._update(enc_optim, loss_encoder, self.encoder, retain_graph=True)

        with dec_optim.optim_context(self.decoder):
            # The updated encoder judges X_r and X_p, now with gradients.
            kl_rec_d = self.kl_loss(*self.judge(x_r))
            kl_fake_d = self.kl_loss(*self.judge(x_p))
            loss_decoder = (
                w.adversarial * (kl_rec_d + kl_fake_d) + w.rec * loss_ae)
        # theta_G <- theta_G - eta * grad_G(L_G); the encoder is not updated.
        self._update(dec_optim, loss_decoder, self.decoder)

        kls = (kl_rec_e, kl_fake_e, kl_rec_d, kl_fake_d)
        return self._game_logs(
            loss_ae, kl_real, kls, (loss_encoder, loss_decoder),
            dict(
                hinge_rec=hinge_rec,
                hinge_fake=hinge_fake,
                margin=self.margin_loss.margin_value))

    def vae_step(self, x: Tensor, enc_optim: OptimWrapper,
                 dec_optim: OptimWrapper) -> Dict[str, Tensor]:
        """A plain-VAE step, used during the warm-up iterations.

        Both networks descend ``warmup_kl * L_REG(x) + warmup_rec * L_AE``.
        Arguments and return value as :meth:`introspective_step`.
        """
        with enc_optim.optim_context(self.encoder):
            mu, logvar = self.encoder(x)
            x_r = self.decoder(reparameterize(mu, logvar))
            loss_ae = self.reconstruction_loss(x_r, x)
            kl_real = self.kl_loss(mu, logvar)
            loss_vae = (
                self.weights.warmup_kl * kl_real +
                self.weights.warmup_rec * loss_ae)
        self._update(enc_optim, loss_vae, self.encoder, retain_graph=True)
        self._update(dec_optim, loss_vae, self.decoder)
        return self._detach(
            loss_ae=loss_ae, kl_real=kl_real, loss_vae=loss_vae)

    def _observe_margin(self, curr_iter: int, kl_real: Tensor) -> None:
        """Feeds the KL of real images of the warm-up's last iterations to
        an automatic margin (``MarginHingeLoss(margin='auto')``)."""
        hinge = getattr(self, 'margin_loss', None)
        if (hinge is not None and hinge.auto
                and curr_iter >= self.vae_warmup_iters - hinge.auto_window):
            hinge.observe(kl_real)

    def _calibrate_margin(self) -> None:
        """Sets an automatic margin at the first introspective iteration."""
        hinge = getattr(self, 'margin_loss', None)
        if hinge is not None and hinge.auto and not hinge.calibrated:
            count = int(hinge.observed_count)
            margin = hinge.calibrate()
            print_log(
                f"IntroVAE: margin='auto' set m = {margin:.3f} "
                f'({hinge.auto_factor:g} x the mean KL of real images over '
                f'the last {count} warm-up iterations)',
                logger='current')

    # ------------------------------------------------------------------
    # Loss helpers.
    # ------------------------------------------------------------------
    def reconstruction_loss(self, x_r: Tensor, x: Tensor) -> Tensor:
        """L_AE: the batch mean of the per-image errors.

        Args:
            x_r (Tensor): Reconstructions.
            x (Tensor): Real images.

        Returns:
            Tensor: The reconstruction loss (float32).
        """
        return self.rec_per_sample(x_r, x).mean()

    def rec_per_sample(self, x_r: Tensor, x: Tensor) -> Tensor:
        """The reconstruction error of each image, shape (N,).

        ``rec_loss`` pixel-wise (times its ``loss_weight``), summed over
        each image for its reduction 'sum' and averaged for 'mean'.

        Args:
            x_r (Tensor): Reconstructions.
            x (Tensor): Targets.

        Returns:
            Tensor: Per-image errors (float32).
        """
        per_pixel = self._rec_loss_per_pixel(x_r.float(), x.float()).flatten(1)
        return (per_pixel.sum(1)
                if self.rec_loss.reduction == 'sum' else per_pixel.mean(1))

    def kl_per_sample(self, images: Tensor) -> Tensor:
        """Encodes images and returns the KL of each posterior, shape (N,).

        Args:
            images (Tensor): Preprocessed images.

        Returns:
            Tensor: Per-sample KL, weighted by the KL loss' ``loss_weight``.
        """
        mu, logvar = self.judge(images)
        return self.kl_loss(mu, logvar, reduction_override='none')

    def judge(self, images: Tensor) -> Tuple[Tensor, Tensor]:
        """The encoder's posterior of generated images.

        As ``self.encoder(images)``, but with ``bn_stats='real'`` the pass
        does not move the encoder's BatchNorm running statistics.

        Args:
            images (Tensor): Reconstructions or samples.

        Returns:
            tuple[Tensor, Tensor]: ``mu`` and ``logvar``.
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
        parameters this optimizer updates, and averages them over ranks once
        before the step when training is distributed.
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

    @staticmethod
    def _split_optim_wrapper(
            optim_wrapper: OptimWrapperDict
    ) -> Tuple[OptimWrapper, OptimWrapper]:
        """Returns the encoder's and the decoder's optimizer wrappers."""
        keys = set(optim_wrapper.keys())
        if not {'encoder', 'decoder'} <= keys:
            raise KeyError(
                'IntroVAE needs optim_wrapper with the keys encoder and '
                f'decoder (constructor=\'MultiOptimWrapperConstructor\'), '
                f'got {sorted(keys)}.')
        return optim_wrapper['encoder'], optim_wrapper['decoder']

    def _real_images(self, data: dict) -> Tensor:
        """Real images of a preprocessed batch (``data_samples.gt_img``)."""
        samples = data.get('data_samples')
        if samples is None or 'gt_img' not in samples:
            raise KeyError(
                'IntroVAE reads real images from data_samples.gt_img: load '
                "them with dict(type='LoadImageFromFile', key='gt') and end "
                "the pipeline with dict(type='PackInputs').")
        return samples.gt_img

    def _update_ema(self, curr_iter: int) -> None:
        """Updates the decoder's EMA copy (or copies it before the start)."""
        if self.decoder_ema is None:
            return
        if curr_iter + 1 >= self.ema_start:
            self.decoder_ema.update_parameters(self.decoder)
            if not self.decoder_ema.update_buffers:
                self.decoder_ema.sync_buffers(self.decoder)
        else:
            self.decoder_ema.sync_parameters(self.decoder)
