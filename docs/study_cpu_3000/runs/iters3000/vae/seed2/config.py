_ = dict(fake_nums=1000, prefix='MS-SSIM', sample_model='ema', type='MS_SSIM')
custom_hooks = [
    dict(interval=300, type='IntroVAEVisualizationHook'),
    dict(type='IntroVAEStabilityGuardHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'mmintrovae',
    ])
data_root = 'data/fashion_mnist'
dataset_type = 'BasicImageDataset'
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False,
        interval=500,
        less_keys=[],
        max_keep_ckpts=1,
        save_best=None,
        type='CheckpointHook'),
    logger=dict(interval=50, log_metric_by_epoch=False, type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    rng_state=dict(type='RNGStateHook'),
    runtime_info=dict(type='DeferredRuntimeInfoHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'))
default_scope = 'mmagic'
env_cfg = dict(
    cudnn_benchmark=True,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
fid = dict(
    fake_nums=2000,
    prefix='FID',
    real_nums=2000,
    sample_model='orig',
    type='OfflineFrechetInceptionDistance')
flip = dict(
    direction='horizontal', keys=[
        'gt',
    ], type='Flip')
image_size = 32
launcher = 'none'
load = dict(
    color_type='color', key='gt', on_error='skip', type='LoadImageOrSkip')
load_from = '/work/main/work_dirs/study_cpu/iters3000/vae/seed2/iter_3000.pth'
log_level = 'INFO'
log_processor = dict(by_epoch=False, type='LogProcessor', window_size=100)
metrics = [
    dict(
        fake_nums=2000,
        prefix='FID',
        real_nums=2000,
        sample_model='orig',
        type='OfflineFrechetInceptionDistance'),
    dict(
        fake_nums=2000,
        image_shape=(
            3,
            32,
            32,
        ),
        prefix='SWD',
        sample_model='orig',
        type='SWD'),
    dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='PSNR'),
    dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='SSIM'),
    dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='MSE'),
]
model = dict(
    alpha=0.0,
    beta=2.0,
    channels=(
        32,
        64,
        128,
    ),
    data_preprocessor=dict(
        mean=0.0, std=255.0, type='BatchedDataPreprocessor'),
    decoder=dict(out_channels=3, type='IntroVAEDecoder', upsample='bilinear'),
    encoder=dict(in_channels=3, type='IntroVAEEncoder'),
    image_size=32,
    latent_dim=32,
    loss_config=dict(
        kl_loss=dict(reduction='mean', type='GaussianKLLoss'),
        margin_loss=dict(
            auto_factor=1.5, margin='auto', type='MarginHingeLoss'),
        rec_loss=dict(loss_weight=0.5, reduction='sum', type='MSELoss')),
    type='IntroVAE',
    vae_warmup_iters=750)
model_wrapper_cfg = dict(type='IntroVAEDistributedWrapper')
num_eval = 2000
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    decoder=dict(
        optimizer=dict(betas=(
            0.9,
            0.999,
        ), lr=0.0002, type='Adam'),
        type='OptimWrapper'),
    encoder=dict(
        optimizer=dict(betas=(
            0.9,
            0.999,
        ), lr=0.0002, type='Adam'),
        type='OptimWrapper'))
pack = dict(type='PackInputs')
randomness = dict(deterministic=False, seed=2)
reconstruction = [
    dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='PSNR'),
    dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='SSIM'),
    dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='MSE'),
]
resume = False
swd = dict(
    fake_nums=2000,
    image_shape=(
        3,
        32,
        32,
    ),
    prefix='SWD',
    sample_model='orig',
    type='SWD')
test_cfg = dict(type='MultiTestLoop')
test_dataloader = dict(
    batch_size=100,
    dataset=dict(
        data_prefix=dict(gt='val'),
        data_root='/work/main/data/fashion_mnist',
        indices=2000,
        pipeline=[
            dict(color_type='color', key='gt', type='LoadImageOrSkip'),
            dict(type='PackInputs'),
        ],
        type='BasicImageDataset'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test_evaluator = dict(
    metrics=[
        dict(
            fake_nums=2000,
            prefix='FID',
            real_nums=2000,
            sample_model='orig',
            type='OfflineFrechetInceptionDistance'),
        dict(
            fake_nums=2000,
            image_shape=(
                3,
                32,
                32,
            ),
            prefix='SWD',
            sample_model='orig',
            type='SWD'),
        dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='PSNR'),
        dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='SSIM'),
        dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='MSE'),
    ],
    type='Evaluator')
train_cfg = dict(by_epoch=False, max_iters=3000, val_begin=3001)
train_dataloader = dict(
    batch_size=64,
    dataset=dict(
        ann_file='/work/main/work_dirs/study_cpu/splits/fit.txt',
        data_prefix=dict(gt='train'),
        data_root='/work/main/data/fashion_mnist',
        pipeline=[
            dict(
                color_type='color',
                key='gt',
                on_error='skip',
                type='LoadImageOrSkip'),
            dict(direction='horizontal', keys=[
                'gt',
            ], type='Flip'),
            dict(type='PackInputs'),
        ],
        type='BasicImageDataset'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(shuffle=True, type='InfiniteSampler'))
train_pipeline = [
    dict(
        color_type='color', key='gt', on_error='skip', type='LoadImageOrSkip'),
    dict(direction='horizontal', keys=[
        'gt',
    ], type='Flip'),
    dict(type='PackInputs'),
]
val_cfg = dict(type='MultiValLoop')
val_dataloader = dict(
    batch_size=100,
    dataset=dict(
        data_prefix=dict(gt='val'),
        data_root='/work/main/data/fashion_mnist',
        indices=2000,
        pipeline=[
            dict(color_type='color', key='gt', type='LoadImageOrSkip'),
            dict(type='PackInputs'),
        ],
        type='BasicImageDataset'),
    num_workers=1,
    persistent_workers=True,
    sampler=dict(shuffle=False, type='DefaultSampler'))
val_evaluator = dict(
    metrics=[
        dict(
            fake_nums=2000,
            prefix='FID',
            real_nums=2000,
            sample_model='orig',
            type='OfflineFrechetInceptionDistance'),
        dict(
            fake_nums=2000,
            image_shape=(
                3,
                32,
                32,
            ),
            prefix='SWD',
            sample_model='orig',
            type='SWD'),
        dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='PSNR'),
        dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='SSIM'),
        dict(gt_key='gt_img', pred_key='pred_img', prefix='rec', type='MSE'),
    ],
    type='Evaluator')
val_pipeline = [
    dict(color_type='color', key='gt', type='LoadImageOrSkip'),
    dict(type='PackInputs'),
]
vis_backends = [
    dict(type='VisBackend'),
    dict(type='TensorboardVisBackend'),
]
visualizer = dict(
    name='visualizer',
    type='Visualizer',
    vis_backends=[
        dict(type='VisBackend'),
        dict(type='TensorboardVisBackend'),
    ])
work_dir = 'work_dirs/study_cpu/iters3000/vae/seed2'
