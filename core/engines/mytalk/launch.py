"""`mytalk train ... --nproc N`: start the training as N ranks per node with PyTorch's own launcher.

The launcher is torchrun (`python -m torch.distributed.run`), run with the same interpreter, so
the ranks import this very installation. Each rank runs `mytalk train` again (`python -m
mytalk.plugin.cli train ...`) with the launcher's options removed; torchrun gives it its place
in the environment, and `train.train_command` trains as that rank (`distributed.ranks_from_env`).
Before it starts them, `mytalk train` refuses what every rank would refuse (`train.check_run`), so
a bad setting is one line rather than one per rank and torchrun's failure report.

Multi-node: run the same command on every node with `--nnodes`, that node's `--node-rank`, and
the address and port of node 0 (`--master-addr`, `--master-port`), or an elastic rendezvous
endpoint (`--rdzv-endpoint HOST:PORT`, every node the same). torchrun's own output (which rank
failed, with what exit code) is passed through; its exit code is the command's.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from mytalk.core.errors import UsageError


@dataclass(frozen=True)
class Launch:
    """Where and how many ranks: `nproc` per node on `nnodes` nodes (this one is `node_rank`)."""

    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    rdzv_endpoint: str | None = None

    @property
    def distributed(self) -> bool:
        return self.nproc > 1 or self.nnodes > 1

    def check(self) -> Launch:
        if self.nproc < 1:
            raise UsageError(f"--nproc {self.nproc}: give 1 or more processes per node")
        if self.nnodes < 1:
            raise UsageError(f"--nnodes {self.nnodes}: give 1 or more nodes")
        if not 0 <= self.node_rank < self.nnodes:
            raise UsageError(f"--node-rank {self.node_rank}: must be 0 to {self.nnodes - 1} for --nnodes {self.nnodes}")
        if not 1 <= self.master_port <= 65535:
            raise UsageError(f"--master-port {self.master_port}: use a TCP port, 1 to 65535")
        return self


def torchrun_command(launch: Launch, train_args: list[str], python: str | None = None) -> list[str]:
    """The torchrun command line that runs `mytalk train TRAIN_ARGS` as every rank of `launch`."""
    launch.check()
    command = [python or sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(launch.nproc),
               "--nnodes", str(launch.nnodes)]
    if launch.rdzv_endpoint:
        command += ["--rdzv-backend", "c10d", "--rdzv-endpoint", launch.rdzv_endpoint]
    else:
        command += ["--node-rank", str(launch.node_rank), "--master-addr", launch.master_addr,
                    "--master-port", str(launch.master_port)]
    return command + ["-m", "mytalk.plugin.cli", "train", *train_args]


def run_torchrun(launch: Launch, train_args: list[str]) -> int:
    """Run the ranks and wait for them; the exit code is torchrun's (non-zero when a rank failed).

    Interrupting (Ctrl-C) reaches torchrun, which stops its ranks; each rank that was stopped
    saves its state first only when cancelled through the loop, so `--resume` may repeat the
    steps since the last checkpoint.
    """
    try:
        return subprocess.call(torchrun_command(launch, train_args))
    except KeyboardInterrupt:
        return 130
