# Worked example of "losses others can mix in": an unmodified mmagic GAN
# trains with mmintrovae's MarginHingeLossComps listed in its loss_config.
# Data: the 64x64 synthetic faces of `tools/make_demo_data.py`
# (`make data-faces`), resized to 32x32 for a small DCGAN that trains on a
# CPU.
#
# Which mmagic model: `DCGAN` (mmagic 1.2.0) overrides train_discriminator /
# train_generator with hard-coded BCE losses and never reads loss_config, so
# an auxiliary loss listed there is built but silently unused. Its base class
# `BaseGAN` is the mmagic GAN whose training steps do run loss_config: the
# discriminator step passes dict(gen, disc, disc_pred_fake, disc_pred_real,
# fake_imgs, real_imgs, batch_size, loss_scaler) to `gan_loss` and to every
# `disc_auxiliary_loss` module, sums the items named `loss_*` and logs each
# one. BaseGAN is not registered by name in MODELS; mmengine's Registry.get
# falls back to importing a full module path, hence the dotted `type`. With
# DCGAN's networks and a vanilla (BCE) `gan_loss` it is DCGAN's training.
#
# EBGAN view: the discriminator's output is an energy, low on real images and
# high on fakes. GANLoss's labels are swapped to match (real 0, fake 1: the
# output is the logit of "fake"), so the generator lowers the energy of its
# samples, and the margin hinge [m - E(G(z))]^+ (per sample, data_info maps
# `energy` to `disc_pred_fake`) pushes the discriminator's energy on fakes up
# to the margin m and stops there. With the default labels (output = logit
# of "real") the hinge would fight the BCE term instead.
#
# Known quirk of mmagic's BaseGAN (unmodified here): its discriminator step
# does not detach the fakes, so the generator's .grad also collects the
# discriminator loss's gradient, which is added to the next generator step.
default_scope = 'mmagic'
custom_imports = dict(imports=['mmintrovae'], allow_failed_imports=False)

image_size = 32
noise_size = 64
data_root = 'data/synthetic_faces'

model = dict(
    type='mmagic.models.BaseGAN',
    # images to [-1, 1], the range of DCGANGenerator's Tanh
    data_preprocessor=dict(type='DataPreprocessor', mean=127.5, std=127.5),
    noise_size=noise_size,
    generator=dict(
        type='DCGANGenerator',
        output_scale=image_size,
        base_channels=64,  # 4x4x64 -> 8x8x32 -> 16x16x16 -> 32x32x3
        noise_size=noise_size),
    # DCGANDiscriminator cannot be used here: its init_weights (mmagic 1.2.0)
    # raises UnboundLocalError ('init_info') when mmengine's Runner calls it,
    # because the first module it visits (itself) is neither a conv nor a
    # BatchNorm. Its only way around that loop is init_cfg type 'Pretrained',
    # which makes mmengine load a checkpoint file (strict=False), so it needs
    # an existing .pth: no fix for training from scratch at config level.
    # LSGANDiscriminator is mmagic's DCGAN-style discriminator (strided convs,
    # BN except on the first, LeakyReLU(0.2), linear output) with a working
    # default init, and its output (N, 1) is the energy.
    discriminator=dict(
        type='LSGANDiscriminator',
        input_scale=image_size,
        output_scale=4,  # 32 -> 16 -> 8 -> 4, 16/32/64 channels
        out_channels=1,
        base_channels=16),
    loss_config=dict(
        gan_loss=dict(
            type='GANLoss',
            gan_type='vanilla',
            real_label_val=0.0,
            fake_label_val=1.0),
        disc_auxiliary_loss=[
            dict(
                type='MarginHingeLossComps',
                margin=2.0,  # energy (logit of "fake") 2 = 88 % fake
                loss_weight=1.0,
                per_sample=True,
                data_info=dict(energy='disc_pred_fake'),
                loss_name='loss_margin_hinge'),
        ]))

# BaseGAN reads real images from `inputs['img']`, a dict. PackInputs returns
# a bare tensor when it packs a single key, so the image is packed twice:
# as `img` (the model input) and as `gt` (also DataSample.gt_img).
train_pipeline = [
    dict(type='LoadImageFromFile', key='gt', color_type='color'),
    dict(type='Resize', keys='gt', scale=(image_size, image_size)),
    dict(type='Flip', keys=['gt'], direction='horizontal'),
    dict(type='CopyValues', src_keys=['gt'], dst_keys=['img']),
    dict(type='PackInputs', keys=['img', 'gt']),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='BasicImageDataset',
        data_root=data_root,
        data_prefix=dict(gt='train'),
        pipeline=train_pipeline))

# One optimizer per network, keyed as BaseGAN.train_step expects.
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))),
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))))

train_cfg = dict(by_epoch=False, max_iters=2000)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None

# BaseGAN updates its networks in separate backward passes.
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)

randomness = dict(seed=2018, deterministic=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', interval=500, by_epoch=False, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    param_scheduler=dict(type='ParamSchedulerHook'))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
log_level = 'INFO'

vis_backends = [dict(type='VisBackend')]
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')

load_from = None
resume = False
