"""IntroVAE: the model, its encoder and decoder."""
from .introvae import IntroVAE
from .introvae_decoder import IntroVAEDecoder
from .introvae_encoder import IntroVAEEncoder
from .introvae_inference import IntroVAEInferenceMixin, reparameterize
from .introvae_modules import IntroVAEResBlock, SoftIntroVAEResBlock
from .introvae_weights import IntroVAEWeights, SoftIntroVAEWeights
from .soft_introvae_step import SoftIntroVAEObjectiveMixin

__all__ = [
    'IntroVAE', 'IntroVAEDecoder', 'IntroVAEEncoder', 'IntroVAEResBlock',
    'IntroVAEWeights', 'IntroVAEInferenceMixin', 'SoftIntroVAEWeights',
    'SoftIntroVAEObjectiveMixin', 'SoftIntroVAEResBlock', 'reparameterize'
]
