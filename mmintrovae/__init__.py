"""mmintrovae: IntroVAE (Huang et al., NeurIPS 2018) as an mmagic plugin.

Importing this package registers its models, losses, hooks and metrics (and
those of installed mmintrovae plugins) into mmagic's registries, so configs
with ``default_scope = 'mmagic'`` can name them.
"""
from .plugins import register_all_modules
from .version import __version__

register_all_modules()

__all__ = ['__version__', 'register_all_modules']
