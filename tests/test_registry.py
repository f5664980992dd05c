"""The project's modules are in mmagic's registries after import."""
import mmagic.models  # noqa: F401
from mmagic.registry import HOOKS, METRICS, MODEL_WRAPPERS, MODELS, TRANSFORMS

import mmintrovae  # noqa: F401


def test_project_modules_are_registered_in_mmagic():
    for name in ('IntroVAE', 'IntroVAEEncoder', 'IntroVAEDecoder',
                 'GaussianKLLoss', 'MarginHingeLoss', 'ExpELBOLoss',
                 'MarginHingeLossComps'):
        assert MODELS.get(name) is not None, name
    assert MODELS.get('IntroVAE').__module__.startswith('mmintrovae.')
    # Removed (no config or mmagic model used it): issue 27.
    assert MODELS.get('KLPriorLossComps') is None
    assert HOOKS.get('IntroVAEVisualizationHook') is not None
    assert HOOKS.get('IntroVAEStabilityGuardHook') is not None
    assert HOOKS.get('RNGStateHook') is not None
    assert METRICS.get('OfflineFrechetInceptionDistance') is not None
    assert TRANSFORMS.get('LoadImageOrSkip') is not None
    assert MODEL_WRAPPERS.get('IntroVAEDistributedWrapper') is not None
    # mmagic's own modules are still there beside ours.
    assert MODELS.get('MSELoss') is not None
