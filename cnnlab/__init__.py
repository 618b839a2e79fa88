"""cnnlab: the helper package behind the course "An Introduction to Convolutional Neural Networks".

Modules
-------
arith        the lecture's formulas: output size, parameter count, receptive field
config       fast mode (``CNNLAB_FAST``), the device (CUDA, MPS, CPU), seeding
data         MNIST / Fashion-MNIST (verified downloads), digits, separable points, XOR,
             and all image shaping (scaling, channel axis, flattening, resizing, shifting)
plotting     Okabe-Ito colours, image grids, small arrays drawn as grids of numbers
history      published figures the notebooks compare against (with sources)
reference    NumPy layers, forward and backward, written to be read
nets         torch models: LeNet-5, AlexNet, VGG, Inception/GoogLeNet, ResNet, batch norm;
             measuring them (summary, parameter and multiply-add counts, depth)
train        one training loop (``fit``), evaluation, batch-norm re-estimation, reports
baselines    scikit-learn SVM, linear and random-forest classifiers on the same images
widgets      ConvExplorer, PoolExplorer, ReceptiveFieldExplorer
experiments  the experiments of individual lecture notebooks
grading      exercises from solutions; automatic grading
notebooks    keep committed notebooks clean (``cnnlab notebook pin|strip``)
"""

__version__ = "0.1.0"
