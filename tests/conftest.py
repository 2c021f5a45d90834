import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile("default", max_examples=30, deadline=None, derandomize=True)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data():
    """../shared/data beside the checkout, or a clean skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} not present")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _numpy_backend_and_names():
    """Each test starts on the NumPy backend, channels-last, with fresh layer names."""
    import minicnn
    from minicnn import backend
    from minicnn.layers import clear_session
    minicnn.set_backend("numpy")
    backend.set_image_data_format("channels_last")
    clear_session()
    yield
    minicnn.set_backend("numpy")
    backend.set_image_data_format("channels_last")


@pytest.fixture(autouse=True)
def _no_live_progress_line():
    """Each test starts with no progress bar line left open on stdout by an earlier one."""
    from minicnn.utils import progbar
    progbar._line["open"] = False
