"""Fashion-MNIST: Zalando's 28x28 grey images of clothing, a drop-in replacement for MNIST.

60,000 training and 10,000 test images in 10 classes (see ``CLASS_NAMES``), by Han Xiao, Kashif
Rasul and Roland Vollgraf, Zalando Research (MIT license,
https://github.com/zalandoresearch/fashion-mnist). The download is the four gzipped IDX files of
the release, from the TensorFlow/Keras data set bucket.
"""
from minicnn.datasets._cache import DATA_ENV, data_dir, display, download, find_or_fetch
from minicnn.datasets._formats import find_idx_files

#: Where the download comes from; read at call time, so it can be pointed at a mirror.
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CACHE_SUBDIR = "fashion-mnist"
# SHA-256 of the release's .gz files, as published with the release and pinned by Keras and others.
# They apply to downloads only: a copy you provide may wrap the same data in different gzip bytes,
# so local files are checked by their IDX structure instead.
FILES = {
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def load_data(path=None):
    """Load Fashion-MNIST: ``(x_train, y_train), (x_test, y_test)``.

    Looks, in order: in ``path``; in the data directory (``$MINICNN_DATA``, else
    ``~/.minicnn/datasets``) under ``fashion-mnist/``; then downloads the four ``.gz`` files
    (30 MB, each SHA-256 checked) there. Unlike Keras, ``path`` is where your copy is.

    Args:
        path: a directory holding the four IDX files (``train-images-idx3-ubyte[.gz]``,
            ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
            ``t10k-labels-idx1-ubyte[.gz]``) or a ``fashion-mnist.npz``, or a Keras-layout ``.npz``
            file. Default None. If it holds no data set the search goes on, with a ``UserWarning``.

    Returns:
        uint8 arrays: x_train (60000, 28, 28), y_train (60000,), x_test (10000, 28, 28),
        y_test (10000,), labels 0-9 indexing ``CLASS_NAMES`` (or whatever the given files hold).

    Raises:
        ValueError: when a file found is corrupt or truncated (the message names it), or a
            download does not match its SHA-256 (nothing is saved then).
        DatasetNotFoundError: (a ``FileNotFoundError``) when no place has the data and the download
            fails; the message lists the places tried and how to provide the files. Without a
            network this takes at most a few seconds.
    """
    cache = data_dir() / CACHE_SUBDIR

    def fetch():
        # files already in the cache were verified when they arrived: fetch only the others
        _, missing = find_idx_files(cache)
        for name, sha256 in FILES.items():
            if name.removesuffix(".gz") in missing:
                download(ORIGIN + name, cache / name, sha256)

    how_to = [
        f"download {', '.join(FILES)} from {ORIGIN} (or from the release, "
        f"https://github.com/zalandoresearch/fashion-mnist) into {display(cache)}, or set ${DATA_ENV} "
        f"to a folder with a {CACHE_SUBDIR}/ subfolder holding them;",
        "or pass load_data(path=...) the folder holding the four files (gzipped or not).",
    ]
    data, _ = find_or_fetch("Fashion-MNIST", path, cache, f"{CACHE_SUBDIR}.npz", fetch, ORIGIN, how_to)
    return data

