# Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando Research, MIT licence)
# as 32x32 RGB PNGs in data/fashion_mnist/{train,val}: 60,000 training and
# 10,000 held-out photos of clothes, written by tools/prepare_fashion_mnist.py
# from Debian's dataset-fashion-mnist package (`make data`). The 28x28 grey
# originals are padded by 2 px and their channel is repeated: no resizing.
# The loaders and metrics are image_folder.py's, edited below.
_base_ = ['./image_folder.py']

data_root = 'data/fashion_mnist'
image_size = 32
num_eval = 2000  # held-out images for every metric (the first of val/)

# Load (skipping unreadable files), flip, pack: the base's without Resize.
load, _, flip, pack = _base_.train_pipeline
train_pipeline = [load, flip, pack]
val_pipeline = [_base_.val_pipeline[0], pack]

train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=100,
    num_workers=1,
    dataset=dict(
        data_root=data_root, indices=num_eval, pipeline=val_pipeline))
test_dataloader = val_dataloader

# Samples of the trained decoder against the held-out images (FID, SWD) and
# reconstructions of them against their originals (PSNR/SSIM/MSE); MS-SSIM
# needs >= 176 px.
fid, swd, _, *reconstruction = _base_.metrics
fid.update(prefix='FID', fake_nums=num_eval, real_nums=num_eval)
swd.update(fake_nums=num_eval, image_shape=(3, image_size, image_size))
fid.sample_model = swd.sample_model = 'orig'
metrics = [fid, swd, *reconstruction]
val_evaluator = dict(metrics=metrics)
test_evaluator = val_evaluator
