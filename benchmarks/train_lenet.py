"""LeNet-5 on real Fashion-MNIST: ``cnnlab.train.fit`` against a minimal hand-written loop.

Both train the same initial weights with the same optimizer, learning-rate schedule,
batch size, batch order, dtype and memory format, in the same run, one after the other;
the script reports the seconds of every epoch, the final test accuracy of each and the
ratio of ``fit``'s training time to the hand loop's (target: at most 1.1). The default
recipe (Adam, lr 1e-3, batch 128, 15 epochs) is the accuracy recipe, the same on every
device; the GPU speed target is measured with ``--epochs 10 --batch-size 512 --lr 3e-3``.
Optionally it also trains the best small network of the course and the baselines::

    CNNLAB_DATA=../shared/data python benchmarks/train_lenet.py --json
    python benchmarks/train_lenet.py --device cuda --epochs 10 --batch-size 512 --lr 3e-3 --json
    python benchmarks/train_lenet.py --no-lenet --net vgg-bn --net-epochs 8
    python benchmarks/train_lenet.py --no-lenet --svm --svm-n-train 10000

On CUDA the LeNet part also runs ``fit`` without CUDA graphs, to show what they buy.
Timings on a shared machine are noisy: compare numbers from the same run only.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnlab import baselines, config  # noqa: E402
from cnnlab.data import load_fashion_mnist  # noqa: E402
from cnnlab.nets import VGG, LeNet5, ResNet, count_parameters  # noqa: E402
from cnnlab.data import as_tensors  # noqa: E402
from cnnlab.train import TrainOptions, evaluate, fit  # noqa: E402

#: The small networks that ``--net`` trains, with their recipes.
NETS = {
    "vgg-bn": dict(build=lambda: VGG(batch_norm=True, dropout=0.3), optimizer="sgd", lr=0.05,
                   weight_decay=5e-4, schedule="cosine"),
    "resnet": dict(build=lambda: ResNet(20), optimizer="sgd", lr=0.1, weight_decay=5e-4, schedule="cosine"),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def hand_loop(model, X, y, *, epochs, batch_size, lr, optimizer, momentum, schedule, device, amp, channels_last,
              seed):
    """The minimal loop: data on the device, shuffle, forward, loss, backward, step (and the
    cosine learning rate, if asked). Returns the seconds of each epoch. Same batch order,
    random numbers and learning rates as ``fit(seed=seed)``."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(device).to(memory_format=memory_format).train()
    X, y = X.to(device).contiguous(memory_format=memory_format), y.to(device)
    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    seconds, steps = [], math.ceil(len(X) / batch_size)
    for epoch in range(epochs):
        _sync(device)
        start = time.perf_counter()
        perm = torch.randperm(len(X), generator=order).to(device)
        for step in range(steps):
            if schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (epoch * steps + step) / (epochs * steps)))
            idx = perm[step * batch_size:(step + 1) * batch_size]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def _fit_record(history) -> dict:
    return {"epoch_seconds": history.seconds, "total_seconds": sum(history.seconds),
            "setup_seconds": history.setup_seconds, "train_loss": history.train_loss,
            "train_acc": history.train_acc, "samples_per_epoch": history.samples[0],
            "cuda_graphs": history.cuda_graphs}


def run_lenet(args, device, train, test) -> dict:
    """fit vs the hand loop on identical LeNet-5 copies (same optimizer and schedule).

    With ``--repeats R`` each side trains R times, in the order hand, fit, fit, hand, ...
    so that a machine getting busier or quieter during the run favours neither side; the
    ratio compares the summed times. Accuracies are those of the first run of each side."""
    on_cuda = device.type == "cuda"
    torch.manual_seed(args.seed)
    initial = LeNet5()
    common = dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer, momentum=0.9,
                  schedule=args.schedule)
    out = {"model": "LeNet5", "parameters": count_parameters(initial), "repeats": args.repeats, **common}
    X, y = as_tensors(train, "train")
    runs = {"hand_loop": [], "fit": []}
    for r in range(args.repeats):
        for side in (("hand_loop", "fit") if r % 2 == 0 else ("fit", "hand_loop")):
            model = copy.deepcopy(initial)
            if side == "hand_loop":
                seconds = hand_loop(model, X, y, device=device, amp=on_cuda, channels_last=on_cuda, seed=args.seed,
                                    **common)
                record = {"epoch_seconds": seconds, "total_seconds": sum(seconds)}
            else:
                history = fit(model, train, device=device, seed=args.seed, epochs=args.epochs,
                              batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                              options=TrainOptions(momentum=0.9, schedule=args.schedule, progress=False))
                record = _fit_record(history)
            record["test_acc"] = evaluate(model, test)
            runs[side].append(record)
    for side, records in runs.items():
        out[side] = {**records[0], "total_seconds_all": [r["total_seconds"] for r in records]}
    total = {side: sum(r["total_seconds"] for r in records) for side, records in runs.items()}
    epochs = {side: [s for r in records for s in r["epoch_seconds"]] for side, records in runs.items()}
    out["fit_over_hand"] = total["fit"] / total["hand_loop"]
    out["fit_over_hand_median_epoch"] = statistics.median(epochs["fit"]) / statistics.median(epochs["hand_loop"])
    if on_cuda:
        plain = copy.deepcopy(initial)
        history = fit(plain, train, device=device, seed=args.seed, epochs=args.epochs, batch_size=args.batch_size,
                      lr=args.lr, optimizer=args.optimizer,
                      options=TrainOptions(momentum=0.9, schedule=args.schedule, progress=False, cuda_graphs=False))
        out["fit_without_cuda_graphs"] = {**_fit_record(history), "test_acc": evaluate(plain, test)}
    return out


