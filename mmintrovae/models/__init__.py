"""Models and losses of mmintrovae, registered in mmagic's ``MODELS``."""
from .base_models import BaseIntrospectiveVAE
from .data_preprocessors import BatchedDataPreprocessor
from .introvae import (IntroVAE, IntroVAEDecoder, IntroVAEEncoder,
                       IntroVAEResBlock, IntroVAEWeights, SoftIntroVAE)
from .losses import GaussianKLLoss, MarginHingeLoss
from .sync_batchnorm import SyncBatchNorm2d, convert_sync_batchnorm

__all__ = [
    'BaseIntrospectiveVAE', 'BatchedDataPreprocessor', 'IntroVAE',
    'IntroVAEDecoder', 'IntroVAEEncoder', 'IntroVAEResBlock',
    'IntroVAEWeights', 'SoftIntroVAE', 'GaussianKLLoss', 'MarginHingeLoss',
    'SyncBatchNorm2d', 'convert_sync_batchnorm'
]
