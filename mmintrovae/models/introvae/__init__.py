"""IntroVAE: the model, its encoder and decoder."""
from .introvae import IntroVAE, reparameterize
from .introvae_decoder import IntroVAEDecoder
from .introvae_encoder import IntroVAEEncoder
from .introvae_modules import IntroVAEResBlock
from .introvae_weights import IntroVAEWeights

__all__ = [
    'IntroVAE', 'IntroVAEDecoder', 'IntroVAEEncoder', 'IntroVAEResBlock',
    'IntroVAEWeights', 'reparameterize'
]
