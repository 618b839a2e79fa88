"""Published figures the course puts next to its own measurements.

Each entry cites its source; the notebooks compute what they can (parameter counts,
receptive fields) and show these published numbers beside the computed ones.
"""
from __future__ import annotations

from dataclasses import dataclass

#: The lecture's "brief history" (the year each idea appeared, and its source).
TIMELINE = [
    (1957, "Perceptron", "Rosenblatt, The perceptron (1957/1958)"),
    (1962, "Perceptron convergence theorem", "Block (1962); Novikoff (1962)"),
    (1969, "XOR and the limits of perceptrons", "Minsky & Papert, Perceptrons (1969)"),
    (1980, "Neocognitron", "Fukushima, Biol. Cybernetics 36 (1980)"),
    (1986, "Back-propagation", "Rumelhart, Hinton & Williams, Nature 323 (1986)"),
    (1989, "Convolutional networks trained by back-propagation", "LeCun et al., Neural Computation 1 (1989)"),
    (1995, "Support vector machines", "Cortes & Vapnik, Machine Learning 20 (1995)"),
    (1997, "LSTM", "Hochreiter & Schmidhuber, Neural Computation 9 (1997)"),
    (1998, "LeNet-5 on MNIST", "LeCun, Bottou, Bengio & Haffner, Proc. IEEE 86 (1998)"),
    (2012, "AlexNet", "Krizhevsky, Sutskever & Hinton, NeurIPS (2012)"),
    (2014, "VGG", "Simonyan & Zisserman, arXiv:1409.1556 (2014)"),
    (2014, "GoogLeNet / Inception", "Szegedy et al., arXiv:1409.4842 (2014)"),
    (2015, "ResNet", "He, Zhang, Ren & Sun, arXiv:1512.03385 (2015)"),
    (2015, "Batch normalization", "Ioffe & Szegedy, ICML (2015)"),
]


@dataclass(frozen=True)
class ImageNetNetwork:
    """An ILSVRC classification entry: depth (weight layers), top-5 error (%), parameters."""
    name: str
    year: int
    depth: int
    top5_error: float
    params_millions: float | None
    source: str


#: The "depth as a function of year" slide, with the published top-5 errors
#: (ILSVRC test set) and parameter counts of each paper.
IMAGENET_NETWORKS = [
    ImageNetNetwork("AlexNet", 2012, 8, 16.4, 60.0, "Krizhevsky et al. 2012, Table 2 (5 CNNs, no extra data)"),
    ImageNetNetwork("VGG-19", 2014, 19, 7.3, 144.0, "Simonyan & Zisserman 2014, ILSVRC-2014 submission"),
    ImageNetNetwork("GoogLeNet", 2014, 22, 6.67, 6.8, "Szegedy et al. 2014, Table 2 (7 models, 144 crops)"),
    ImageNetNetwork("ResNet-152", 2015, 152, 3.57, 60.2, "He et al. 2015, Table 5 (ensemble); parameters as counted by torchvision"),
]

#: LeCun et al. 1998, Fig. 9: test error (%) on MNIST of the methods the lecture compares.
LECUN_1998_MNIST_ERRORS = {
    "linear classifier": 12.0,
    "k-NN (Euclidean)": 5.0,
    "SVM, polynomial degree 4": 1.1,
    "LeNet-1": 1.7,
    "LeNet-4": 1.1,
    "LeNet-5": 0.95,
}

#: Xiao, Rasul & Vollgraf 2017 (Fashion-MNIST), benchmark table: best SVC (RBF) test accuracy.
FASHION_MNIST_SVC_ACCURACY = 0.897
