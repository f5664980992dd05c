# IntroVAE on LSUN bedrooms (or any folder of scene images) at 256x256:
# introvae_celeba-256.py on another folder, nothing else changed (so it
# inherits that config). Put images (PNG/JPEG, any size; they are resized,
# not cropped) in data/lsun_bedroom/256/{train,val}.
_base_ = ['./introvae_celeba-256.py']

data_root = 'data/lsun_bedroom/256'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
