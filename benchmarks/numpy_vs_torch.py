"""How fast is the NumPy reference next to torch on the CPU?

Measures, in one process and one run (float32, NCHW, CPU):

* ``conv_forward`` + ``conv_backward`` (dx, dw, db) against ``torch.nn.functional.conv2d``
  forward + backward for LeNet C1 ``(256,1,28,28)`` 6 filters 5x5 pad 2, LeNet C3
  ``(256,6,14,14)`` 16 filters 5x5, and a VGG-like ``(32,64,32,32)`` 64 filters 3x3 pad 1;
* ``maxpool_forward`` + ``maxpool_backward`` against ``max_pool2d``, 2x2 stride 2 on LeNet's
  S2 input ``(256,6,28,28)``;
* one epoch of the NumPy LeNet-5 (``cnnlab.reference.train_epoch``) against one epoch of
  the same network in torch eager (``cnnlab.nets.LeNet5``), both SGD + momentum 0.9,
  batch 64, on real Fashion-MNIST (``CNNLAB_DATA``); ``--epoch-subset N`` times the first
  N images only.

The two sides take turns, ``--repeats`` timed calls each (``--epoch-repeats`` for the
epochs); the report gives the median time of each side and the ratio NumPy / torch
(``--json`` prints the same as JSON, with every individual time).

Fairness. Both libraries get the same number of threads (``--threads``, default 1):
torch through ``torch.set_num_threads``, NumPy's BLAS (OpenBLAS) through threadpoolctl.
One thread is the default because it compares the implementations rather than their
parallel scaling, and because on a shared machine two-thread pools on two cores keep
waiting for descheduled workers (3-20x slower, torch and NumPy alike, while other jobs
ran). Idle OpenBLAS and torch (OpenMP) workers spin for a while after a call and would
slow down whichever library runs next, so each timed call follows a short pause and
an untimed warm-up call of the same library (the epochs, seconds long, only the pause).

Memory. ``--malloc keep`` (the default) tells glibc to keep freed memory in the process
instead of returning it to the OS. The NumPy layers allocate fresh im2col buffers and
gradients for every batch, and with glibc's defaults each one page-faults again (about
40% of the NumPy epoch on the development machine). The setting applies to the whole
process, torch included; ``--malloc default`` measures without it.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_info, threadpool_limits

from cnnlab.data import DatasetUnavailable, load_fashion_mnist, to_nchw_float
from cnnlab.nets import LeNet5
from cnnlab.reference import (NumpyLeNet5, conv_backward, conv_forward, maxpool_backward,
                              maxpool_forward, train_epoch)

# name: (input shape, filters, kernel, padding, target ratio)
CONV_CASES = {
    "conv LeNet C1 (256,1,28,28) 6x5x5 p2": ((256, 1, 28, 28), 6, 5, 2, 6.0),
    "conv LeNet C3 (256,6,14,14) 16x5x5": ((256, 6, 14, 14), 16, 5, 0, 6.0),
    "conv VGG-like (32,64,32,32) 64x3x3 p1": ((32, 64, 32, 32), 64, 3, 1, 2.0),
}
POOL_SHAPE = (256, 6, 28, 28)
EPOCH_TARGET = 2.0
BATCH, LR, MOMENTUM = 64, 0.05, 0.9
SETTLE_S = 0.3


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks (no trimming, no per-block mmap). Returns
    False where this is not glibc (the benchmark then runs with the defaults)."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3                  # from <malloc.h>
    return bool(mallopt(m_trim_threshold, 2**30)) and bool(mallopt(m_mmap_threshold, 2**30))


def timed_pair(numpy_fn, torch_fn, repeats: int, warm_each: bool = True) -> dict[str, list]:
    """Wall-clock and CPU seconds per call of each side, the sides taking turns ``repeats``
    times. Keys: ``numpy_times``, ``torch_times`` (wall), ``numpy_cpu``, ``torch_cpu``.

    Before each timed call: a pause, so the other library's idle worker threads stop
    spinning (OpenBLAS spins for about 0.1 s after a call), then, if ``warm_each``, one
    untimed call of the same function. Taking turns spreads any change in the machine's
    load over both sides alike. CPU time (all threads of the process) does not count the
    time the process waits for a core, so with one thread it hardly depends on the load.
    """
    times = {f"{side}_{kind}": [] for side in ("numpy", "torch") for kind in ("times", "cpu")}
    for _ in range(repeats):
        for side, fn in (("numpy", numpy_fn), ("torch", torch_fn)):
            time.sleep(SETTLE_S)
            if warm_each:
                fn()
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times[f"{side}_cpu"].append(time.process_time() - cpu)
            times[f"{side}_times"].append(time.perf_counter() - wall)
    return times


def conv_pair(shape, k, f, p, rng):
    """NumPy and torch closures doing one conv forward + backward on the same data."""
    x = rng.standard_normal(shape, dtype=np.float32)
    fan_in = shape[1] * f * f
    w = rng.standard_normal((k, shape[1], f, f), dtype=np.float32) / float(np.sqrt(fan_in))
    b = rng.standard_normal(k, dtype=np.float32)
    out, _ = conv_forward(x, w, b, 1, p)
    dout = rng.standard_normal(out.shape, dtype=np.float32)

    def numpy_step():
        _, cache = conv_forward(x, w, b, 1, p)
        conv_backward(dout, cache)

    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    dt = torch.from_numpy(dout)

    def torch_step():
        for t in (xt, wt, bt):
            t.grad = None
        F.conv2d(xt, wt, bt, padding=p).backward(dt)

    return numpy_step, torch_step


def pool_pair(shape, rng):
    """NumPy and torch closures doing one 2x2 max-pool forward + backward on the same data."""
    x = rng.standard_normal(shape, dtype=np.float32)
    dout = rng.standard_normal((*shape[:2], shape[2] // 2, shape[3] // 2), dtype=np.float32)

    def numpy_step():
        _, cache = maxpool_forward(x, 2, 2)
        maxpool_backward(dout, cache)

    xt, dt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

    def torch_step():
        xt.grad = None
        F.max_pool2d(xt, 2, 2).backward(dt)

    return numpy_step, torch_step


def epoch_pair(images, labels):
    """One training epoch each: the NumPy LeNet-5 and the torch one, same recipe."""
    np_model = NumpyLeNet5(rng=0)
    torch_model = LeNet5()
    optimizer = torch.optim.SGD(torch_model.parameters(), lr=LR, momentum=MOMENTUM)
    x_t, y_t = torch.from_numpy(images), torch.from_numpy(labels)
    seeds = iter(range(10**6))

    def numpy_epoch(n=len(images)):
        train_epoch(np_model, images[:n], labels[:n], batch_size=BATCH, lr=LR, momentum=MOMENTUM,
                    rng=next(seeds))

    def torch_epoch(n=len(images)):
        order = torch.from_numpy(np.random.default_rng(next(seeds)).permutation(n))
        losses, correct = [], 0
        for start in range(0, n, BATCH):
            batch = order[start:start + BATCH]
            scores = torch_model(x_t[batch])
            loss = F.cross_entropy(scores, y_t[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())                 # the NumPy loop reports these too
            correct += int((scores.argmax(1) == y_t[batch]).sum())

    return numpy_epoch, torch_epoch


def run(args) -> dict:
    malloc = "keep" if args.malloc == "keep" and keep_freed_memory() else "default"
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    cases = [(name, *conv_pair(shape, k, f, p, rng), target)
             for name, (shape, k, f, p, target) in CONV_CASES.items()]
    cases.append((f"maxpool 2x2 {POOL_SHAPE}", *pool_pair(POOL_SHAPE, rng), None))
    epoch_images = None
    if not args.skip_epoch:
        images, labels = load_fashion_mnist("train", download=False)
        if args.epoch_subset:
            images, labels = images[:args.epoch_subset], labels[:args.epoch_subset]
        epoch_images = len(images)
        cases.append((f"LeNet-5 epoch ({epoch_images} images, batch {BATCH})",
                      *epoch_pair(to_nchw_float(images), labels), EPOCH_TARGET))
    results = []
    with threadpool_limits(args.threads, user_api="blas"):
        for name, numpy_fn, torch_fn, target in cases:
            if name.startswith("LeNet-5 epoch"):          # warm up on 10 batches, then take turns
                numpy_fn(10 * BATCH)
                torch_fn(10 * BATCH)
                times = timed_pair(numpy_fn, torch_fn, args.epoch_repeats, warm_each=False)
            else:
                times = timed_pair(numpy_fn, torch_fn, args.repeats)
            med = {key: statistics.median(values) for key, values in times.items()}
            ratio = med["numpy_times"] / med["torch_times"]
            results.append(dict(name=name, numpy_s=med["numpy_times"], torch_s=med["torch_times"],
                                ratio=ratio, target=target, met=None if target is None else ratio <= target,
                                cpu_ratio=med["numpy_cpu"] / med["torch_cpu"], **times))
            if not args.json:
                print(_row(results[-1]), flush=True)
        blas = [dict(internal_api=p["internal_api"], num_threads=p["num_threads"],
                     version=p.get("version")) for p in threadpool_info() if p["user_api"] == "blas"]
    return dict(config=dict(threads=args.threads, torch_threads=torch.get_num_threads(), blas=blas,
                            malloc=malloc, repeats=args.repeats, epoch_repeats=args.epoch_repeats,
                            epoch_images=epoch_images, batch_size=BATCH,
                            numpy=np.__version__, torch=torch.__version__,
                            python=platform.python_version(), machine=platform.machine(),
                            cpus=os.cpu_count(), load_average=os.getloadavg()),
                results=results)


def _row(r: dict) -> str:
    target = "" if r["target"] is None else \
        f"  (target <= {r['target']:g}x: {'met' if r['met'] else 'MISSED'})"
    return (f"{r['name']:<46} numpy {1e3 * r['numpy_s']:9.1f} ms   torch {1e3 * r['torch_s']:9.1f} ms"
            f"   ratio {r['ratio']:5.2f}x (CPU time {r['cpu_ratio']:5.2f}x){target}")


def main(argv=None) -> int:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per layer case (median reported)")
    parser.add_argument("--epoch-repeats", type=int, default=3, help="timed epochs per side")
    parser.add_argument("--epoch-subset", type=int, default=0, metavar="N",
                        help="time the epoch on the first N training images (0: all 60,000)")
    parser.add_argument("--skip-epoch", action="store_true", help="layer cases only (no data needed)")
    parser.add_argument("--threads", type=int, default=1,
                        help=f"threads for torch and for NumPy's BLAS alike (default 1; this machine "
                             f"lets the process use {usable})")
    parser.add_argument("--malloc", choices=["keep", "default"], default="keep",
                        help="keep freed memory in the process (glibc) or leave malloc alone")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if min(args.repeats, args.epoch_repeats, args.threads) < 1 or args.epoch_subset < 0:
        parser.error("--repeats, --epoch-repeats and --threads must be >= 1, --epoch-subset >= 0")
    try:
        report = run(args)
    except DatasetUnavailable as error:
        parser.exit(2, f"{error}\n(or run the layer cases only: --skip-epoch)\n")
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        c = report["config"]
        print(f"threads {c['threads']} (torch {c['torch_threads']}, BLAS {c['blas']}), malloc {c['malloc']}, "
              f"numpy {c['numpy']}, torch {c['torch']}, load average {c['load_average'][0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
