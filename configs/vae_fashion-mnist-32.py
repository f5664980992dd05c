# The baseline of `make study`: introvae_fashion-mnist-32.py with alpha = 0,
# nothing else changed (so it inherits that config): a plain VAE with the
# same networks, data, budget and seed (the encoder-as-discriminator terms
# are off, L = L_REG + beta * L_AE throughout).
_base_ = ['./introvae_fashion-mnist-32.py']

model = dict(alpha=0.)
