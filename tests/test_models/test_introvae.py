"""IntroVAE's training step: gradient isolation, VAE limit, authors' mode."""
import copy

import pytest
import torch
import torch.nn.functional as F
from conftest import make_batch, make_optim_wrappers, tiny_model_cfg
from mmagic.registry import MODELS
from mmengine import MessageHub


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def assert_params_equal(a, b, atol=0.0):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        torch.testing.assert_close(
            x, y, atol=atol, rtol=0 if not atol else 1e-5)


def assert_params_differ(a, b):
    assert any(not torch.equal(x, y) for x, y in zip(a, b))


def real_images(model, batch):
    return model.data_preprocessor(copy.deepcopy(batch),
                                   True)['data_samples'].gt_img


def set_iter(i):
    MessageHub.get_current_instance().update_info('iter', i)


def steps_beside_reference(model, reference_step, iters, seed):
    """Trains ``model`` and a reference loop side by side.

    Iteration ``it`` feeds both the batch ``make_batch(seed=it)`` from the
    same random state (``seed + it``): ``model.train_step`` with Adam
    wrappers, then ``reference_step(x, it)`` on the preprocessed images.

    Yields:
        tuple: ``(it, ours, theirs)``, the two steps' returned values.
    """
    optim = make_optim_wrappers(model)
    for it in range(iters):
        batch = make_batch(seed=it)
        x = real_images(model, batch)
        set_iter(it)
        torch.manual_seed(seed + it)
        ours = model.train_step(batch, optim)
        torch.manual_seed(seed + it)
        yield it, ours, reference_step(x, it)


def record_steps(model, optim):
    """Wraps both optimizers' step() to snapshot grads and weights."""
    log = []
    for name in ('encoder', 'decoder'):
        wrapper = optim[name]
        original = wrapper.step

        def step(_name=name, _original=original, **kw):
            log.append(
                dict(
                    name=_name,
                    enc_grads=[
                        None if p.grad is None else p.grad.clone()
                        for p in model.encoder.parameters()
                    ],
                    dec_grads=[
                        None if p.grad is None else p.grad.clone()
                        for p in model.decoder.parameters()
                    ],
                    enc_before=params(model.encoder),
                    dec_before=params(model.decoder)))
            _original(**kw)
            log[-1]['enc_after'] = params(model.encoder)
            log[-1]['dec_after'] = params(model.decoder)

        wrapper.step = step
    return log


def test_train_step_logs_the_game_and_updates_both(build_model):
    model = build_model()
    optim = make_optim_wrappers(model)
    enc0, dec0 = params(model.encoder), params(model.decoder)
    set_iter(0)
    log_vars = model.train_step(make_batch(), optim)
    expected = {
        'loss_ae', 'kl_real', 'kl_rec_enc', 'kl_fake_enc', 'kl_rec_dec',
        'kl_fake_dec', 'hinge_rec', 'hinge_fake', 'loss_encoder',
        'loss_decoder', 'margin'
    }
    assert set(log_vars) == expected
    assert log_vars['margin'].item() == model.margin_loss.margin
    assert all(
        torch.isfinite(v) and not v.requires_grad for v in log_vars.values())
    assert log_vars['hinge_rec'] > 0  # margin 1000 is far above the KLs
    assert_params_differ(enc0, params(model.encoder))
    assert_params_differ(dec0, params(model.decoder))


def test_encoder_update_is_isolated_from_decoder(build_model):
    """L_E gives the decoder no gradient, the decoder step moves no encoder
    weight, and the margin terms see X_r and X_p as constants (ng)."""
    model = build_model(alpha=1.0, beta=0.0)
    optim = make_optim_wrappers(model)
    log = record_steps(model, optim)
    batch = make_batch()
    x = real_images(model, batch)
    enc_start, dec_start = copy.deepcopy(model.encoder), copy.deepcopy(
        model.decoder)
    set_iter(0)
    torch.manual_seed(7)
    model.train_step(batch, optim)
    enc_step, dec_step = log
    assert enc_step['name'] == 'encoder' and dec_step['name'] == 'decoder'
    # The encoder's backward left no gradient on any decoder parameter.
    assert all(g is None for g in enc_step['dec_grads'])
    # The encoder step did not move the decoder, the decoder step did not
    # move the encoder.
    assert_params_equal(enc_step['dec_before'], enc_step['dec_after'])
    assert_params_equal(dec_step['enc_before'], dec_step['enc_after'])
    assert_params_differ(dec_step['dec_before'], dec_step['dec_after'])

    # Reference: L_E with X_r, X_p computed beforehand as constant tensors.
    torch.manual_seed(7)
    z_p = torch.randn(x.shape[0], model.latent_dim)
    mu, logvar = enc_start(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    with torch.no_grad():
        x_r, x_p = dec_start(z), dec_start(z_p)
    kl = model.kl_loss
    loss_e = (
        kl(mu, logvar) + model.margin_loss(kl(*enc_start(x_r), 'none')) +
        model.margin_loss(kl(*enc_start(x_p), 'none')))
    ref_grads = torch.autograd.grad(loss_e, list(enc_start.parameters()))
    for got, ref in zip(enc_step['enc_grads'], ref_grads):
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)


