"""mmintrovae's pluggy plugin system."""
from .hookspecs import hookimpl, hookspec
from .manager import (PluginError, call_hook, config_dirs, config_presets,
                      get_plugin_manager, register_all_modules, resolve_config)

__all__ = [
    'hookimpl', 'hookspec', 'PluginError', 'call_hook', 'config_dirs',
    'config_presets', 'get_plugin_manager', 'register_all_modules',
    'resolve_config'
]
