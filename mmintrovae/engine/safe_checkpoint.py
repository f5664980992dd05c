"""Loading mmengine / mmagic Runner checkpoints with ``weights_only=True``.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: it only
rebuilds tensors, containers and the globals on an allow-list, and refuses
any other class or function a pickle names. mmengine 0.10.7 calls
``torch.load(filename, map_location=...)`` without ``weights_only``
(``mmengine.runner.checkpoint.load_from_local`` and the other
``CheckpointLoader`` schemes, reached from ``Runner.resume``,
``Runner.load_checkpoint`` and ``load_checkpoint``), so the torch default
applies and resuming a Runner's own checkpoint fails: its ``message_hub``
holds ``HistoryBuffer`` objects with numpy arrays, and numpy scalars.

mmengine 0.11 answers this with ``weights_only=False``, which runs whatever
code a pickle asks for. This module keeps ``weights_only=True`` and instead
allow-lists the few globals that Runner checkpoints actually contain
(:data:`SAFE_GLOBAL_NAMES`, found by saving real Runner checkpoints and
asking ``torch.serialization.get_unsafe_globals_in_checkpoint``):

* ``mmengine.logging.history_buffer.HistoryBuffer``, plus its statistics
  methods ``min``/``max``/``current``/``mean``: ``HistoryBuffer.__getstate__``
  pickles its class-level ``_statistics_methods`` dict, and pickle spells a
  method as ``getattr(HistoryBuffer, 'min')``;
* ``builtins.getattr``, bound NOT to the builtin but to
  :func:`_allowlisted_getattr`, which only returns class attributes that
  are themselves on the allow-list (so exactly those four methods);
* numpy arrays and scalars: ``numpy.core.multiarray._reconstruct``,
  ``numpy.ndarray``, ``numpy.dtype``, ``numpy.core.multiarray.scalar``
  (under both the numpy 1 and numpy 2 module spellings), and the numeric,
  bool, str and bytes dtype classes, which the unpickler checks when it
  sets a dtype's state (object, void and datetime dtypes stay refused);
* ``mmengine.config.config.ConfigDict``: a dataset's ``metainfo`` that
  came from a config keeps its nested dicts as ``ConfigDict``, and the
  Runner saves it in ``meta['dataset_meta']`` and the message hub.

``collections.OrderedDict`` and ``collections.Counter`` (a ``MultiStepLR``'s
milestones) are on torch's own default list.

Anything else is refused. For a trusted checkpoint that holds other objects
(an old one, or one of another project), allow-list them explicitly with
``torch.serialization.add_safe_globals([...])`` (e.g. in a module that the
config's ``custom_imports`` imports) or ``extra_safe_globals=`` of
:func:`load_checkpoint_safely`. There is no switch back to unsafe loading.

Importing ``mmintrovae`` calls :func:`install_safe_local_loader`, so every
local checkpoint mmengine reads (``--resume``, ``load_from``, the tools'
``CHECKPOINT``) goes through :func:`load_checkpoint_safely`: a damaged file
or a refused global gives an error that names the file and the way out.
"""
import inspect
import os
import os.path as osp
import pickle
import re
import zipfile
import zlib
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.logging.history_buffer import HistoryBuffer

__all__ = [
    'SAFE_GLOBAL_NAMES', 'CheckpointLoadError', 'CorruptCheckpointError',
    'UnsafeCheckpointError', 'install_safe_globals', 'load_checkpoint_safely',
    'install_safe_local_loader'
]

_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')

# numpy dtype classes that may be rebuilt (numpy >= 1.25 gives each dtype its
# own class; before that they are all ``numpy.dtype``). '?': bool, b..Q:
# integers, e..g: floats, F..G: complex, S: bytes, U: str.
_DTYPE_CHARS = '?bBhHiIlLqQefdgFDGSU'


class CheckpointLoadError(RuntimeError):
    """A checkpoint could not be loaded; the message names the file."""


class CorruptCheckpointError(CheckpointLoadError):
    """The checkpoint file is truncated or corrupt (not a refusal)."""


