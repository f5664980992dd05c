"""IntroVAE and Soft-IntroVAE: the models, their encoder and decoder."""
from .introvae import IntroVAE
from .introvae_decoder import IntroVAEDecoder
from .introvae_encoder import IntroVAEEncoder
from .introvae_modules import IntroVAEResBlock, SoftIntroVAEResBlock
from .introvae_weights import IntroVAEWeights, SoftIntroVAEWeights
from .soft_introvae import SoftIntroVAE

__all__ = [
    'IntroVAE', 'IntroVAEDecoder', 'IntroVAEEncoder', 'IntroVAEResBlock',
    'IntroVAEWeights', 'SoftIntroVAE', 'SoftIntroVAEWeights',
    'SoftIntroVAEResBlock'
]
