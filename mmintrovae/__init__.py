"""mmintrovae: IntroVAE (Huang et al., NeurIPS 2018) as an mmagic plugin.

Importing this package registers its models, losses, hooks and metrics into
mmagic's registries (one way: the classes' ``register_module`` decorators,
run by the imports below; a config's ``custom_imports=['mmintrovae']`` is
this import), then lets installed mmintrovae plugins register theirs, so
configs with ``default_scope = 'mmagic'`` can name them. It also
allow-lists the classes mmengine's checkpoints hold for torch's safe
loading (and routes mmengine's local checkpoint loading through it).
"""
from . import datasets, engine, evaluation, models  # noqa: F401
from .engine.safe_checkpoint import install_safe_local_loader
from .plugins import register_all_modules
from .version import __version__

register_all_modules()
# Lets mmengine resume its own checkpoints under torch's weights_only=True
# (an allow-list of the few classes they hold; no unsafe unpickling), with
# clear errors for damaged files and refused classes.
install_safe_local_loader()

__all__ = ['__version__', 'register_all_modules']
