"""The hooks a mmintrovae plugin can implement (the plugin contract).

A plugin is a module or object with functions decorated by
``mmintrovae.plugins.hookimpl`` and named as below. Third-party packages
expose it through a setuptools entry point in the group ``mmintrovae``::

    # pyproject.toml of a plugin package
    [project.entry-points.mmintrovae]
    my_plugin = "my_package.mmintrovae_plugin"

mmintrovae's own configs come through these hooks too (its built-in
plugin, ``mmintrovae.plugins.builtin``); its own modules register
themselves with their decorators when the package is imported.
"""
from types import ModuleType
from typing import Dict, List

import pluggy

PROJECT = 'mmintrovae'
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def mmintrovae_register_modules(registries: ModuleType) -> None:
    """Registers modules into mmagic's registries before configs are built.

    Called once, when ``mmintrovae`` is imported (``tools/train.py`` and
    ``tools/test.py`` import it), so a config can name the modules by
    ``type=`` with ``default_scope = 'mmagic'``.

    Args:
        registries (module): ``mmagic.registry``; use e.g.
            ``registries.MODELS.register_module(module=MyEncoder)`` or import
            a module whose classes carry ``@MODELS.register_module()``.
    """


@hookspec
def mmintrovae_config_dirs() -> List[str]:
    """Directories of config files the tools can find by name.

    ``python tools/train.py NAME`` looks for ``NAME`` (with or without
    ``.py``) in these directories when it is not a path to a file.

    Returns:
        list[str]: Absolute directory paths.
    """


@hookspec
def mmintrovae_config_presets() -> Dict[str, str]:
    """Named config presets: a name and the config file it stands for.

    Returns:
        dict[str, str]: Preset name to an absolute config file path.
    """
