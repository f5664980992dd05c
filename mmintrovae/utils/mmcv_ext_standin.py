"""A stand-in for mmcv's compiled ops, for mmcv installed without them.

mmagic 1.2.0 imports ``mmcv.ops`` whenever ``mmagic.models`` is imported,
and every module of ``mmcv.ops`` loads the compiled extension ``mmcv._ext``
at import time (``mmcv.utils.ext_loader.load_ext``). IntroVAE calls none of
those ops, but building them takes about 15 minutes on 2 cores. So the
set-up installs ``mmcv-lite`` 2.1.0 (mmcv 2.1.0's Python code, what
OpenMMLab ships without ops) and lets this module answer for ``mmcv._ext``.

How it is active: ``tools/setup_env.sh`` writes ``mmintrovae-mmcv-ext.pth``
into the environment's site-packages; Python runs that file's ``import``
line at every start (``python tools/train.py``, ``python -c ...``, pytest,
every ``torchrun`` worker, the page), which loads this file by its path
(without importing the ``mmintrovae`` package) and calls :func:`install`.
Nothing inside mmcv's installed package is edited.

What it does: :func:`install` appends a finder to the *end* of
``sys.meta_path``. Python asks it about ``mmcv._ext`` only after every
ordinary finder failed to find a real extension, so with mmcv's compiled
ops installed (``make setup MMCV_OPS=1``) the stand-in is never used. When
it is, ``mmcv._ext`` is a module whose every attribute is a function that
raises :class:`MissingMMCVOpError`, naming the op and the command that
builds the ops; importing ``mmcv.ops`` (and so ``mmagic.models``) works,
calling an op fails loudly. Only mmcv's two version queries answer.

This file must not import torch, mmcv or mmintrovae: it runs at every
interpreter start.
"""
import importlib.abc
import importlib.util
import sys
import types
from typing import Callable, Optional, Sequence

__all__ = [
    'MissingMMCVOpError', 'MMCVExtStandInFinder', 'install', 'is_standin'
]

EXT_NAME = 'mmcv._ext'
BUILD_COMMAND = 'make setup MMCV_OPS=1'
_NOT_BUILT = 'n/a (mmcv installed without its compiled ops)'
# mmcv.ops.info's queries; mmcv.utils.collect_env reports them.
_INFO = ('get_compiler_version', 'get_compiling_cuda_version')


class MissingMMCVOpError(RuntimeError):
    """An mmcv op was called, but mmcv has no compiled ops here."""


def _missing_op(name: str) -> Callable:
    """A function standing for the compiled op ``name``: it raises."""

    def op(*args, **kwargs):
        raise MissingMMCVOpError(
            f"mmcv op '{name}' is not available: mmcv 2.1.0 was installed "
            "without its compiled ops (mmcv-lite, mmintrovae's default "
            'set-up), and mmcv._ext is only a stand-in. IntroVAE needs no '
            'mmcv op; to build them (about 15 minutes on 2 cores, kept in '
            f'the wheel cache afterwards) run: {BUILD_COMMAND}')

    op.__name__ = op.__qualname__ = name
    return op


class _StandInExtension(types.ModuleType):
    """``mmcv._ext`` without the compiled code: any op name is a function
    that raises :class:`MissingMMCVOpError`."""

    mmintrovae_standin = True

    def __getattr__(self, name: str) -> Callable:
        if name.startswith('__'):
            raise AttributeError(name)
        if name in _INFO:
            value = lambda: _NOT_BUILT  # noqa: E731
        else:
            value = _missing_op(name)
        setattr(self, name, value)
        return value


class _StandInLoader(importlib.abc.Loader):
    """Creates the stand-in module."""

    def create_module(self, spec) -> types.ModuleType:
        """Returns a new stand-in ``mmcv._ext``."""
        return _StandInExtension(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to execute: the module answers through ``__getattr__``."""


class MMCVExtStandInFinder(importlib.abc.MetaPathFinder):
    """Finds the stand-in for ``mmcv._ext``, and nothing else.

    Must sit last in ``sys.meta_path`` (:func:`install` puts it there): it
    is then consulted only when no real extension was found.
    """

    def find_spec(self,
                  fullname: str,
                  path: Optional[Sequence[str]],
                  target: Optional[types.ModuleType] = None):
        """The stand-in's spec for ``mmcv._ext``; None for other names."""
        if fullname != EXT_NAME:
            return None
        return importlib.util.spec_from_loader(
            fullname, _StandInLoader(), origin='mmintrovae stand-in')


def install() -> None:
    """Appends the finder to ``sys.meta_path`` (once; the ``.pth`` file and
    an import of this module by its package name load separate copies)."""
    if not any(
            type(f).__name__ == MMCVExtStandInFinder.__name__
            for f in sys.meta_path):
        sys.meta_path.append(MMCVExtStandInFinder())


def is_standin(module: types.ModuleType) -> bool:
    """Whether ``module`` (e.g. ``mmcv._ext``) is this stand-in.

    Args:
        module (module): An imported module.

    Returns:
        bool: True for the stand-in, False for mmcv's compiled extension.
    """
    return bool(getattr(module, 'mmintrovae_standin', False))
