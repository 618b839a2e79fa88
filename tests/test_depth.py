"""cnnlab.nets.depth: weight layers on the longest path, as the papers count depth."""
import pytest
import torch
from torch import nn

from cnnlab import history, nets
from cnnlab.nets.depth import weight_layer_depth


class TwoBranches(nn.Module):
    """A 1-conv branch beside a 3-conv branch, then a linear layer: depth 3 + 1, five weight modules."""

    def __init__(self):
        super().__init__()
        self.short = nn.Conv2d(1, 2, 1)
        self.long = nn.Sequential(*[nn.Conv2d(c, 2, 3, padding=1) for c in (1, 2, 2)])
        self.fc = nn.Linear(4 * 5 * 5, 3)

    def forward(self, x):
        return self.fc(torch.cat([self.short(x), self.long(x)], dim=1).flatten(1))


class Reused(nn.Module):
    """One conv applied twice in a row: two layers on the path, one module."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(torch.relu(self.conv(x)))) + x


def test_parallel_branches_add_their_longest_branch_only():
    model = TwoBranches()
    assert sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules()) == 5
    assert weight_layer_depth(model, (1, 5, 5)) == 4


def test_a_layer_used_twice_on_one_path_counts_twice():
    assert weight_layer_depth(Reused(), (2, 4, 4)) == 2


@pytest.mark.parametrize("depth", [8, 20, 32])
def test_small_resnets_have_the_depth_they_are_built_with(depth):
    assert weight_layer_depth(nets.ResNet(depth, width=4), (1, 28, 28)) == depth
    assert weight_layer_depth(nets.PlainNet(depth, width=4), (1, 28, 28)) == depth


def test_the_imagenet_networks_have_their_papers_depths():
    builders = {"AlexNet": (nets.AlexNet, (3, 227, 227)),
                "VGG-19": (lambda: nets.VGG(nets.VGG_CONFIGS[19], in_channels=3, input_size=224,
                                            num_classes=1000, hidden=(4096, 4096)), (3, 224, 224)),
                "GoogLeNet": (nets.googlenet, (3, 224, 224)),
                "ResNet-152": (nets.resnet152, (3, 224, 224))}
    with torch.device("meta"):
        counted = {name: weight_layer_depth(build(), shape) for name, (build, shape) in builders.items()}
    assert counted == {net.name: net.depth for net in history.IMAGENET_NETWORKS}


def test_bad_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="input_shape must be"):
        weight_layer_depth(TwoBranches(), (5, 5))
