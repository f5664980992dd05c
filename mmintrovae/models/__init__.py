"""Models and losses of mmintrovae, registered in mmagic's ``MODELS``."""
from .introvae import (IntroVAE, IntroVAEDecoder, IntroVAEEncoder,
                       IntroVAEResBlock, IntroVAEWeights)
from .losses import GaussianKLLoss, MarginHingeLoss

__all__ = [
    'IntroVAE', 'IntroVAEDecoder', 'IntroVAEEncoder', 'IntroVAEResBlock',
    'IntroVAEWeights', 'GaussianKLLoss', 'MarginHingeLoss'
]
