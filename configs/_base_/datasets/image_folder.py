# A folder of images (PNG/JPEG) read by mmagic's BasicImageDataset and its
# transforms. Configs set data_root and write their pipelines out with their
# own image size (values computed here would not follow a child's size).
dataset_type = 'BasicImageDataset'
data_root = None  # e.g. 'data/celeba_hq/256'

train_pipeline = [
    dict(
        type='LoadImageOrSkip', key='gt', color_type='color',
        on_error='skip'),  # log and skip unreadable files
    dict(type='Resize', keys='gt', scale=(256, 256), interpolation='bicubic'),
    dict(type='Flip', keys=['gt'], direction='horizontal'),
    dict(type='PackInputs'),
]
val_pipeline = [
    dict(type='LoadImageOrSkip', key='gt', color_type='color'),
    dict(type='Resize', keys='gt', scale=(256, 256), interpolation='bicubic'),
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
