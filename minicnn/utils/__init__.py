"""Utilities: seeding, one-hot labels, batch data sets, gradient checks, history and model plots."""
from minicnn.random import set_seed as set_random_seed
from minicnn.utils.data_utils import PyDataset, Sequence
from minicnn.utils.gradcheck import check_gradients
from minicnn.utils.np_utils import to_categorical
from minicnn.utils.model_plot import plot_model
from minicnn.utils.plotting import plot_history
from minicnn.serialization import get_registered_name, register_keras_serializable

__all__ = ["set_random_seed", "check_gradients", "to_categorical", "plot_history", "Sequence", "PyDataset",
           "register_keras_serializable", "get_registered_name", "plot_model"]


def __getattr__(name):
    """A name minicnn lacks: an AttributeError naming the closest utilities."""
    from minicnn.missing import attribute_error
    raise attribute_error("minicnn.utils", name, __all__)
