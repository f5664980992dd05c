# 3,000 synthetic 64x64 faces that `tools/make_demo_data.py` draws
# (deterministic, no download; 2,700 train, 300 val), with metrics on the
# 300 held-out images: samples against real images (FID, SWD, MS-SSIM among
# samples) and reconstructions against their originals (PSNR/SSIM/MSE).
# The pipelines, loaders and metrics are image_folder.py's, edited below.
_base_ = ['./image_folder.py']

data_root = 'data/synthetic_faces'
image_size = 64
num_eval = 300

train_pipeline, val_pipeline = _base_.train_pipeline, _base_.val_pipeline
train_pipeline[1].scale = (image_size, image_size)  # the Resize,
train_pipeline[1].pop('interpolation')  # with mmagic's default (bilinear)
val_pipeline[1] = train_pipeline[1]
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=val_pipeline))
test_dataloader = val_dataloader

fid, swd, ms_ssim, *reconstruction = _base_.metrics
fid.update(prefix='FID', real_nums=num_eval)
swd.image_shape = (3, image_size, image_size)
for_samples = dict(fake_nums=num_eval, sample_model='orig')
metrics = [
    dict(fid, **for_samples),
    dict(swd, **for_samples),
    dict(ms_ssim, **for_samples), *reconstruction
]
val_evaluator = dict(metrics=metrics)
test_evaluator = val_evaluator
