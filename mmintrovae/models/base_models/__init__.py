"""The base class IntroVAE and Soft-IntroVAE share."""
from .base_introspective_vae import (BaseIntrospectiveVAE, ModelType,
                                     WarmupWeights)
from .vae_inference import VAEInference

__all__ = [
    'BaseIntrospectiveVAE', 'ModelType', 'VAEInference', 'WarmupWeights'
]
