# The baseline of `make study`: the networks, data, budget and seed of
# introvae_fashion-mnist-32.py trained as a plain VAE (alpha = 0: the
# encoder-as-discriminator terms are off, L = L_REG + beta * L_AE throughout).
_base_ = ['./introvae_fashion-mnist-32.py']

model = dict(alpha=0.)
