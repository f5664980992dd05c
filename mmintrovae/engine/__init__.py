"""Runner-side helpers of mmintrovae."""
from .safe_checkpoint import (SAFE_GLOBAL_NAMES, CheckpointLoadError,
                              CorruptCheckpointError, UnsafeCheckpointError,
                              install_safe_globals, install_safe_local_loader,
                              load_checkpoint_safely, trusted_globals)

__all__ = [
    'SAFE_GLOBAL_NAMES', 'CheckpointLoadError', 'CorruptCheckpointError',
    'UnsafeCheckpointError', 'install_safe_globals',
    'install_safe_local_loader', 'load_checkpoint_safely', 'trusted_globals'
]
