"""CIFAR-10: 60,000 32x32 colour images in 10 classes (see ``CLASS_NAMES``), 6,000 per class.

By Alex Krizhevsky, Vinod Nair and Geoffrey Hinton (https://www.cs.toronto.edu/~kriz/cifar.html).
minicnn reads the authors' *binary* version, ``cifar-10-binary.tar.gz``: plain bytes, so reading it
never runs code (the Python version of the archive is serialised Python objects and is not read).
The archive holds ``cifar-10-batches-bin/`` with six files of fixed-size records::

    data_batch_1.bin ... data_batch_5.bin   10,000 training records each
    test_batch.bin                          10,000 test records

    a record:  1 byte    label, 0-9
               3072 bytes  the 1024 red, then 1024 green, then 1024 blue pixels of the 32x32
                           image, each plane row by row

Every reader checks sizes and labels and raises ``ValueError`` naming the file, so a truncated or
wrong file fails here rather than deep inside training.
"""
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from minicnn.backend import image_data_format
from minicnn.datasets._cache import (
    DATA_ENV, data_dir, describe_error, display, download, find_or_fetch,
)
from minicnn.datasets._formats import NoDataHere

#: Where the download comes from; read at call time, so it can be pointed at a mirror.
ORIGIN = "https://www.cs.toronto.edu/~kriz/"
FILE = "cifar-10-binary.tar.gz"
# The CIFAR page publishes only an MD5 (below). The SHA-256 is the one pinned for this very file by
# JuliaML/MLDatasets.jl (src/datasets/vision/cifar10.jl) and ankane/torchvision-ruby
# (lib/torchvision/datasets/cifar10.rb), and reported beside the published MD5 and this size by
# projects that downloaded the archive from the Toronto page.
SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
SIZE = 170_052_171
FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
BATCH_FILES = TRAIN_FILES + (TEST_FILE,)
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

H = W = 32
C = 3
RECORD = 1 + C * H * W  # 3073 bytes: the label, then the three colour planes
MAX_RECORDS = 10_000  # per batch file; checked before reading, so a bogus size never allocates


def load_data(path=None):
    """Load CIFAR-10: ``(x_train, y_train), (x_test, y_test)``, as Keras's ``cifar10.load_data``.

    Looks, in order: in ``path``; in the data directory (``$MINICNN_DATA``, else
    ``~/.minicnn/datasets``) for ``cifar-10-batches-bin/`` or ``cifar-10-binary.tar.gz``; then
    downloads ``cifar-10-binary.tar.gz`` (170 MB, SHA-256 checked; the CIFAR page publishes MD5
    ``c32a1d4ab5d03f1284b67883e8d87530`` for the same file) from the authors' page into the data
    directory, where it is kept and read from, without unpacking. Unlike Keras, ``path`` is where
    your copy is. As in Keras, the images are channels-last unless the image data format is
    ``"channels_first"`` (``minicnn.backend.set_image_data_format``), which gives (N, 3, 32, 32).

    Args:
        path: ``cifar-10-binary.tar.gz`` itself (``.tar`` and other tar compressions too); a folder
            holding it; the extracted ``cifar-10-batches-bin`` folder (or one of its ``.bin``
            files); or the folder containing that. Default None. If it holds no data set the search
            goes on, with a ``UserWarning``.

    Returns:
        uint8 arrays: x_train (50000, 32, 32, 3), y_train (50000, 1), x_test (10000, 32, 32, 3),
        y_test (10000, 1); labels 0-9 index ``CLASS_NAMES``. Files with fewer records give fewer.
        The images are (N, 3, 32, 32) when the image data format is ``"channels_first"``.

    Raises:
        ValueError: when a file found is not a tar archive, is truncated or corrupt, lacks one of
            the six batch files, or holds a batch that is not whole 3073-byte records with labels
            0-9 (the message names the file); or when the download does not match its SHA-256
            (nothing is saved then).
        DatasetNotFoundError: (a ``FileNotFoundError``) when no place has the data and the download
            fails; the message lists the places tried and how to provide the files. Without a
            network this takes at most a few seconds.
    """
    # The MNIST loaders' search and messages, over CIFAR's files.
    ((x_train, y_train), (x_test, y_test)), _ = find_or_fetch(
        "CIFAR-10", path, data_dir(), None, lambda: download(ORIGIN + FILE, data_dir() / FILE, SHA256),
        ORIGIN + FILE, _how_to(), read=read_location)
    if image_data_format() == "channels_first":
        x_train, x_test = (np.ascontiguousarray(x.transpose(0, 3, 1, 2)) for x in (x_train, x_test))
    return (x_train, y_train), (x_test, y_test)


def read_location(path):
    """Read CIFAR-10 from an archive, a folder of batch files, or a folder holding either.

    A folder is searched in this order: the six ``.bin`` files in it; the same in its
    ``cifar-10-batches-bin/``; its ``cifar-10-binary.tar.gz``. A file is read as a tar archive,
    unless it is one of the ``.bin`` files, in which case its folder is read.

    Returns:
        ``((x_train, y_train), (x_test, y_test)), source``, where source is the folder or archive read.

    Raises:
        NoDataHere: when ``path`` does not exist or holds none of those.
        ValueError: when a file is there but corrupt (see :func:`read_archive`, :func:`decode_batch`).
    """
    path = Path(path)
    if path.is_file():
        if path.name not in BATCH_FILES:
            return read_archive(path), path
        path = path.parent
    if not path.is_dir():
        raise NoDataHere(f"{path} does not exist")
    partial = None
    for folder in (path, path / FOLDER):
        found = [name for name in BATCH_FILES if (folder / name).is_file()]
        if len(found) == len(BATCH_FILES):
            return read_folder(folder), folder
        if found and partial is None:
            partial = f"{folder} holds {found} but lacks {[name for name in BATCH_FILES if name not in found]}"
    if (path / FILE).is_file():
        return read_archive(path / FILE), path / FILE
    if partial:
        raise NoDataHere(partial)
    hint = ""
    if (path / "cifar-10-python.tar.gz").exists() or (path / "cifar-10-batches-py").exists():
        hint = " (it holds the Python version of CIFAR-10, which minicnn does not read: use the binary version)"
    raise NoDataHere(f"{path} holds neither {FILE} nor the six .bin files of {FOLDER}/{hint}")