class UnsafeCheckpointError(CheckpointLoadError, pickle.UnpicklingError):
    """``weights_only`` loading refused a global that is not allow-listed.

    Attributes:
        filename (str): The checkpoint that was refused.
        rejected (str or None): The global (``module.qualname``) or type that
            torch refused, when its message names one.
        unsafe_globals (list[str]): Every global in the file's pickle that is
            not allow-listed (a static scan; empty when it is not possible).
    """

    def __init__(self, message: str, filename: str, rejected: Optional[str],
                 unsafe_globals: List[str]):
        super().__init__(message)
        self.filename = filename
        self.rejected = rejected
        self.unsafe_globals = unsafe_globals


def _numpy_multiarray():
    """Returns numpy's ``multiarray`` module without numpy 2's warning."""
    if int(np.__version__.split('.')[0]) >= 2:
        from numpy._core import multiarray
    else:
        from numpy.core import multiarray
    return multiarray


def _allowlisted_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as the weights_only unpickler may call it.

    Pickle (protocol 2, which ``torch.save`` uses) writes a function whose
    ``__qualname__`` is dotted, such as ``HistoryBuffer.min``, as
    ``getattr(HistoryBuffer, 'min')``. Allow-listing the builtin ``getattr``
    would let a pickle reach any attribute of any allow-listed object (a
    function's ``__globals__``, for one); this one only returns attributes
    of a class that are themselves allow-listed.
    """
    allowed = _user_allowed_objects()
    if isinstance(obj, type) and isinstance(name, str):
        try:
            attr = inspect.getattr_static(obj, name)
        except AttributeError:
            attr = None
        if attr is not None and _is_in(attr, allowed):
            return getattr(obj, name)
    owner = (f'{obj.__module__}.{obj.__qualname__}'
             if isinstance(obj, type) else type(obj).__name__ + ' instance')
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL {owner}.{name} was not an allowed '
        f'global by default (the checkpoint asks for getattr({owner}, '
        f'{name!r}); only allow-listed class attributes are resolved).')


def _is_in(obj: Any, objects: Iterable[Any]) -> bool:
    """``obj in objects`` by identity (numpy dtypes compare equal loosely)."""
    return any(obj is o for o in objects)


def _user_allowed_objects() -> List[Any]:
    """The objects on torch's user allow-list (``add_safe_globals``)."""
    return [
        g[0] if isinstance(g, tuple) else g
        for g in torch.serialization.get_safe_globals()
    ]


def _safe_globals() -> List[Tuple[Callable, str]]:
    """The allow-list, as ``(object, 'module.qualname in the pickle')``."""
    multiarray = _numpy_multiarray()
    entries: List[Tuple[Callable, str]] = [
        (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
        (_allowlisted_getattr, 'builtins.getattr'),
        (ConfigDict, 'mmengine.config.config.ConfigDict'),
        (np.ndarray, 'numpy.ndarray'),
        (np.dtype, 'numpy.dtype'),
    ]
    for name in _HISTORY_BUFFER_STATISTICS:
        entries.append(
            (getattr(HistoryBuffer, name),
             f'mmengine.logging.history_buffer.HistoryBuffer.{name}'))
    # numpy 1 pickles name numpy.core.multiarray, numpy 2 numpy._core.*;
    # either version can read the other's files.
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries.append((multiarray._reconstruct, f'{module}._reconstruct'))
        entries.append((multiarray.scalar, f'{module}.scalar'))
    for char in _DTYPE_CHARS:
        dtype_cls = type(np.dtype(char))
        if dtype_cls is not np.dtype:
            entries.append(
                (dtype_cls,
                 f'{dtype_cls.__module__}.{dtype_cls.__qualname__}'))
    return entries


#: The names (as they appear in a checkpoint's pickle) on the allow-list.
SAFE_GLOBAL_NAMES: Tuple[str, ...] = tuple(
    sorted({name
            for _, name in _safe_globals()}))


def install_safe_globals() -> None:
    """Allow-lists the globals of mmengine/mmagic Runner checkpoints.

    Registers :data:`SAFE_GLOBAL_NAMES` with
    ``torch.serialization.add_safe_globals``, so that ``torch.load`` with
    ``weights_only=True`` (the default since torch 2.6, and what mmengine's
    ``Runner.resume`` / ``load_checkpoint`` get) can read them. Idempotent:
    torch keeps the allow-list as a set, and the entries are the same
    objects on every call; calling it again after
    ``torch.serialization.clear_safe_globals()`` puts them back.
    """
    current = set(torch.serialization.get_safe_globals())
    missing = [g for g in _safe_globals() if g not in current]
    if missing:
        torch.serialization.add_safe_globals(missing)


_GLOBAL_PATTERNS = (
    re.compile(r'GLOBAL (\S+) was not an allowed global'),
    re.compile(r'but got <class \'([^\']+)\'>'),
)


def _rejected_global(message: str) -> Optional[str]:
    """The global or type that torch's weights_only error names, if any."""
    for pattern in _GLOBAL_PATTERNS:
        found = pattern.search(message)
        if found:
            return found.group(1).strip()
    return None


def _unsafe_globals_in(filename: str) -> List[str]:
    """Every not-allow-listed global in ``filename``'s pickle (static)."""
    try:
        return sorted(
            torch.serialization.get_unsafe_globals_in_checkpoint(filename))
    except Exception:  # noqa: BLE001  legacy format, or unreadable
        return []


def _corruption(filename: str) -> Optional[str]:
    """Why ``filename`` is not an intact checkpoint, or None if it looks so.

    Checks the zip structure ``torch.save`` writes (central directory, every
    member's CRC); a file that is no zip must at least start like a pickle
    (torch's legacy format).
    """
    size = osp.getsize(filename)
    if size == 0:
        return 'the file is empty (0 bytes)'
    with open(filename, 'rb') as f:
        head = f.read(4)
    if not zipfile.is_zipfile(filename):
        if head[:2] == b'PK':
            return ('the zip archive has no end (central directory): the file '
                    f'({size} bytes) is truncated')
        if head[:1] == b'\x80':
            return None  # maybe the legacy (pre-1.6) pickle format
        return (f'the file ({size} bytes) is neither a zip archive, as '
                'torch.save writes, nor a legacy pickle; it is truncated '
                'or not a checkpoint')
    try:
        with zipfile.ZipFile(filename) as archive:
            bad = archive.testzip()
            if bad is not None:
                return (f'member {bad!r} of the zip archive fails its CRC '
                        'check: the data are corrupt')
            if not any(n.endswith('data.pkl') for n in archive.namelist()):
                return 'the zip archive has no data.pkl: not a torch.save file'
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError,
            ValueError) as e:
        return f'the zip archive is damaged ({type(e).__name__}: {e})'
    return None


def _previous_checkpoints(filename: str) -> List[str]:
    """The other ``*.pth`` files next to ``filename``, newest first."""
    folder = osp.dirname(osp.abspath(filename))
    others = [
        osp.join(folder, n) for n in os.listdir(folder)
        if n.endswith('.pth') and n != osp.basename(filename)
    ]
    return sorted(others, key=osp.getmtime, reverse=True)


def _corrupt_error(filename: str, reason: str,
                   cause: BaseException) -> CorruptCheckpointError:
    """A :class:`CorruptCheckpointError` that suggests what to do next."""
    previous = _previous_checkpoints(filename)
    if previous:
        hint = (f'Resume from the previous checkpoint instead, e.g. '
                f'{previous[0]!r} (pass it as `load_from` with '
                '`resume=True`, or write its path into the work_dir\'s '
                '`last_checkpoint` file), and delete the damaged one.')
    else:
        hint = ('Resume from a previous checkpoint instead (pass it as '
                '`load_from` with `resume=True`), and delete the damaged '
                'one.')
    return CorruptCheckpointError(
        f'Checkpoint {filename!r} is truncated or corrupt: {reason}. It was '
        'probably written by a run that stopped while saving, or copied '
        f'incompletely. {hint} (torch.load said: {type(cause).__name__}: '
        f'{_torch_detail(str(cause))[:300]})')


def _unsafe_error(filename: str,
                  cause: pickle.UnpicklingError) -> UnsafeCheckpointError:
    """An :class:`UnsafeCheckpointError` that says how to allow the global."""
    message = str(cause)
    rejected = _rejected_global(message)
    unsafe = _unsafe_globals_in(filename)
    if rejected is None and unsafe:
        rejected = unsafe[0]
    what = f'`{rejected}`' if rejected else 'an object that is not allowed'
    others = [g for g in unsafe if g != rejected]
    lines = [
        f'Refusing to load checkpoint {filename!r}: it contains {what}, '
        'which is not on the weights_only allow-list '
        '(mmintrovae.engine.safe_checkpoint.SAFE_GLOBAL_NAMES and torch\'s '
        'defaults). Allowing it would let the file create or call such '
        'objects while it is read.'
    ]
    if others:
        lines.append('Other globals in this file that are not allow-listed: ' +
                     ', '.join(others) + '.')
    if 'is blocked' in message:
        lines.append('torch never allows that module in weights_only '
                     'loading: this is no ordinary checkpoint. Do not load '
                     'it.')
    else:
        lines.append(
            'Only if you trust this file, allow-list what it needs before '
            'loading with torch.serialization.add_safe_globals([...]), e.g. '
            'in a module that your config imports through `custom_imports`, '
            'or pass `extra_safe_globals=[...]` to load_checkpoint_safely(). '
            'mmintrovae never falls back to weights_only=False.')
    lines.append(f'(torch said: {_torch_detail(message)})')
    return UnsafeCheckpointError('\n'.join(lines), filename, rejected, unsafe)


def _torch_detail(message: str) -> str:
    """torch's weights_only error message on one line, shortened."""
    message = message.split('WeightsUnpickler error:')[-1]
    return ' '.join(message.split())[:500]


def load_checkpoint_safely(
        filename: str,
        map_location: Any = 'cpu',
        extra_safe_globals: Optional[Iterable[Any]] = None) -> Dict[str, Any]:
    """``torch.load(filename, weights_only=True)`` with clear errors.

    Args:
        filename (str): A local checkpoint file.
        map_location: As for ``torch.load``. Defaults to ``'cpu'``.
        extra_safe_globals (iterable, optional): Classes/functions (or
            ``(object, 'module.qualname')`` pairs) to trust for this call only,
            on top of :data:`SAFE_GLOBAL_NAMES`: for a trusted checkpoint that
            holds other objects. Loading stays ``weights_only=True``.

    Returns:
        The loaded object (a dict for Runner checkpoints).

    Raises:
        FileNotFoundError: ``filename`` is not a file.
        CorruptCheckpointError: The file is empty, truncated or damaged.
        UnsafeCheckpointError: The file needs a global that is not
            allow-listed; the message names it, the file, and how to allow it.
    """
    filename = osp.expanduser(os.fspath(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint {filename!r} can not be found.')
    install_safe_globals()
    current = set(torch.serialization.get_safe_globals())
    # torch's context manager removes all its arguments on exit: give it
    # only those that were not allow-listed before.
    extra = [g for g in extra_safe_globals or [] if g not in current]
    with torch.serialization.safe_globals(extra):
        try:
            return torch.load(
                filename, map_location=map_location, weights_only=True)
        except Exception as error:  # noqa: BLE001  classified below
            reason = _corruption(filename)
            if reason is None and isinstance(error, EOFError):
                reason = 'the data end early'
            if reason is not None:
                raise _corrupt_error(filename, reason, error) from error
            if isinstance(error, pickle.UnpicklingError):
                raise _unsafe_error(filename, error) from None
            if hasattr(error, 'add_note'):
                error.add_note(f'(while loading checkpoint {filename!r})')
            raise


def _safe_local_loader(filename: str, map_location: Any = None) -> Any:
    """mmengine ``CheckpointLoader`` scheme for local files, via
    :func:`load_checkpoint_safely` (keeps mmengine's None default)."""
    return load_checkpoint_safely(filename, map_location=map_location)


def install_safe_local_loader() -> None:
    """Routes mmengine's local-file checkpoint loading through
    :func:`load_checkpoint_safely`.

    Replaces mmengine's ``load_from_local`` (the ``CheckpointLoader`` scheme
    for plain paths, which ``Runner.resume``, ``Runner.load_checkpoint`` and
    ``mmengine.runner.load_checkpoint`` use), so that a refused or damaged
    checkpoint raises :class:`UnsafeCheckpointError` /
    :class:`CorruptCheckpointError` instead of torch's bare error. Also calls
    :func:`install_safe_globals`. Idempotent.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    install_safe_globals()
    CheckpointLoader.register_scheme(
        prefixes='', loader=_safe_local_loader, force=True)
