"""Layers with Keras's names, arguments and defaults (channels-last inside, NHWC)."""
from minicnn.layers.activations import LeakyReLU, ReLU, Softmax
from minicnn.layers.base import Layer, clear_session
from minicnn.layers.lambda_layer import Lambda
from minicnn.layers.convolutional import Conv2D, Convolution2D
from minicnn.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from minicnn.layers.merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average,
                                    concatenate, maximum, merge, minimum, multiply, subtract)
from minicnn.layers.normalization import BatchNormalization
from minicnn.layers.pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D,
                                    GlobalMaxPool2D, GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)
from minicnn.layers.reshaping import Reshape, ZeroPadding2D
from minicnn.layers.conv_transpose import Conv2DTranspose, Convolution2DTranspose, Deconv2D, Deconvolution2D
from minicnn.layers.depthwise import DepthwiseConv2D, SeparableConv2D, SeparableConvolution2D
from minicnn.layers.noise import GaussianDropout, GaussianNoise, SpatialDropout2D
from minicnn.layers.resampling import Cropping2D, UpSampling2D
from minicnn.layers.layer_normalization import GroupNormalization, LayerNormalization
from minicnn.layers.preprocessing import (RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
                                          Rescaling)

__all__ = ["Layer", "Conv2D", "Convolution2D", "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D",
           "GlobalAveragePooling2D", "GlobalAvgPool2D", "GlobalMaxPooling2D", "GlobalMaxPool2D", "ZeroPadding2D",
           "Reshape", "Dropout", "BatchNormalization", "Dense", "Flatten", "Activation", "ReLU", "LeakyReLU",
           "Softmax", "Input", "InputLayer", "clear_session", "Add", "Subtract", "Multiply", "Average", "Maximum",
           "Minimum", "Concatenate", "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate",
           "merge"]
__all__ += ["UpSampling2D", "Cropping2D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout"]

__all__ += ["Conv2DTranspose", "Convolution2DTranspose", "Deconvolution2D", "Deconv2D", "DepthwiseConv2D",
            "SeparableConv2D", "SeparableConvolution2D"]
__all__ += ["Lambda"]
__all__ += ["LayerNormalization", "GroupNormalization", "Rescaling", "RandomFlip", "RandomRotation",
            "RandomTranslation", "RandomZoom", "RandomContrast"]

def __getattr__(name):
    """A name minicnn lacks: an AttributeError naming the closest layers and the planned ones."""
    from minicnn.missing import attribute_error
    raise attribute_error("minicnn.layers", name, __all__)
