"""CIFAR-10's binary version: record layout, archive and folder reading, the search order, errors."""
import hashlib
import inspect
import io
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

import minicnn
from minicnn import backend
from minicnn.datasets import DatasetNotFoundError, cifar10

CLOSED_PORT = "http://127.0.0.1:9/"  # loopback's discard port: nothing listens, refused at once
BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def fake_batches(n_train=2, n_test=3, seed=0):
    """Random channels-last images and labels for each of the six batch files, by file name."""
    rng = np.random.default_rng(seed)
    sizes = {name: n_test if name == "test_batch.bin" else n_train for name in BATCHES}
    return {name: (rng.integers(0, 256, (N, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, N, dtype=np.uint8))
            for name, N in sizes.items()}


def batch_bytes(images, labels):
    """A batch file as the CIFAR page specifies it: per record, the label, then the R, G, B planes."""
    out = bytearray()
    for image, label in zip(images, labels):
        out.append(int(label))
        for c in range(3):
            out += bytes(image[:, :, c].ravel().tolist())  # one colour plane, row by row
    return bytes(out)


def write_folder(folder, batches):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (images, labels) in batches.items():
        (folder / name).write_bytes(batch_bytes(images, labels))
    return folder


def write_archive(file, batches, extra=()):
    """``cifar-10-binary.tar.gz`` as the authors pack it: members under cifar-10-batches-bin/."""
    file.parent.mkdir(parents=True, exist_ok=True)
    members = [(f"cifar-10-batches-bin/{name}", batch_bytes(*arrays)) for name, arrays in batches.items()]
    members.insert(0, ("cifar-10-batches-bin/batches.meta.txt", b"airplane\nautomobile\n"))
    with tarfile.open(file, "w:gz", compresslevel=1) as tar:
        for name, data in [*members, *extra]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return file


def expected(batches):
    x_train = np.concatenate([batches[name][0] for name in BATCHES[:5]])
    y_train = np.concatenate([batches[name][1] for name in BATCHES[:5]])[:, None]
    x_test, y_test = batches["test_batch.bin"]
    return (x_train, y_train), (x_test, y_test[:, None])


def assert_same(split, reference):
    for got, want in zip((*split[0], *split[1]), (*reference[0], *reference[1])):
        assert got.dtype == np.uint8 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.fixture
def data(tmp_path, monkeypatch):
    """An empty data directory in tmp_path, and a download origin that refuses connections."""
    directory = tmp_path / "data"
    monkeypatch.setenv("MINICNN_DATA", str(directory))
    monkeypatch.setattr(cifar10, "ORIGIN", CLOSED_PORT)
    return directory


def _files(directory):
    return sorted(p.relative_to(directory).as_posix() for p in Path(directory).rglob("*") if p.is_file())


def test_colour_planes_become_the_last_axis():
    # one record written byte by byte: R plane 10 (but 200 at row 2, column 5), G plane 20, B plane 30
    red = bytearray([10] * 1024)
    red[2 * 32 + 5] = 200
    raw = bytes([7]) + bytes(red) + bytes([20] * 1024) + bytes([30] * 1024)
    x, y = cifar10.decode_batch(raw, "one.bin")
    assert x.shape == (1, 32, 32, 3) and y.shape == (1, 1) and y[0, 0] == 7
    assert x[0, 2, 5].tolist() == [200, 20, 30] and x[0, 5, 2].tolist() == [10, 20, 30]
    assert x[0, 0, 0].tolist() == [10, 20, 30]
    x[0, 0, 0] = 0  # writable, as Keras's arrays are


def test_archive_gives_keras_layout(data, tmp_path):
    batches = fake_batches()
    split = cifar10.load_data(path=write_archive(tmp_path / "cifar-10-binary.tar.gz", batches))
    (x_train, y_train), (x_test, y_test) = split
    assert x_train.shape == (10, 32, 32, 3) and y_train.shape == (10, 1)
    assert x_test.shape == (3, 32, 32, 3) and y_test.shape == (3, 1)
    assert_same(split, expected(batches))
    assert x_train.flags.c_contiguous and x_train.flags.writeable and y_test.flags.writeable


@pytest.mark.parametrize("where", ["archive", "archive folder", "extracted", "above extracted", "a .bin file"])
def test_every_kind_of_path(data, tmp_path, where):
    batches = fake_batches(seed=3)
    if where.startswith("archive"):
        archive = write_archive(tmp_path / "dl" / "cifar-10-binary.tar.gz", batches)
        path = archive if where == "archive" else archive.parent
    else:
        folder = write_folder(tmp_path / "x" / "cifar-10-batches-bin", batches)
        path = {"extracted": folder, "above extracted": folder.parent, "a .bin file": folder / "test_batch.bin"}[where]
    assert_same(cifar10.load_data(path=path), expected(batches))
    assert not data.exists()


def test_channels_first_as_keras(data, tmp_path):
    batches = fake_batches(seed=4)
    folder = write_folder(tmp_path / "cifar-10-batches-bin", batches)
    backend.set_image_data_format("channels_first")
    (x_train, _), (x_test, _) = cifar10.load_data(path=folder)
    (x_train_ref, _), (x_test_ref, _) = expected(batches)
    assert x_train.shape == (10, 3, 32, 32)
    np.testing.assert_array_equal(x_train, x_train_ref.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(x_test, x_test_ref.transpose(0, 3, 1, 2))


def test_reachable_as_keras_datasets_cifar10():
    assert minicnn.datasets.cifar10.load_data is cifar10.load_data


def test_the_data_directory_is_searched(data):
    batches = fake_batches(seed=5)
    write_archive(data / "cifar-10-binary.tar.gz", batches)
    assert_same(cifar10.load_data(), expected(batches))


def test_a_path_without_data_falls_through_with_a_warning(data, tmp_path):
    batches = fake_batches(seed=6)
    write_folder(data / "cifar-10-batches-bin", batches)
    with pytest.warns(UserWarning, match="missing-folder.*does not exist.*cifar-10-batches-bin"):
        assert_same(cifar10.load_data(path=tmp_path / "missing-folder"), expected(batches))


def test_offline_with_no_data_says_where_it_looked_and_how_to_fix_it(data, tmp_path):
    (tmp_path / "mine" / "cifar-10-batches-py").mkdir(parents=True)  # the Python version
    start = time.monotonic()
    with pytest.raises(DatasetNotFoundError) as info:
        cifar10.load_data(path=tmp_path / "mine")
    assert time.monotonic() - start < 5
    tried, how_to = str(info.value).split("To provide it:")
    places = [str(tmp_path / "mine"), str(data), "127.0.0.1:9"]
    assert [tried.index(place) for place in places] == sorted(tried.index(place) for place in places)
    assert "refused" in tried.lower() and "use the binary version" in tried
    for hint in ("cifar-10-binary.tar.gz", "MINICNN_DATA", "path=", cifar10.SHA256, cifar10.MD5):
        assert hint in how_to, hint
    assert not data.exists()  # a failed download creates nothing


def test_truncated_batch_file_names_the_file(data, tmp_path):
    folder = write_folder(tmp_path / "cifar-10-batches-bin", fake_batches())
    batch = folder / "data_batch_3.bin"
    batch.write_bytes(batch.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"data_batch_3\.bin: truncated or corrupt: 6046 bytes"):
        cifar10.load_data(path=folder)


def test_a_folder_lacking_a_batch_is_not_data(data, tmp_path):
    folder = write_folder(tmp_path / "cifar-10-batches-bin", fake_batches())
    (folder / "data_batch_5.bin").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"lacks \['data_batch_5.bin'\]"):
        cifar10.load_data(path=folder)


def test_a_half_extracted_folder_beside_the_archive_reads_the_archive(data, tmp_path):
    batches = fake_batches(seed=7)
    archive = write_archive(tmp_path / "cifar-10-binary.tar.gz", batches)
    write_folder(tmp_path / "cifar-10-batches-bin", {"data_batch_1.bin": batches["data_batch_1.bin"]})
    assert_same(cifar10.load_data(path=tmp_path), expected(batches))
    archive.unlink()
    with pytest.raises(DatasetNotFoundError, match=r"holds \['data_batch_1.bin'\] but lacks"):
        cifar10.load_data(path=tmp_path)


def test_truncated_archive_names_the_archive(data, tmp_path):
    archive = write_archive(tmp_path / "cifar-10-binary.tar.gz", fake_batches())
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cifar-10-binary\.tar\.gz: not a readable tar archive"):
        cifar10.load_data(path=archive)


def test_not_an_archive(data, tmp_path):
    (tmp_path / "cifar.tar.gz").write_bytes(b"<html>a proxy's page</html>")
    with pytest.raises(ValueError, match=r"cifar\.tar\.gz: not a readable tar archive"):
        cifar10.load_data(path=tmp_path / "cifar.tar.gz")


def test_an_archive_lacking_a_batch(data, tmp_path):
    batches = fake_batches()
    del batches["test_batch.bin"]
    archive = write_archive(tmp_path / "cifar-10-binary.tar.gz", batches)
    with pytest.raises(ValueError, match=r"lacks \['test_batch.bin'\]"):
        cifar10.load_data(path=archive)


def test_bad_label_and_oversized_batch(tmp_path):
    raw = batch_bytes(*fake_batches()["test_batch.bin"])
    with pytest.raises(ValueError, match="b.bin: record 1 has label 10"):
        cifar10.decode_batch(raw[:3073] + bytes([10]) + raw[3074:], "b.bin")
    with pytest.raises(ValueError, match="big.bin: larger than a CIFAR-10 batch"):
        cifar10.decode_batch(b"\0" * 3073 * 10_001, "big.bin")
    with pytest.raises(ValueError, match="empty.bin: empty"):
        cifar10.decode_batch(b"", "empty.bin")


def test_archive_members_are_read_never_extracted(data, tmp_path, monkeypatch):
    batches = fake_batches(seed=8)
    evil = [("../escaped.bin", b"x" * 3073), ("/tmp/absolute-test_batch.bin", b"y"),
            ("data_batch_1.bin/../../up", b"z")]
    archive = write_archive(tmp_path / "a" / "cifar-10-binary.tar.gz", batches, extra=evil)
    monkeypatch.chdir(tmp_path / "a")
    assert_same(cifar10.load_data(path=archive), expected(batches))
    assert _files(tmp_path) == ["a/cifar-10-binary.tar.gz"]


def test_no_pickle_and_no_extraction_in_the_source():
    source = inspect.getsource(cifar10)
    assert "pickle" not in source.lower()
    assert "extractall" not in source and ".extract(" not in source


def test_pinned_checksum_is_the_published_archive():
    # the SHA-256 recorded for cifar-10-binary.tar.gz (MD5 c32a1d4a..., 170,052,171 bytes)
    assert cifar10.SHA256 == "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
    assert cifar10.ORIGIN + cifar10.FILE == "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"


@pytest.fixture
def remote(tmp_path, monkeypatch):
    """A fake cifar-10-binary.tar.gz served from a file:// origin, with its real SHA-256 pinned."""
    batches = fake_batches(seed=9)
    archive = write_archive(tmp_path / "remote" / "cifar-10-binary.tar.gz", batches)
    monkeypatch.setattr(cifar10, "ORIGIN", archive.parent.as_uri() + "/")
    monkeypatch.setattr(cifar10, "SHA256", hashlib.sha256(archive.read_bytes()).hexdigest())
    return archive, batches


def test_download_is_verified_cached_and_reused(data, remote, capsys):
    archive, batches = remote
    assert_same(cifar10.load_data(), expected(batches))
    assert _files(data) == ["cifar-10-binary.tar.gz"]  # kept packed, no temporary file beside it
    assert "Downloading file://" in capsys.readouterr().err
    archive.unlink()  # a second call must not download
    assert_same(cifar10.load_data(), expected(batches))
    assert "Downloading" not in capsys.readouterr().err


def test_wrong_checksum_is_rejected_and_nothing_is_cached(data, remote, monkeypatch):
    monkeypatch.setattr(cifar10, "SHA256", "0" * 64)
    with pytest.raises(ValueError, match="SHA-256 .* expected 0{64}"):
        cifar10.load_data()
    assert _files(data) == []