def test_alpha_zero_is_a_plain_vae_step(build_model):
    beta = 0.7
    model = build_model(alpha=0.0, beta=beta)
    encoder, decoder = copy.deepcopy(model.encoder), copy.deepcopy(
        model.decoder)
    optim = make_optim_wrappers(model)
    opt_e = torch.optim.Adam(encoder.parameters(), lr=1e-3)
    opt_g = torch.optim.Adam(decoder.parameters(), lr=1e-3)
    for it in range(3):
        batch = make_batch(seed=it)
        x = real_images(model, batch)
        set_iter(it)
        torch.manual_seed(100 + it)
        model.train_step(batch, optim)
        # A plain VAE step on the same draws (z_p is drawn, then unused).
        torch.manual_seed(100 + it)
        torch.randn(x.shape[0], model.latent_dim)
        mu, logvar = encoder(x)
        x_r = decoder(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu))
        kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1).mean()
        rec = 0.5 * (x_r - x).pow(2).flatten(1).sum(1).mean()
        opt_e.zero_grad()
        opt_g.zero_grad()
        (kl + beta * rec).backward()
        opt_e.step()
        opt_g.step()
    assert_params_equal(params(model.encoder), params(encoder), atol=1e-5)
    assert_params_equal(params(model.decoder), params(decoder), atol=1e-5)


class AuthorsLoop:
    """A transcription of the authors' ``main.py`` train loop (IntroVAE).

    One change makes it run on current PyTorch: ``lossG.backward()`` is
    restricted to the decoder's parameters. Without it, PyTorch >= 1.5
    raises because the backward reaches the encoder's graph, whose weights
    ``optimizerE.step()`` changed in place; PyTorch 0.4 computed the same
    decoder gradients and discarded encoder gradients there.
    """

    def __init__(self, encoder, decoder, opt, lr=1e-3):
        self.encoder, self.decoder, self.opt = encoder, decoder, opt
        self.optimizerE = torch.optim.Adam(encoder.parameters(), lr=lr)
        self.optimizerG = torch.optim.Adam(decoder.parameters(), lr=lr)

    @staticmethod
    def kl_loss(mu, logvar):
        kld = mu.pow(2).add(logvar.exp()).mul(-1).add(1).add(logvar)
        return torch.sum(kld, dim=-1).mul(-0.5)

    @staticmethod
    def reconstruction_loss(prediction, target):
        error = (prediction - target).view(prediction.size(0), -1)
        return torch.sum(error**2, dim=-1).mean()

    def forward(self, x):
        mu, logvar = self.encoder(x)
        z = torch.randn_like(mu).mul(logvar.mul(0.5).exp()).add(mu)
        return mu, logvar, z, self.decoder(z)

    def train_vae(self, real):
        real_mu, real_logvar, z, rec = self.forward(real)
        loss_rec = self.reconstruction_loss(rec, real)
        loss_kl = self.kl_loss(real_mu, real_logvar).mean()
        loss = loss_rec + loss_kl
        self.optimizerG.zero_grad()
        self.optimizerE.zero_grad()
        loss.backward()
        self.optimizerE.step()
        self.optimizerG.step()

    def train(self, real):
        opt = self.opt
        noise = torch.zeros(real.size(0),
                            self.encoder.latent_dim).normal_(0, 1)
        fake = self.decoder(noise)
        # =========== Update E ================
        real_mu, real_logvar, z, rec = self.forward(real)
        rec_mu, rec_logvar = self.encoder(rec.detach())
        fake_mu, fake_logvar = self.encoder(fake.detach())
        loss_rec = self.reconstruction_loss(rec, real)
        lossE_real_kl = self.kl_loss(real_mu, real_logvar).mean()
        lossE_rec_kl = self.kl_loss(rec_mu, rec_logvar).mean()
        lossE_fake_kl = self.kl_loss(fake_mu, fake_logvar).mean()
        loss_margin = lossE_real_kl + (
            F.relu(opt['m_plus'] - lossE_rec_kl) +
            F.relu(opt['m_plus'] - lossE_fake_kl)) * 0.5 * opt['weight_neg']
        lossE = loss_rec * opt['weight_rec'] + loss_margin * opt['weight_kl']
        self.optimizerG.zero_grad()
        self.optimizerE.zero_grad()
        lossE.backward(retain_graph=True)
        self.optimizerE.step()
        # ========= Update G ==================
        rec_mu, rec_logvar = self.encoder(rec)
        fake_mu, fake_logvar = self.encoder(fake)
        lossG_rec_kl = self.kl_loss(rec_mu, rec_logvar).mean()
        lossG_fake_kl = self.kl_loss(fake_mu, fake_logvar).mean()
        lossG = (lossG_rec_kl + lossG_fake_kl) * 0.5 * opt['weight_kl']
        # optimizerG.zero_grad()   (commented out in the authors' code)
        lossG.backward(inputs=list(self.decoder.parameters()))
        self.optimizerG.step()
        return dict(
            loss_encoder=lossE,
            loss_ae=loss_rec,
            kl_real=lossE_real_kl,
            kl_rec_enc=lossE_rec_kl,
            kl_fake_enc=lossE_fake_kl,
            kl_rec_dec=lossG_rec_kl,
            kl_fake_dec=lossG_fake_kl)


