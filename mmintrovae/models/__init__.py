"""Models and losses of mmintrovae, registered in mmagic's ``MODELS``."""
from .data_preprocessors import BatchedDataPreprocessor
from .introvae import (IntroVAE, IntroVAEDecoder, IntroVAEEncoder,
                       IntroVAEResBlock, IntroVAEWeights, SoftIntroVAE)
from .losses import GaussianKLLoss, MarginHingeLoss

__all__ = [
    'BatchedDataPreprocessor', 'IntroVAE', 'IntroVAEDecoder',
    'IntroVAEEncoder', 'IntroVAEResBlock', 'IntroVAEWeights', 'SoftIntroVAE',
    'GaussianKLLoss', 'MarginHingeLoss'
]
