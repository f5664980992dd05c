"""Loss modules of mmintrovae, registered in mmagic's ``MODELS``."""
from .exp_elbo_loss import ExpELBOLoss
from .kl_loss import GaussianKLLoss, gaussian_kl
from .loss_comps import MarginHingeLossComps
from .margin_loss import MarginHingeLoss

__all__ = [
    'ExpELBOLoss', 'GaussianKLLoss', 'MarginHingeLoss', 'gaussian_kl',
    'MarginHingeLossComps'
]