def test_authors_mode_matches_their_loop():
    opt = dict(m_plus=30.0, weight_rec=0.05, weight_kl=1.0, weight_neg=0.5)
    cfg = tiny_model_cfg(
        authors_weights=dict(
            weight_rec=opt['weight_rec'],
            weight_kl=opt['weight_kl'],
            weight_neg=opt['weight_neg']),
        vae_warmup_iters=2,
        loss_config=dict(
            margin_loss=dict(type='MarginHingeLoss', margin=opt['m_plus']),
            rec_loss=dict(type='MSELoss', loss_weight=1.0, reduction='sum')))
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    authors = AuthorsLoop(
        copy.deepcopy(model.encoder), copy.deepcopy(model.decoder), opt)
    hinge_was_active = False
    # 2 warm-up (train_vae) + 3 introspective steps
    for it, ours, theirs in steps_beside_reference(
            model, lambda x, it: (authors.train_vae
                                  if it < 2 else authors.train)(x), 5, 1000):
        if it < 2:
            continue
        hinge_was_active |= bool(ours['hinge_rec'] > 0)
        for key, value in theirs.items():
            torch.testing.assert_close(
                ours[key], value.detach(), rtol=1e-5, atol=1e-5)
        assert_params_equal(
            params(model.encoder), params(authors.encoder), atol=1e-5)
        assert_params_equal(
            params(model.decoder), params(authors.decoder), atol=1e-5)
    assert hinge_was_active  # the comparison covered the margin terms


def test_warmup_uses_vae_step_then_introspection(build_model):
    model = build_model(vae_warmup_iters=1)
    optim = make_optim_wrappers(model)
    set_iter(0)
    assert set(model.train_step(make_batch(),
                                optim)) == {'loss_ae', 'kl_real', 'loss_vae'}
    set_iter(1)
    assert 'hinge_rec' in model.train_step(make_batch(), optim)


def test_gradient_accumulation_steps_every_second_iteration(build_model):
    model = build_model()
    optim = make_optim_wrappers(model, accumulative_counts=2)
    optim.initialize_count_status(model, 0, 4)
    start = params(model.encoder)
    set_iter(0)
    model.train_step(make_batch(seed=0), optim)
    assert_params_equal(start, params(model.encoder))
    set_iter(1)
    log_vars = model.train_step(make_batch(seed=1), optim)
    assert_params_differ(start, params(model.encoder))
    assert all(torch.isfinite(v) for v in log_vars.values())


