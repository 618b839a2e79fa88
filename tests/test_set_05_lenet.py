"""Problem set 05 (LeNet-5): the solution passes every test cell, the untouched exercise fails
every one, and each mistake in the network or the training loop loses points.

Mistakes in the network are run on the notebook up to the network's tests (the training task
after them takes seconds and does not depend on them); mistakes in the loop run it all."""
from pathlib import Path

import nbformat
import pytest

from tests.setlib import run_cells

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "05_lenet.ipynb"
TESTS = ["test_lenet5_structure", "test_lenet5_forward", "test_train_lenet5"]
NETWORK_TESTS = TESTS[:2]


@pytest.fixture(scope="module")
def network_part(tmp_path_factory):
    """The solution's cells up to the last test of the network (task 1)."""
    nb = nbformat.read(SOLUTION, as_version=4)
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells]
    nb.cells = nb.cells[:ids.index(NETWORK_TESTS[-1]) + 1]
    path = tmp_path_factory.mktemp("set05") / SOLUTION.name
    nbformat.write(nb, path)
    return path


F6_AND_OUTPUT = ("nn.Linear(120, 84), nn.ReLU(),                                  # F6\n"
                 "            nn.Linear(84, 10),")
C1_TO_F5 = ("nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),      # C1, S2\n"
            "            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),                # C3, S4\n"
            "        )\n"
            "        self.classifier = nn.Sequential(\n"
            "            nn.Flatten(),\n"
            "            nn.Linear(16 * 5 * 5, 120)")


def resized(**changes):
    """C1 to F5 with some layers changed and F5 resized to the flattened size that results."""
    return C1_TO_F5, C1_TO_F5.replace("16 * 5 * 5", changes.pop("f5")).replace(*changes.pop("layer"))


# mistake in the network: ((text in the solution, the mistake), test cells that must fail)
NETWORK_MISTAKES = {
    "F6 missing": ((F6_AND_OUTPUT, "nn.Linear(120, 10),"), NETWORK_TESTS),
    "C3 with 3x3 filters": (resized(layer=("nn.Conv2d(6, 16, 5)", "nn.Conv2d(6, 16, 3)"), f5="16 * 6 * 6"), NETWORK_TESTS),
    "C1 without padding": (resized(layer=("padding=2", "padding=0"), f5="16 * 4 * 4"), NETWORK_TESTS),
    "S4 missing": (resized(layer=("nn.ReLU(), nn.MaxPool2d(2),                # C3, S4", "nn.ReLU(),"), f5="16 * 10 * 10"),
                   NETWORK_TESTS),
    "average instead of max pooling": (("nn.MaxPool2d(2)", "nn.AvgPool2d(2)"), ["test_lenet5_forward"]),
    "tanh instead of ReLU": (("nn.ReLU()", "nn.Tanh()"), ["test_lenet5_forward"]),
    "no ReLU after F5": (("nn.Linear(16 * 5 * 5, 120), nn.ReLU(),", "nn.Linear(16 * 5 * 5, 120),"), ["test_lenet5_forward"]),
    "no ReLU after F6": (("nn.Linear(120, 84), nn.ReLU(),", "nn.Linear(120, 84),"), ["test_lenet5_forward"]),
    "ReLU after the output layer": (("nn.Linear(84, 10),", "nn.Linear(84, 10), nn.ReLU(),"), ["test_lenet5_forward"]),
    "softmax in forward": (("return self.classifier(self.features(x))",
                            "return torch.softmax(self.classifier(self.features(x)), dim=1)"), ["test_lenet5_forward"]),
    # creating the classifier first reorders model.parameters(), so given weights load into the wrong layers
    "classifier created before the features": (
        ("super().__init__()", "super().__init__()\n        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), "
                               "nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))"),
        NETWORK_TESTS),
}


@pytest.mark.parametrize("mistake", NETWORK_MISTAKES)
def test_network_mistake_loses_points(mistake, network_part):
    edit, failing = NETWORK_MISTAKES[mistake]
    errors = run_cells(network_part, edits={"lenet5": edit})
    assert all(errors[name] is not None for name in failing), (mistake, errors)


def test_relu_after_max_pooling_is_no_mistake(network_part):
    """The set's aside: max pooling commutes with ReLU, so the order does not change the output."""
    edit = ("nn.ReLU(), nn.MaxPool2d(2)", "nn.MaxPool2d(2), nn.ReLU()")
    assert run_cells(network_part, edits={"lenet5": edit}) == dict.fromkeys(NETWORK_TESTS)


# mistake in the training loop: (text in the solution, the mistake)
TRAINING_MISTAKES = {
    "gradients never cleared": ("optimizer.zero_grad()\n", ""),
    "learning rate ignored": ("torch.optim.Adam(model.parameters(), lr=lr)", "torch.optim.Adam(model.parameters())"),
    "one epoch whatever epochs says": ("for _ in range(epochs):", "for _ in range(1):"),
    "mean of the batch means": ("total += loss.item() * len(batch)\n        losses.append(total / len(X))",
                                "total += loss.item()\n        losses.append(total / -(-len(X) // batch_size))"),
}


@pytest.mark.parametrize("mistake", TRAINING_MISTAKES)
def test_training_mistake_loses_points(mistake):
    errors = run_cells(SOLUTION, edits={"train_lenet5": TRAINING_MISTAKES[mistake]})
    assert errors["test_train_lenet5"] is not None, mistake
