"""``model.export(filepath, format=...)``: a trained model as a file that other runtimes serve.

One format, ONNX (``format="onnx"``): the inference graph, weights included, for onnxruntime,
TensorRT, OpenVINO and the rest. It needs the ``onnx`` package, an optional extra
(``pip install 'minicnn[onnx]'``); ``import minicnn`` never imports it.

    onnx_graph.py    the ONNX graph being written, tensors in several layouts, the walk over a model
    onnx_layers.py   each layer as ONNX nodes (onnx_activations.py: the activations)
"""
import os

FORMATS = ("onnx",)
OPSET = 17  # the first with LayerNormalization; ReduceMean still takes its axes as an attribute


def export_model(model, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
    """Write ``model``'s inference graph to ``filepath`` in ``format`` (Keras 3's ``Model.export``).

    Args:
        model: a built minicnn Model or Sequential.
        filepath: where to write (str or path-like); replaced atomically if it exists.
        format: ``"onnx"``. Keras 3's default, ``"tf_saved_model"``, and its other formats are not
            written by minicnn, so the format must be named.
        verbose: print where the file went (None, Keras's default, prints; False does not).
        input_signature: must be None: the inputs are the model's own, with a dynamic batch axis.

    Raises:
        ValueError: for another format (listing the supported ones), an input_signature, or a
            layer that has no ONNX form (naming the layer, its class and what to do).
        TypeError: for an unexpected keyword argument.
        ImportError: when the ``onnx`` package is missing, saying how to install it.
    """
    if format not in FORMATS:
        raise ValueError(
            f"model.export: format={format!r} is not supported; minicnn exports {list(FORMATS)}. Write "
            f"model.export({os.fspath(filepath)!r}, format='onnx') for an ONNX file (onnxruntime and most serving "
            "runtimes read it), or model.save(...) to keep training in minicnn.")
    if input_signature is not None:
        raise ValueError("model.export: input_signature is not supported; the ONNX inputs are the model's own "
                         "inputs, with a dynamic batch axis. Leave input_signature out.")
    if kwargs:
        raise TypeError(f"model.export got unexpected keyword argument(s) {sorted(kwargs)}.")
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ImportError("model.export(format='onnx') needs the onnx package: pip install 'minicnn[onnx]' "
                          "(or pip install onnx).") from None
    from minicnn import saving
    from minicnn.export.onnx_graph import model_to_onnx
    proto = model_to_onnx(model, opset=OPSET)
    data = proto.SerializeToString()
    saving.atomic_write(filepath, lambda f: f.write(data))
    if verbose is None or verbose:
        print(f"Saved artifact at '{os.fspath(filepath)}'.")
