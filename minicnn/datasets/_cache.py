"""Where data set files come from: a given path, the data directory, or a verified download.

The data directory is ``$MINICNN_DATA`` when that is set, else ``~/.minicnn/datasets``.
Downloads use urllib only, give up after a few seconds without an answer, are checked against a
SHA-256 and written atomically: into a temporary file beside the target, verified, then renamed,
so an interrupted or corrupt download never sits in the cache.
"""
import hashlib
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

from minicnn.datasets._formats import NoDataHere, read_location

DATA_ENV = "MINICNN_DATA"
DEFAULT_DATA_DIR = "~/.minicnn/datasets"
#: Seconds to wait for a server's answer (connection, name lookup included, and each read).
TIMEOUT = 5.0

_CHUNK = 1 << 16


class DatasetNotFoundError(FileNotFoundError):
    """No copy of a data set anywhere: the message lists every place tried and how to provide it.

    ``download_error`` holds the exception that made the last resort, the download, fail.
    """

    download_error = None


def data_dir():
    """The data directory: ``$MINICNN_DATA`` if set, else ``~/.minicnn/datasets`` (not created here)."""
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR).expanduser()


def display(path):
    """``path`` as a string, with the home directory shortened to ``~`` for messages."""
    path, home = str(path), str(Path.home())
    return "~" + path[len(home):] if home != "/" and path.startswith(home + os.sep) else path


def describe_error(e):
    """A short human reason for a failed download or read (urllib wraps the useful part)."""
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    return str(e) or type(e).__name__


def download(url, dest, sha256, timeout=TIMEOUT, progress=True):
    """Download ``url`` to ``dest``, check its SHA-256, and only then move it into place.

    The bytes go to a temporary file in ``dest``'s folder (created if needed) and are hashed as
    they arrive; ``os.replace`` moves the file in only once the digest matches, so ``dest`` is
    either absent or complete. The temporary file is removed on every failure, Ctrl-C included.

    Args:
        url: what to fetch (any scheme urllib opens, ``file://`` included).
        dest: the final path.
        sha256: the expected hex digest.
        timeout: seconds to wait for the server's answer and for each read (default ``TIMEOUT``).
        progress: show a one-line progress display on stderr.

    Returns:
        ``dest`` as a Path.

    Raises:
        OSError: (``urllib.error.URLError``, ``TimeoutError``, ...) when the server cannot be
            reached, answers with an error, or the transfer stops early.
        ValueError: when the downloaded bytes do not have the expected SHA-256.
    """
    dest = Path(dest)
    response = _urlopen(url, timeout)
    with response:
        total = int(response.headers.get("Content-Length") or 0)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            digest, size = hashlib.sha256(), 0
            bar = _Progress(url, total) if progress else None
            with os.fdopen(fd, "wb") as f:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    f.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if bar:
                        bar.update(size)
            if bar:
                bar.done(size)
            if total and size != total:
                raise OSError(f"download of {url} stopped after {size} of {total} bytes")
            if digest.hexdigest() != sha256:
                raise ValueError(
                    f"download of {url} has SHA-256 {digest.hexdigest()}, expected {sha256}; the file "
                    "was not saved. The server sent something else (a proxy's page, a changed file?)."
                )
            os.chmod(tmp, 0o644)  # mkstemp makes the file private; a data set is ordinary data
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return dest


def find_or_fetch(name, path, cache, npz_name, fetch, origin, how_to, read=None):
    """Read a data set from ``path``, else from ``cache``, else from what ``fetch()`` downloads.

    Args:
        name: the data set's name, for messages (``"MNIST"``).
        path: the user's file or directory, or None.
        cache: where the data set lives in the data directory (a file or a directory).
        npz_name: the ``.npz`` file name looked for first in a directory (``"mnist.npz"``).
        fetch: a function that downloads the data set into ``cache`` and returns nothing.
        origin: where ``fetch`` downloads from, for messages.
        how_to: lines telling the user how to provide the files, for the not-found error.
        read: ``read(location)`` -> ``(data, source)`` or NoDataHere, for a data set in other files
            (CIFAR-10's binary batches); default: the ``.npz`` or IDX files of :func:`read_location`.

    Returns:
        ``(data, source)``: ``((x_train, y_train), (x_test, y_test))`` and the file or folder read.
        When ``path`` holds no data set but a later place does, a ``UserWarning`` says so.

    Raises:
        ValueError: when a file found is corrupt, or a download fails its checksum.
        DatasetNotFoundError: when no place holds the data set and the download fails.
    """
    read = read or (lambda location: read_location(location, npz_name))
    tried = []
    if path is not None:
        try:
            return read(Path(path).expanduser())
        except NoDataHere as e:
            tried.append(f"path={str(path)!r}: {e}")
    try:
        found = read(cache)
    except NoDataHere as e:
        tried.append(f"the data directory (${DATA_ENV} or {DEFAULT_DATA_DIR}): {e}")
        try:
            fetch()
        except OSError as err:
            tried.append(f"downloading from {origin}: {describe_error(err)}")
            not_found = DatasetNotFoundError(
                f"{name} was not found. Tried, in order:\n"
                + "".join(f"  - {line}\n" for line in tried)
                + "To provide it:\n"
                + "\n".join(f"  - {line}" for line in how_to)
            )
            not_found.download_error = err
            raise not_found from None
        found = read(cache)
    if path is not None:
        # the search order goes on past a wrong path, but silently using other data would mislead
        warnings.warn(f"{tried[0]}; using {display(found[1])} instead.", stacklevel=3)
    return found


def _urlopen(url, timeout):
    """``urlopen`` with a deadline on getting an answer at all, name lookup included.

    urlopen's own timeout covers each socket operation but not resolving the host name, which
    on a machine with an unreachable DNS server can block for half a minute; so the attempt runs
    in a daemon thread that we stop waiting for. Raises ``TimeoutError`` when the deadline passes.
    """
    outcome = {}

    def attempt():
        try:
            outcome["response"] = urllib.request.urlopen(url, timeout=timeout)
        except BaseException as e:  # handed to the caller's thread below
            outcome["error"] = e

    worker = threading.Thread(target=attempt, name="minicnn-download", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        host = urllib.parse.urlsplit(url).hostname or url
        raise TimeoutError(f"no answer from {host} within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["response"]


class _Progress:
    """``Downloading <url>`` then a line redrawn in place: ``  4.2/11.5 MB  36%``, on stderr."""

    def __init__(self, url, total):
        self.total, self.last = total, 0.0
        print(f"Downloading {url}", file=sys.stderr, flush=True)

    def update(self, size, force=False):
        now = time.monotonic()
        if force or now - self.last >= 0.2:  # redrawing per chunk would cost more than the copy
            self.last = now
            shown = f"  {size / 1e6:.1f}/{self.total / 1e6:.1f} MB  {100 * size // self.total:3d}%" \
                if self.total else f"  {size / 1e6:.1f} MB"
            print(f"\r{shown}", end="", file=sys.stderr, flush=True)

    def done(self, size):
        self.update(size, force=True)
        print(file=sys.stderr, flush=True)
