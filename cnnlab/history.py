"""Published figures the course puts next to its own measurements.

Each entry cites its source; the notebooks compute what they can (parameter counts,
receptive fields) and show these published numbers beside the computed ones.
"""
from __future__ import annotations

from dataclasses import dataclass

#: The lecture's "brief history" (the year each idea appeared, and its source).
TIMELINE = [
    (1951, "Stochastic approximation (SGD)", "Robbins & Monro, Ann. Math. Statist. 22 (1951)"),
    (1957, "Perceptron", "Rosenblatt, The perceptron (1957/1958)"),
    (1962, "Perceptron convergence theorem", "Block (1962); Novikoff (1962)"),
    (1969, "XOR and the limits of perceptrons", "Minsky & Papert, Perceptrons (1969)"),
    (1980, "Neocognitron", "Fukushima, Biol. Cybernetics 36 (1980)"),
    (1986, "Back-propagation", "Rumelhart, Hinton & Williams, Nature 323 (1986)"),
    (1989, "Convolutional networks trained by back-propagation", "LeCun et al., Neural Computation 1 (1989)"),
    (1992, "Support vector machines",
     "Boser, Guyon & Vapnik, COLT (1992): maximum margin with kernels; "
     "Cortes & Vapnik, Machine Learning 20 (1995): the soft margin"),
    (1997, "LSTM", "Hochreiter & Schmidhuber, Neural Computation 9 (1997)"),
    (1998, "LeNet-5 on MNIST", "LeCun, Bottou, Bengio & Haffner, Proc. IEEE 86 (1998)"),
    (2012, "AlexNet", "Krizhevsky, Sutskever & Hinton, NeurIPS (2012)"),
    (2014, "VGG", "Simonyan & Zisserman, arXiv:1409.1556 (2014)"),
    (2014, "GoogLeNet / Inception", "Szegedy et al., arXiv:1409.4842 (2014)"),
    (2015, "ResNet", "He, Zhang, Ren & Sun, arXiv:1512.03385 (2015)"),
    (2015, "Batch normalization", "Ioffe & Szegedy, ICML (2015)"),
]

#: Where the lecture's slides date an idea of :data:`TIMELINE` differently: idea ->
#: (the slide's year, why the timeline uses its year).
SLIDE_YEARS = {
    "Stochastic approximation (SGD)": (
        1950, "the slides say 'Robbins–Monro 1950'; their paper appeared in Ann. Math. Statist. 22(3), 400–407, in 1951"),
    "Neocognitron": (
        1979, "the slide says 1979, the year of Fukushima's first (Japanese) paper in Trans. IECE Japan; "
              "the Biol. Cybernetics paper the same slide shows is from 1980"),
    "Support vector machines": (
        1994, "the slide says 'Vladimir Vapnik, 1994'; the maximum-margin classifier with kernels was "
              "published by Boser, Guyon & Vapnik at COLT in 1992, and Cortes & Vapnik's 'Support-vector "
              "networks' (Machine Learning 20, 1995) added the soft margin"),
}


@dataclass(frozen=True)
class ImageNetNetwork:
    """An ILSVRC classification entry: depth (weight layers), top-5 error (%), parameters, and
    the place its team took in that year's classification task (1 = the winner)."""
    name: str
    year: int
    depth: int
    top5_error: float
    params_millions: float | None
    source: str
    classification_place: int


#: The "depth as a function of year" slide, with the published top-5 errors
#: (ILSVRC test set) and parameter counts of each paper. ``depth`` is the paper's count of
#: weight layers; :func:`cnnlab.nets.depth.weight_layer_depth` recounts it on ``cnnlab.nets``' models.
#: Each error is an ensemble's (several networks averaged), not one network's. Three of the
#: four won the classification task; VGG came second in 2014 (after GoogLeNet) and won localisation.
IMAGENET_NETWORKS = [
    ImageNetNetwork("AlexNet", 2012, 8, 16.4, 60.0,
                    "Krizhevsky et al. 2012, Table 2 (5 CNNs, no extra data; the winning entry, "
                    "7 CNNs with extra data, had 15.3%)", 1),
    ImageNetNetwork("VGG-19", 2014, 19, 7.3, 144.0,
                    "Simonyan & Zisserman 2014, Table 7: the ILSVRC-2014 submission, an ensemble of 7 networks "
                    "(2nd in classification, 1st in localisation); parameters: Table 2, configuration E", 2),
    ImageNetNetwork("GoogLeNet", 2014, 22, 6.67, 6.8,
                    "Szegedy et al. 2014, Table 2 (7 models, 144 crops); parameters: Table 1's params column "
                    "sums to 6,798K weights, read here as K = 1,000, while the table counts in K = 1,024 "
                    "(its 1024 x 1000 classifier is listed as 1000K), i.e. 6.96 M", 1),
    ImageNetNetwork("ResNet-152", 2015, 152, 3.57, 60.2,
                    "He et al. 2015, Table 5 (ensemble); parameters as counted by torchvision (the paper "
                    "states none)", 1),
]

#: Szegedy et al. 2014, Table 1: the "params" of the rows that are not Inception modules, in
#: units of K = 1024 weights (the modules' rows are in ``cnnlab.experiments.inception.PAPER_TABLE1``).
GOOGLENET_TABLE1_OTHER_PARAMS_K = {"convolution 7x7/2": 2.7, "convolution 3x3 (after a 1x1 reduce)": 112,
                                   "linear": 1000}

#: ILSVRC-2012 (Krizhevsky et al. 2012, Table 2): top-5 error (%) on the test set.
ILSVRC2012_TOP5_ERRORS = {
    "SIFT + Fisher vectors (second-best entry)": 26.2,
    "5 CNNs (no extra data)": 16.4,
    "7 CNNs, 2 of them pre-trained on ImageNet Fall 2011 (the winning entry)": 15.3,
}

#: The "Around the year of 2012" slide's ImageNet sizes and the published ones.
IMAGENET_SIZES = {
    "slide": {"train": 1_200_000, "test": 100_000, "classes": 1000},
    # Russakovsky et al. 2015 (IJCV 115), Table 2: ILSVRC 2012-2014 classification
    "ILSVRC-2012": {"train": 1_281_167, "validation": 50_000, "test": 100_000, "classes": 1000},
    # Krizhevsky et al. 2012, Sec. 2: "roughly 1.2 million training images, 50,000 validation
    # images, and 150,000 testing images" (the ILSVRC-2010 split, whose test labels are public)
    "ILSVRC-2010": {"train": 1_200_000, "validation": 50_000, "test": 150_000, "classes": 1000},
}

#: The "Around the year of 2012" slide's speech result: TIMIT phone error rate (%) on the
#: core test set, speaker-independent.
TIMIT_PHONE_ERROR = {
    "deep belief network (Mohamed, Dahl & Hinton, NIPS workshop 2009)": 23.0,
    "mcRBM features + deep belief network (Dahl, Ranzato, Mohamed & Hinton, NeurIPS 2010)": 20.5,
}

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