def test_amp_optim_wrapper_runs(build_model, monkeypatch):
    """bf16 autocast through mmengine's AmpOptimWrapper (as on a GPU).

    mmengine refuses to build the wrapper without an accelerator; the test
    lifts that guard so the wrapper runs CPU autocast and its (disabled)
    GradScaler through the model's step.
    """
    from mmengine.optim import OptimWrapperDict
    from mmengine.optim.optimizer import amp_optimizer_wrapper as amp
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    model = build_model()
    optim = OptimWrapperDict(
        encoder=amp.AmpOptimWrapper(
            optimizer=torch.optim.Adam(model.encoder.parameters()),
            dtype='bfloat16'),
        decoder=amp.AmpOptimWrapper(
            optimizer=torch.optim.Adam(model.decoder.parameters()),
            dtype='bfloat16'))
    seen_dtypes = []
    model.decoder.main[-1].register_forward_hook(
        lambda mod, args, out: seen_dtypes.append(out.dtype))
    start = params(model.decoder)
    set_iter(0)
    log_vars = model.train_step(make_batch(), optim)
    assert torch.bfloat16 in seen_dtypes  # the step ran under autocast
    assert all(torch.isfinite(v) for v in log_vars.values())
    assert_params_differ(start, params(model.decoder))


def test_missing_optimizer_key_is_a_clear_error(build_model):
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    model = build_model()
    optim = OptimWrapperDict(
        generator=OptimWrapper(torch.optim.Adam(model.decoder.parameters())))
    with pytest.raises(KeyError, match='keys encoder and decoder'):
        model.train_step(make_batch(), optim)


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match='image_size=32'):
        MODELS.build(
            dict(
                type='IntroVAEEncoder',
                image_size=32,
                channels=[8, 16],
                latent_dim=4))
    with pytest.raises(ValueError, match='either model.alpha'):
        MODELS.build(
            tiny_model_cfg(
                alpha=0.1,
                authors_weights=dict(weight_rec=1, weight_kl=1, weight_neg=1)))
    with pytest.raises(KeyError, match='loss_config.rec_loss.type'):
        MODELS.build(
            tiny_model_cfg(loss_config=dict(rec_loss=dict(type='NoLoss'))))
    with pytest.raises(KeyError, match='unknown key'):
        MODELS.build(tiny_model_cfg(loss_config=dict(gan_loss=dict())))


def test_a_config_without_a_loss_names_the_base_config():
    # The classes write no loss defaults: a config that does not inherit
    # the _base_ model file and leaves a loss out is refused, not filled in.
    cfg = tiny_model_cfg()
    del cfg['loss_config']['rec_loss']
    with pytest.raises(
            KeyError,
            match=r"\['rec_loss'\].*configs/_base_/models/introvae.py"):
        MODELS.build(cfg)
    soft = tiny_model_cfg(type='SoftIntroVAE')
    del soft['soft_weights']['beta_neg']
    with pytest.raises(
            KeyError, match=r'beta_neg.*configs/_base_/models/soft_introvae'):
        MODELS.build(soft)


def test_more_config_and_usage_errors_are_named(build_model):
    cfg = tiny_model_cfg()
    cfg['decoder'] = dict(cfg['decoder'], latent_dim=7)
    with pytest.raises(ValueError, match='latent_dim=6 and decoder'):
        MODELS.build(cfg)
    with pytest.raises(ValueError, match='vae_warmup_iters=-1'):
        build_model(vae_warmup_iters=-1)
    model = build_model()
    with pytest.raises(ValueError, match='set model.ema_config'):
        model.sample(2, use_ema=True)
    with pytest.raises(ValueError, match="sample_model='best'"):
        model(dict(num_batches=2, sample_model='best'))
    with pytest.raises(ValueError, match='num_steps=1'):
        model.interpolate(torch.zeros(3, 16, 16), torch.zeros(3, 16, 16), 1)


def test_amp_switch_rejects_other_wrapper_types():
    from mmengine.config import Config

    from mmintrovae.utils import enable_amp
    cfg = Config(
        dict(
            optim_wrapper=dict(
                encoder=dict(type='OptimWrapper'),
                decoder=dict(type='MyWrapper'))))
    with pytest.raises(ValueError, match="got 'MyWrapper'"):
        enable_amp(cfg, 'fp16')
    with pytest.raises(ValueError, match="choose one of"):
        enable_amp(cfg, 'int8')
    cfg.optim_wrapper.decoder.type = 'OptimWrapper'
    fp16 = Config(cfg.to_dict())
    enable_amp(fp16, 'fp16')
    assert fp16.optim_wrapper.encoder.type == 'AmpOptimWrapper'
    assert fp16.optim_wrapper.decoder.loss_scale == 'dynamic'
    assert fp16.optim_wrapper.decoder.dtype == 'float16'
    enable_amp(cfg)  # bf16: no GradScaler
    for name in ('encoder', 'decoder'):
        assert cfg.optim_wrapper[name].type == 'BF16OptimWrapper'
        assert 'loss_scale' not in cfg.optim_wrapper[name]
