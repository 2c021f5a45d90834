"""Reading an HDF5 file that may be hostile: only what is inside the file itself.

HDF5 lets a file point outside itself: a soft or external link names another path or another
file (``h5py.ExternalLink("/elsewhere.h5", "/x")``), and a dataset with external storage keeps its
bytes in other files (``external=[("/etc/passwd", 0, 12)]``), as does a virtual dataset. A model
file read through those would load whatever the links point at, local files included. minicnn
checks every link and dataset of a file before reading any weight, and refuses the file when one
points outside it.
"""
import numpy as np


def check_file(h5, where):
    """Walk every link of the open h5py file ``h5``; refuse any that is not a hard link, and any
    dataset whose data is stored outside the file.

    Raises:
        ValueError: naming ``where`` (the file), the path inside it and what was refused.
    """
    import h5py
    seen = set()
    todo = [("", h5)]
    while todo:
        prefix, group = todo.pop()
        if group.id in seen:  # a group hard-linked twice (or into itself) is walked once
            continue
        seen.add(group.id)
        for name in group.keys():
            path = f"{prefix}/{name}"
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                target = getattr(link, "filename", None)
                to = f"{target!r}:{link.path!r}" if target else repr(getattr(link, "path", "?"))
                raise ValueError(f"{where}: {path} is a link ({type(link).__name__}) to {to}; minicnn reads only "
                                 "what is inside the file (hard links), so it refuses the file. A model file never "
                                 "needs such a link: it may be hostile.")
            obj = group[name]
            if isinstance(obj, h5py.Group):
                todo.append((path, obj))
            elif isinstance(obj, h5py.Dataset):
                check_dataset(obj, where, path)


def check_dataset(ds, where, path=None):
    """Refuse a dataset whose bytes are stored in other files (external storage, or virtual).

    Raises:
        ValueError: naming ``where`` and the dataset.
    """
    path = path or ds.name
    if ds.external:
        files = sorted({str(f[0], "utf8", "replace") if isinstance(f[0], bytes) else str(f[0]) for f in ds.external})
        raise ValueError(f"{where}: the dataset {path} keeps its data in other files ({files[:3]}) through HDF5's "
                         "external storage; minicnn reads only data inside the file, so it refuses the file (it "
                         "may be hostile).")
    if ds.is_virtual:
        raise ValueError(f"{where}: the dataset {path} is a virtual dataset (its data is in other files or "
                         "datasets); minicnn reads only data inside the file, so it refuses the file.")


def read_array(ds, where, path=None):
    """The numeric array of the dataset ``ds`` (checked first).

    Raises:
        ValueError: for data outside the file, or data that is not numbers (strings, references).
    """
    check_dataset(ds, where, path)
    if ds.dtype.kind not in "fiub":
        raise ValueError(f"{where}: the dataset {path or ds.name} holds {ds.dtype} values, not numbers; it is not "
                         "a weight array.")
    return np.asarray(ds[()])
