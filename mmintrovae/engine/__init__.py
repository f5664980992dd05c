"""Runner-side helpers of mmintrovae: hooks, wrapper, checkpoints."""
from .model_wrapper import IntroVAEDistributedWrapper
from .safe_checkpoint import (SAFE_GLOBAL_NAMES, CheckpointLoadError,
                              CorruptCheckpointError, UnsafeCheckpointError,
                              install_safe_globals, install_safe_local_loader,
                              load_checkpoint_safely, trusted_globals)
from .stability_guard_hook import (IntroVAEStabilityGuardHook,
                                   TrainingDivergedError)
from .visualization_hook import IntroVAEVisualizationHook

__all__ = [
    'IntroVAEDistributedWrapper', 'IntroVAEStabilityGuardHook',
    'IntroVAEVisualizationHook', 'TrainingDivergedError', 'SAFE_GLOBAL_NAMES',
    'CheckpointLoadError', 'CorruptCheckpointError', 'UnsafeCheckpointError',
    'install_safe_globals', 'install_safe_local_loader',
    'load_checkpoint_safely', 'trusted_globals'
]
