"""The NumPy reference: every layer the lecture teaches, forward and backward, written
to be read (and checked against torch in the tests).

Conventions (cs231n): ``out, cache = X_forward(...)``, then ``X_backward(dout, cache)``
returns the gradients with respect to the inputs and parameters. Arrays are NCHW;
float64 for gradient checks, float32 for training.

Modules
-------
layers      linear, ReLU, sigmoid, tanh, softmax cross-entropy
conv        convolution: naive loops and im2col + one matrix product; backward
pool        max and average pooling (overlapping windows, ties like torch)
dropout     inverted dropout
batchnorm   batch normalization with torch's running statistics
perceptron  the perceptron and the Block-Novikoff bound
mlp         a multilayer perceptron in the lecture's notation (Algorithm 1 + adjoint pass)
gradcheck   centred-difference gradients and the relative error
lenet       LeNet-5 from these layers, with SGD + momentum
"""
from cnnlab.reference.batchnorm import batchnorm_backward, batchnorm_forward, batchnorm_init
from cnnlab.reference.conv import conv_backward, conv_forward, conv_forward_naive
from cnnlab.reference.dropout import dropout_backward, dropout_forward
from cnnlab.reference.gradcheck import numerical_gradient, rel_error
from cnnlab.reference.layers import (linear_backward, linear_forward, relu_backward,
                                     relu_forward, sigmoid_backward, sigmoid_forward,
                                     softmax_cross_entropy, tanh_backward, tanh_forward)
from cnnlab.reference.lenet import NumpyLeNet5, lenet_accuracy, train_epoch, train_step
from cnnlab.reference.mlp import (MLPLayer, mlp_backward, mlp_forward, mlp_init, mlp_loss,
                                  mlp_train)
from cnnlab.reference.perceptron import (PerceptronResult, geometric_margin,
                                         novikoff_bound, perceptron_fit, radius)
from cnnlab.reference.pool import (avgpool_backward, avgpool_forward, maxpool_backward,
                                   maxpool_forward)

__all__ = [
    "linear_forward", "linear_backward", "relu_forward", "relu_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "softmax_cross_entropy",
    "conv_forward_naive", "conv_forward", "conv_backward",
    "maxpool_forward", "maxpool_backward", "avgpool_forward", "avgpool_backward",
    "dropout_forward", "dropout_backward",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_init",
    "perceptron_fit", "PerceptronResult", "radius", "geometric_margin",
    "novikoff_bound",
    "MLPLayer", "mlp_init", "mlp_forward", "mlp_loss", "mlp_backward", "mlp_train",
    "numerical_gradient", "rel_error",
    "NumpyLeNet5", "train_step", "train_epoch", "lenet_accuracy",
]
