# IntroVAE on LSUN bedrooms (or any folder of scene images) at 256x256,
# with the CelebA-HQ 256 settings. Put images (PNG/JPEG, any size; they are
# resized, not cropped) in data/lsun_bedroom/256/{train,val}.
_base_ = ['./introvae_celeba-256.py']

data_root = 'data/lsun_bedroom/256'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