def run_net(args, device, train, test) -> dict:
    """Train one of :data:`NETS` with ``fit`` (its own recipe) and report test accuracy."""
    recipe = NETS[args.net]
    torch.manual_seed(args.seed)
    model = recipe["build"]()
    start = time.perf_counter()
    history = fit(model, train, test, epochs=args.net_epochs, batch_size=args.net_batch_size, lr=recipe["lr"],
                  optimizer=recipe["optimizer"], desc=args.net, device=device, seed=args.seed,
                  options=TrainOptions(weight_decay=recipe["weight_decay"], schedule=recipe["schedule"],
                                       progress=args.progress))
    record = _fit_record(history)
    record.update(test_acc=evaluate(model, test), model=args.net, parameters=count_parameters(model), epochs=args.net_epochs,
                  batch_size=args.net_batch_size, lr=recipe["lr"], optimizer=recipe["optimizer"],
                  weight_decay=recipe["weight_decay"], schedule=recipe["schedule"], val_acc=history.val_acc,
                  wall_seconds=time.perf_counter() - start)
    return record


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: cnnlab.config.get_device)")
    parser.add_argument("--epochs", type=int, default=15, help="LeNet-5 epochs (default 15)")
    parser.add_argument("--batch-size", type=int, default=128, help="LeNet-5 batch (default 128)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="train each side this many times, alternating the order (default 1)")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="adam",
                        help="LeNet-5 optimizer (default adam; sgd has momentum 0.9)")
    parser.add_argument("--lr", type=float, default=None, help="LeNet-5 peak learning rate (default 1e-3 adam, 0.05 sgd)")
    parser.add_argument("--schedule", choices=["constant", "cosine"], default="constant",
                        help="LeNet-5 learning-rate schedule (default constant)")
    parser.add_argument("--n-train", type=int, default=None, help="train on the first N images (default all 60000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads for CPU runs")
    parser.add_argument("--no-lenet", action="store_true", help="skip the LeNet-5 fit/hand-loop comparison")
    parser.add_argument("--net", choices=list(NETS), default=None,
                        help="also train this small network with its recipe (see NETS)")
    parser.add_argument("--net-epochs", type=int, default=8)
    parser.add_argument("--net-batch-size", type=int, default=128)
    parser.add_argument("--progress", action="store_true", help="show fit's progress bar for --net")
    parser.add_argument("--svm", action="store_true", help="also run the RBF SVM and logistic regression")
    parser.add_argument("--svm-n-train", type=int, default=10_000, help="SVM training images (default 10000)")
    parser.add_argument("--svm-n-test", type=int, default=None, help="SVM test images (default all 10000)")
    args = parser.parse_args(argv)

    device = config.get_device(args.device)
    on_cuda = device.type == "cuda"
    args.lr = args.lr or (1e-3 if args.optimizer == "adam" else 0.05)
    if args.threads:
        torch.set_num_threads(args.threads)
    train = load_fashion_mnist("train", download=False)
    test = load_fashion_mnist("test", download=False)
    if args.n_train:
        train = (train[0][:args.n_train], train[1][:args.n_train])
    name = torch.cuda.get_device_name() if on_cuda else f"{platform.machine()}, {os.cpu_count()} cores"
    result = {"device": str(device), "device_name": name,
              "torch": torch.__version__, "threads": torch.get_num_threads(), "data": "fashion-mnist",
              "n_train": len(train[0]), "n_test": len(test[0])}
    if not args.no_lenet:
        result["lenet"] = run_lenet(args, device, train, test)
    if args.net:
        result["net"] = run_net(args, device, train, test)
    if args.svm:
        result["svm"] = baselines.svm_baseline(train, test, n_train=args.svm_n_train, n_test=args.svm_n_test).to_dict()
        result["linear"] = baselines.linear_baseline(train, test, n_train=args.svm_n_train,
                                                     n_test=args.svm_n_test).to_dict()
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        _print_text(result)
    return result


def _print_text(result: dict) -> None:
    print(f"device {result['device']} ({result['device_name']}), torch {result['torch']}, "
          f"{result['threads']} threads, {result['n_train']} training images")
    if "lenet" in result:
        r = result["lenet"]
        print(f"LeNet-5, {r['epochs']} epochs, batch {r['batch_size']}, {r['optimizer']} lr {r['lr']} ({r['schedule']})")
        for key in ("hand_loop", "fit", "fit_without_cuda_graphs"):
            if key in r:
                secs = ", ".join(f"{s:.2f}" for s in r[key]["epoch_seconds"])
                print(f"  {key:<24} total {r[key]['total_seconds']:7.2f} s  test acc {r[key]['test_acc']:.4f}"
                      f"  epochs [{secs}]")
        print(f"  fit / hand loop: {r['fit_over_hand']:.3f} (median epoch {r['fit_over_hand_median_epoch']:.3f})")
    if "net" in result:
        r = result["net"]
        print(f"{r['model']} ({r['parameters']:,} parameters), {r['epochs']} epochs: test acc {r['test_acc']:.4f}, "
              f"{r['total_seconds']:.0f} s; val acc per epoch {[round(v, 4) for v in r['val_acc']]}")
    for key in ("svm", "linear"):
        if key in result:
            r = result[key]
            print(f"{r['name']} on {r['n_train']} images: test acc {r['accuracy']:.4f}, "
                  f"fit {r['fit_seconds']:.1f} s, predict {r['predict_seconds']:.1f} s")


if __name__ == "__main__":
    main()