def read_folder(folder):
    """Read the six batch files of an extracted ``cifar-10-batches-bin`` folder.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``, uint8, shapes (N, 32, 32, 3) and (N, 1).

    Raises:
        ValueError: from :func:`decode_batch`, naming the file.
    """
    folder = Path(folder)
    batches = {}
    for name in BATCH_FILES:
        file = folder / name
        _check_size(file.stat().st_size, file)
        batches[name] = decode_batch(file.read_bytes(), file)
    return _split(batches)


def read_archive(archive):
    """Read the six batch files out of ``cifar-10-binary.tar.gz``, in memory.

    Members are read as bytes in one pass over the archive and nothing is written to disk, so a
    member's name cannot place a file anywhere. Only regular files named
    ``cifar-10-batches-bin/<batch>.bin`` (or ``<batch>.bin`` at the top) are read; the rest is skipped.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``, uint8, shapes (N, 32, 32, 3) and (N, 1).

    Raises:
        ValueError: naming the archive, when it is not a readable tar archive (gzipped or not), is
            truncated, lacks a batch file or holds one twice; or from :func:`decode_batch`.
    """
    archive = Path(archive)
    wanted = {f"{FOLDER}/{name}": name for name in BATCH_FILES}
    wanted.update({name: name for name in BATCH_FILES})
    batches = {}
    try:
        # "r|*": a stream, read front to back once; random access would decompress the gzip again per member
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                name = wanted.get(str(PurePosixPath(member.name.removeprefix("./"))))
                if name is None or not member.isfile():
                    continue
                where = f"{archive}[{member.name}]"
                if name in batches:
                    raise ValueError(f"{archive}: holds {name} twice; expected one {FOLDER}/ folder.")
                _check_size(member.size, where)
                batches[name] = decode_batch(tar.extractfile(member).read(), where)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise ValueError(
            f"{archive}: not a readable tar archive ({type(e).__name__}: {describe_error(e)}); the file "
            f"is probably truncated or corrupt, or not {FILE}. Delete it and download it again."
        ) from None
    missing = [name for name in BATCH_FILES if name not in batches]
    if missing:
        raise ValueError(
            f"{archive}: lacks {missing}; expected {FILE}, the binary version of CIFAR-10, holding "
            f"{FOLDER}/data_batch_1.bin ... data_batch_5.bin and test_batch.bin."
        )
    return _split(batches)


def decode_batch(raw, name):
    """Decode one batch file's bytes into channels-last images and labels.

    Args:
        raw: the file's bytes, N records of 3073 bytes (label, then R, G, B planes of 32x32).
        name: the file, for error messages.

    Returns:
        ``(x, y)``: x uint8 (N, 32, 32, 3), y uint8 (N, 1), both writable.

    Raises:
        ValueError: naming the file, when it is empty, not a whole number of records, holds more
            than 10,000 records, or has a label outside 0-9.
    """
    _check_size(len(raw), name)
    N = len(raw) // RECORD
    records = np.frombuffer(raw, dtype=np.uint8).reshape(N, RECORD)
    y = records[:, :1].copy()
    bad = np.flatnonzero(y >= len(CLASS_NAMES))
    if bad.size:
        raise ValueError(
            f"{name}: record {bad[0]} has label {y[bad[0], 0]}; CIFAR-10 labels are 0-9. The file is "
            "corrupt, or not a CIFAR-10 batch (CIFAR-100's records have two label bytes)."
        )
    # (N, C, H, W) planes to channels-last; the copy makes it contiguous and writable
    x = np.ascontiguousarray(records[:, 1:].reshape(N, C, H, W).transpose(0, 2, 3, 1))
    return x, y


def _check_size(size, name):
    """Raise ``ValueError`` unless ``size`` bytes are 1 to 10,000 whole records."""
    if size == 0 or size % RECORD or size > MAX_RECORDS * RECORD:
        state = "empty" if size == 0 else "larger than a CIFAR-10 batch" if size > MAX_RECORDS * RECORD \
            else "truncated or corrupt"
        raise ValueError(
            f"{name}: {state}: {size} bytes is not 1 to {MAX_RECORDS} records of {RECORD} bytes (1 label "
            f"byte, then 3072 pixel bytes); expected a batch file of the binary version of CIFAR-10 "
            f"({MAX_RECORDS * RECORD} bytes). Download {FILE} again."
        )


def _split(batches):
    """``(x_train, y_train), (x_test, y_test)`` from the six decoded batches, by file name."""
    x_train = np.concatenate([batches[name][0] for name in TRAIN_FILES])
    y_train = np.concatenate([batches[name][1] for name in TRAIN_FILES])
    return (x_train, y_train), batches[TEST_FILE]


def _how_to():
    """What the not-found error tells the user to do."""
    return [f"download {ORIGIN}{FILE} (the binary version, {SIZE / 1e6:.1f} MB, sha256 {SHA256}, md5 {MD5}) "
            f"into {display(data_dir())}, or set ${DATA_ENV} to the folder that holds it;",
            f"or pass load_data(path=...) that file, the folder holding it, or the extracted {FOLDER} folder "
            "(or the folder containing it)."]
