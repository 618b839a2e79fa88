"""cnnlab.history: the published figures agree with each other and with the course's models."""
import torch
from torch import nn

from cnnlab import history, nets
from cnnlab.experiments.inception import PAPER_TABLE1


def test_timeline_is_in_order_and_each_slide_date_correction_names_an_idea_on_it():
    years = [year for year, _, _ in history.TIMELINE]
    assert years == sorted(years)
    by_idea = {idea: year for year, idea, _ in history.TIMELINE}
    for idea, (slide_year, why) in history.SLIDE_YEARS.items():
        assert idea in by_idea, idea
        assert slide_year != by_idea[idea] and str(slide_year) in why and str(by_idea[idea]) in why


def test_svm_is_dated_by_the_kernel_machine_and_the_soft_margin_paper_is_named():
    year, _, source = next(entry for entry in history.TIMELINE if entry[1] == "Support vector machines")
    assert year == 1992 and "Boser, Guyon & Vapnik" in source
    assert "Cortes & Vapnik" in source and "soft margin" in source
    slide_year, why = history.SLIDE_YEARS["Support vector machines"]
    assert slide_year == 1994 and "1992" in why and "1995" in why and "soft margin" in why


def test_one_winner_per_year_and_vgg_second_with_an_ensemble_error():
    winners = [net.year for net in history.IMAGENET_NETWORKS if net.classification_place == 1]
    assert sorted(winners) == sorted(set(winners))          # at most one classification winner a year
    vgg = next(net for net in history.IMAGENET_NETWORKS if net.name == "VGG-19")
    googlenet = next(net for net in history.IMAGENET_NETWORKS if net.name == "GoogLeNet")
    assert vgg.classification_place == 2 and googlenet.classification_place == 1 and vgg.year == googlenet.year
    assert googlenet.top5_error < vgg.top5_error             # the winner had the lower error
    assert "ensemble of 7" in vgg.source and "localisation" in vgg.source


def test_alexnet_entry_is_the_five_cnn_result_not_the_winning_entry():
    alexnet = next(net for net in history.IMAGENET_NETWORKS if net.name == "AlexNet")
    errors = history.ILSVRC2012_TOP5_ERRORS
    assert alexnet.top5_error in errors.values()
    assert min(errors.values()) < alexnet.top5_error < max(errors.values())


def test_imagenet_sizes_slide_matches_the_2012_split():
    sizes = history.IMAGENET_SIZES
    assert sizes["slide"]["test"] == sizes["ILSVRC-2012"]["test"] != sizes["ILSVRC-2010"]["test"]
    assert sizes["ILSVRC-2012"]["train"] // 100_000 * 100_000 == sizes["slide"]["train"]


def test_googlenet_table1_counts_weights_in_units_of_1024():
    table_k = sum(k for k, _ in PAPER_TABLE1.values()) + sum(history.GOOGLENET_TABLE1_OTHER_PARAMS_K.values())
    with torch.device("meta"):
        model = nets.googlenet()
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert abs(table_k * 1024 / weights - 1) < 0.01              # K = 1024 matches the model
    assert abs(table_k * 1000 / weights - 1) > 0.02              # K = 1000 does not
    googlenet = next(net for net in history.IMAGENET_NETWORKS if net.name == "GoogLeNet")
    assert round(table_k / 1000, 1) == googlenet.params_millions  # the quoted 6.8 M reads K as 1000
    assert "1024" in googlenet.source.replace(",", "")
