"""The plugin manager: loads the built-in and installed plugins."""
import os.path as osp
from typing import Dict, List, Optional

import pluggy

from . import hookspecs

_manager: Optional[pluggy.PluginManager] = None


class PluginError(RuntimeError):
    """A plugin's hook implementation failed; the message names the plugin."""


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created on first use.

    It registers mmintrovae's built-in plugin, then every setuptools entry
    point of the group ``mmintrovae`` (installed plugin packages).

    Returns:
        pluggy.PluginManager: The manager.
    """
    global _manager
    if _manager is None:
        manager = pluggy.PluginManager(hookspecs.PROJECT)
        manager.add_hookspecs(hookspecs)
        from . import builtin
        manager.register(builtin, name='mmintrovae.builtin')
        try:
            manager.load_setuptools_entrypoints(hookspecs.PROJECT)
        except Exception as err:  # an entry point that fails to import
            raise PluginError(
                'Loading the installed mmintrovae plugins (setuptools entry '
                f"points of the group '{hookspecs.PROJECT}') failed: "
                f'{type(err).__name__}: {err}. Uninstall or fix the plugin '
                'package named in the traceback.') from err
        _manager = manager
    return _manager


def _failing_plugin(manager: pluggy.PluginManager, name: str,
                    err: BaseException) -> str:
    """The plugin whose implementation of ``name`` raised ``err``."""
    codes = {
        impl.function.__code__: impl.plugin_name
        for impl in getattr(manager.hook, name).get_hookimpls()
    }
    tb, plugin = err.__traceback__, 'unknown'
    while tb is not None:
        plugin = codes.get(tb.tb_frame.f_code, plugin)
        tb = tb.tb_next
    return plugin


def call_hook(name: str, **kwargs) -> list:
    """Calls a hook through pluggy, naming the plugin on failure.

    The built-in plugin's implementations are marked ``tryfirst``, so its
    result comes first and installed plugins can extend or override it.

    Args:
        name (str): The hook's name, e.g. ``'mmintrovae_config_dirs'``.
        **kwargs: The hook's arguments.

    Returns:
        list: The non-None results (pluggy's), built-in plugin first.

    Raises:
        PluginError: If an implementation raises.
    """
    manager = get_plugin_manager()
    try:
        return getattr(manager.hook, name)(**kwargs)
    except Exception as err:
        plugin = _failing_plugin(manager, name, err)
        raise PluginError(
            f"mmintrovae plugin '{plugin}' failed in its hook {name}: "
            f'{type(err).__name__}: {err}') from err


_registered = False


def register_all_modules() -> None:
    """Runs ``mmintrovae_register_modules`` of every installed plugin, once.

    mmintrovae's own modules need no call: importing the package registers
    them (``mmintrovae/__init__.py``), and it calls this for the plugins.
    """
    global _registered
    if _registered:
        return
    from mmagic import registry
    call_hook('mmintrovae_register_modules', registries=registry)
    _registered = True


def config_dirs() -> List[str]:
    """All config directories the plugins contribute."""
    return [d for dirs in call_hook('mmintrovae_config_dirs') for d in dirs]


def config_presets() -> Dict[str, str]:
    """All config presets the plugins contribute (later ones win)."""
    presets: Dict[str, str] = {}
    for found in call_hook('mmintrovae_config_presets'):
        presets.update(found)
    return presets


def resolve_config(name: str) -> str:
    """Finds a config: a file path, a preset name, or a name in a config dir.

    Args:
        name (str): What the user typed.

    Returns:
        str: The config file's path.

    Raises:
        FileNotFoundError: With the places that were searched.
    """
    if osp.isfile(name):
        return name
    presets = config_presets()
    if name in presets:
        return presets[name]
    dirs = config_dirs()
    for directory in dirs:
        for candidate in (name, name + '.py'):
            path = osp.join(directory, candidate)
            if osp.isfile(path):
                return path
    raise FileNotFoundError(
        f'Config {name!r} is neither a file, nor a preset '
        f'({sorted(presets) or "none"}), nor found in the plugins\' config '
        f'directories {dirs}.')
