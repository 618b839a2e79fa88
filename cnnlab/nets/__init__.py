"""Torch models of the lecture's second half: LeNet-5, AlexNet, VGG, GoogLeNet, ResNet,
batch normalization, and how to measure a model (:mod:`cnnlab.nets.measure`: a
layer-by-layer :func:`summary`, :func:`count_parameters`, :func:`count_mult_adds`;
:mod:`cnnlab.nets.depth`: :func:`weight_layer_depth`, depth as the papers count it).

Small versions (``LeNet5``, ``SmallAlexNet``, ``VGG``, ``SmallGoogLeNet``, ``ResNet``,
``PlainNet``) train on 28x28 or 32x32 images on a CPU; the full-size ImageNet networks
(``AlexNet``, ``vgg16``, ``googlenet``, ``resnet152``) are for counting parameters, best
built on the meta device so nothing is allocated::

    with torch.device("meta"):
        count_parameters(vgg16())          # 138,357,544

Every model is a :class:`Net`: an ``nn.Sequential`` of named layers with an
``input_shape`` ``(C, H, W)`` that it checks, so a wrong image shape is a clear error.
"""
from cnnlab.nets.alexnet import AlexNet, LocalResponseNorm, SmallAlexNet
from cnnlab.nets.base import Net, in_mode, model_device
from cnnlab.nets.batchnorm import BatchNorm2d
from cnnlab.nets.depth import weight_layer_depth
from cnnlab.nets.inception import (GOOGLENET_TABLE, GoogLeNet, Inception, SmallGoogLeNet, googlenet,
                                   googlenet_vs_alexnet)
from cnnlab.nets.lenet import LeNet5
from cnnlab.nets.resnet import IMAGENET_DEPTHS, BasicBlock, Bottleneck, PlainNet, ResNet, resnet152
from cnnlab.nets.measure import SummaryRow, count_mult_adds, count_parameters, summary
from cnnlab.nets.vgg import SMALL_CONFIG, VGG, VGG_CONFIGS, vgg16

__all__ = [
    "Net", "in_mode", "model_device", "summary", "count_parameters", "count_mult_adds", "SummaryRow",
    "LeNet5", "SmallAlexNet", "AlexNet",
    "LocalResponseNorm", "VGG", "VGG_CONFIGS", "SMALL_CONFIG", "vgg16", "Inception", "SmallGoogLeNet",
    "GoogLeNet", "GOOGLENET_TABLE", "googlenet", "googlenet_vs_alexnet", "BasicBlock", "Bottleneck",
    "ResNet", "PlainNet", "IMAGENET_DEPTHS", "resnet152", "BatchNorm2d", "weight_layer_depth",
]
