"""Training on several processes: PyTorch's DistributedDataParallel under ``torchrun``.

    torchrun --nproc_per_node 2 -m textkit train --corpus imdb --model cnn --out runs/imdb
    torchrun --nnodes 2 --node_rank 0 --master_addr HOST --master_port 29500 \
        --nproc_per_node 8 -m textkit train ...          # and --node_rank 1 on the second machine

``torchrun`` starts one process per GPU (or per CPU slot) and tells each its ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE``; nothing here starts processes. :func:`setup` joins the
process group (NCCL on GPUs, gloo on CPU) and :func:`textkit.training.train` does the rest:

* every process builds the same pipeline and model (same data, same seed), then DDP keeps the
  weights equal by averaging gradients after each step;
* each epoch's length-bucketed batches are drawn in the same order everywhere and dealt out
  round-robin, process ``r`` taking batches ``r, r + N, r + 2N, ...``; the last ``< N`` batches
  of an epoch are dropped so that every process takes the same number of steps (DDP waits for
  all of them at each step);
* every process scores the whole validation split (the same numbers, so early stopping
  decides the same everywhere); only rank 0 writes checkpoints, ``history.jsonl``, progress
  and the output folder;
* losses and token counts are summed across processes for the epoch line.

Without ``torchrun`` (``WORLD_SIZE`` unset or 1) none of this is active and one process trains.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
# torch is imported where it is used: the command line asks is_main_process() before it imports torch


def world() -> tuple[int, int]:
    """``(rank, world size)`` from torchrun's environment: ``(0, 1)`` when not under it."""
    try:
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    except ValueError:
        raise ValueError(f"RANK={os.environ.get('RANK')!r} and WORLD_SIZE={os.environ.get('WORLD_SIZE')!r} must be "
                         f"integers (torchrun sets them)") from None


def is_main_process() -> bool:
    """Rank 0, the one process that writes outputs and prints (always true without torchrun)."""
    return world()[0] == 0


def local_processes() -> int:
    """Processes torchrun started on this machine (they share its cores)."""
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
    except ValueError:
        return 1


def setup(device: torch.device) -> torch.device:
    """Join the process group when under torchrun (once per process); returns the device this
    process trains on: its own GPU (``cuda:LOCAL_RANK``) when ``device`` is CUDA."""
    rank, size = world()
    if size == 1:
        return device
    import torch
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when under torchrun, else ``model`` itself."""
    if world()[1] == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def share(value: Any) -> Any:
    """Rank 0's ``value`` in every process (a path, say): a picklable object, broadcast."""
    if world()[1] == 1:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def sum_across(*values: float, device: torch.device) -> list[float]:
    """Each value summed over the processes (the values themselves without torchrun)."""
    if world()[1] == 1:
        return list(values)
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()
