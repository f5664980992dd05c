"""Runner-side helpers of mmintrovae: hooks, wrapper, checkpoints."""
from .bf16_optim_wrapper import BF16OptimWrapper
from .deferred_runtime_info_hook import DeferredRuntimeInfoHook
from .model_wrapper import IntroVAEDistributedWrapper
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state
from .safe_checkpoint import (SAFE_GLOBAL_NAMES, CheckpointLoadError,
                              CorruptCheckpointError, UnsafeCheckpointError,
                              install_safe_globals, install_safe_local_loader,
                              load_checkpoint_safely)
from .stability_guard_hook import (IntroVAEStabilityGuardHook,
                                   TrainingDivergedError)
from .visualization_hook import IntroVAEVisualizationHook

__all__ = [
    'BF16OptimWrapper', 'DeferredRuntimeInfoHook', 'RNGStateHook',
    'get_rng_state', 'set_rng_state', 'IntroVAEDistributedWrapper',
    'IntroVAEStabilityGuardHook', 'IntroVAEVisualizationHook',
    'TrainingDivergedError', 'SAFE_GLOBAL_NAMES', 'CheckpointLoadError',
    'CorruptCheckpointError', 'UnsafeCheckpointError', 'install_safe_globals',
    'install_safe_local_loader', 'load_checkpoint_safely'
]
