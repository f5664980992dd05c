"""Image loading that names bad files, or skips them when asked to."""
import logging

from mmagic.datasets.transforms import LoadImageFromFile
from mmagic.registry import TRANSFORMS
from mmengine.logging import print_log


class UnreadableImageError(ValueError):
    """An image file could not be decoded; the message names it."""


@TRANSFORMS.register_module()
class LoadImageOrSkip(LoadImageFromFile):
    """mmagic's ``LoadImageFromFile`` with a clear policy for bad files.

    A file that is missing, empty, truncated or not an image either stops
    with an :class:`UnreadableImageError` naming the file and the fix
    (``on_error='raise'``), or is logged and skipped (``on_error='skip'``):
    the transform returns None and mmengine's dataset draws another image
    (training datasets only). Grey and RGBA images are converted to the
    ``color_type`` as mmagic does ('color' gives 3 channels; alpha dropped).

    Args:
        on_error (str): 'raise' or 'skip'. Defaults to 'raise'.
        **kwargs: Arguments of mmagic's ``LoadImageFromFile`` (``key``,
            ``color_type``, ``channel_order``, ...).
    """

    def __init__(self, on_error: str = 'raise', **kwargs):
        if on_error not in ('raise', 'skip'):
            raise ValueError(f"LoadImageOrSkip: on_error={on_error!r}; use "
                             "'raise' or 'skip'.")
        super().__init__(**kwargs)
        self.on_error = on_error
        self.skipped = 0

    def transform(self, results: dict):
        """Loads the image, or raises / skips with the file's name.

        Args:
            results (dict): Result dict with ``{key}_path``.

        Returns:
            dict | None: The results with the image, or None when skipped.
        """
        try:
            return super().transform(results)
        except Exception as err:  # decoders fail in many ways on bad files
            path = results.get(f'{self.key}_path')
            reason = f'{type(err).__name__}: {err}'
            if self.on_error == 'skip':
                self.skipped += 1
                print_log(
                    f'Skipping unreadable image {path!r} ({reason}); '
                    f'{self.skipped} skipped so far by this worker.',
                    'current', logging.WARNING)
                return None
            raise UnreadableImageError(
                f'Cannot read the image {path!r} ({reason}). Replace or '
                "remove the file, or set on_error='skip' in the pipeline's "
                "LoadImageOrSkip to skip unreadable files.") from None

    def _load_image(self, filename: str):
        img = super()._load_image(filename)
        if img is None:
            raise UnreadableImageError('the decoder returned no image '
                                       '(empty, truncated or not an image)')
        return img
