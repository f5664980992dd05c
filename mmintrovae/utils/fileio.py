"""Small file helpers for mmintrovae's tools."""
import os
import os.path as osp


def write_atomic(path: str, data: bytes) -> None:
    """Writes a file via a hidden temporary file in the same folder.

    The data goes to ``.<name>.<pid>.tmp`` next to ``path``, which is then
    renamed over ``path`` with :func:`os.replace`, so readers see either the
    old file or the whole new one, never a partial file. The temporary file
    is removed if anything fails. The data is not fsynced.

    Args:
        path (str): The file to write.
        data (bytes): Its content.

    Raises:
        OSError: If the folder is missing or the file cannot be written.
    """
    folder, name = osp.split(path)
    tmp = osp.join(folder, f'.{name}.{os.getpid()}.tmp')
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if osp.lexists(tmp):
            os.remove(tmp)
        raise
