"""cnnlab: the helper package behind the course "An Introduction to Convolutional Neural Networks".

Modules
-------
arith      the lecture's formulas (output size, parameter count, receptive field)
config     fast mode (``CNNLAB_FAST``), device choice, seeding
data       MNIST / Fashion-MNIST / digits loaders and the lecture's synthetic sets
plotting   Okabe-Ito colours and small plotting helpers shared by the notebooks
"""

__version__ = "0.1.0"
