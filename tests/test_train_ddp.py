"""Distributed training through torchrun (`mytalk train ... --nproc 2`), two CPU processes with gloo,
the tiny config on two seconds of a real clip:

- both stages train as two ranks and their probe losses fall; the weights load in one process
  through the engine's own loader, and record the world size they were trained with;
- a run trained with two processes resumes with one, at the step it stopped, and back with two;
- the ranks really average their gradients: two ranks with one micro-batch each end with the same
  weights as one process accumulating the same two micro-batches;
- a cancel seen by one rank stops both at the same step with the state saved, and a rank that fails
  does not leave its peer waiting in a collective;
- bad launcher settings and a batch that does not split are one line and exit code 2, also when the
  launcher would start several ranks (checked before torchrun starts them).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import media_path
from mytalk.core.engines.mytalk.checkpoint import read_checkpoint
from mytalk.core.engines.mytalk.dataset import build_dataset

pytestmark = pytest.mark.media

BOB = "hdtf_wda_bobmenendez_512.mp4"
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of a 512 px HDTF clip at 64 px crops, built once for the module."""
    root = tmp_path_factory.mktemp("ddp_data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYTALK_HOME", str(root / "home"))
        build_dataset([f"{media_path('video', BOB)}:0-50"], root / "data", crop_size=64)
    return root / "data"


def free_port() -> str:
    """A TCP port nothing listens on now, for one run's rendezvous. Fixed ports made two test runs on one
    machine (a local run beside CI's) join each other's process groups and wait on them."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def _train(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`mytalk train ARGS` in a fresh process, its user folders under `home`."""
    env = {**os.environ, "MYTALK_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "mytalk.plugin.cli", "train", *args, "--device", "cpu", "--quiet"],
                          env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def _model(home: Path, name: str) -> Path:
    """The folder `mytalk train --out NAME` wrote, under MYTALK_HOME `home`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MYTALK_HOME", str(home))
        from mytalk.core.engines.mytalk.models import model_folder

        return model_folder(name)


def _evals(run_dir: Path) -> list[dict]:
    return [r for r in map(json.loads, (run_dir / "log.jsonl").read_text().splitlines()) if r["kind"] == "eval"]


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text('preset = "tiny"\n' + text)
    return path


def test_two_ranks_train_both_stages_and_the_weights_load_in_one_process(data: Path, tmp_path: Path) -> None:
    from mytalk.core.engines.mytalk.models import load_models

    home = tmp_path / "home"
    # adv_start inside the run, so the discriminator trains as two ranks too.
    config = _config(tmp_path, "[appearance.train]\nadv_start = 40\n")
    for stage, steps in (("motion", 120), ("appearance", 80)):
        done = _train(home, stage, str(data), "--config", str(config), "--steps", str(steps), "--nproc", "2",
                      "--out", "ddp", "--master-port", free_port())
        assert done.returncode == 0, done.stderr[-3000:]
    folder = _model(home, "ddp")
    motion, appearance = _evals(folder / "runs" / "motion"), _evals(folder / "runs" / "appearance")
    print("motion probe", motion[0]["losses"], "->", motion[-1]["losses"])
    print("appearance probe", appearance[0]["losses"], "->", appearance[-1]["losses"])
    assert motion[-1]["step"] == 120 and appearance[-1]["step"] == 80
    assert motion[-1]["losses"]["reconstruction"] < 0.5 * motion[0]["losses"]["reconstruction"]
    assert appearance[-1]["losses"]["l1"] < 0.7 * appearance[0]["losses"]["l1"]
    train_records = [json.loads(line) for line in (folder / "runs" / "appearance" / "log.jsonl").read_text().splitlines()]
    assert any("discriminator" in r.get("losses", {}) for r in train_records if r["kind"] == "train")

    loaded = load_models(folder, "cpu")
    assert loaded is not None
    _, info = read_checkpoint(folder / "motion.safetensors", "motion")
    assert info.step == 120 and info.extra["world_size"] == 2 and info.extra["grad_accum"] == 1
    tensors, _ = read_checkpoint(folder / "appearance.safetensors", "appearance")
    assert not any(name.startswith(("module.", "gen.module.", "disc.module.")) for name in tensors)


def test_a_two_rank_run_resumes_with_one_process_and_back(data: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    runs = [("30", ["--nproc", "2", "--master-port", free_port()]), ("50", ["--resume"]),
            ("70", ["--resume", "--nproc", "2", "--master-port", free_port()])]
    folder = _model(home, "r")
    for steps, launch in runs:
        done = _train(home, "motion", str(data), "--config", "tiny", "--steps", steps, "--out", "r", *launch)
        assert done.returncode == 0, done.stderr[-3000:]
        _, info = read_checkpoint(folder / "motion.safetensors", "motion")
        assert info.step == int(steps) and info.extra["world_size"] == (2 if "--nproc" in launch else 1)
    records = [json.loads(line) for line in (folder / "runs" / "motion" / "log.jsonl").read_text().splitlines()]
    starts = [(r["step"], r["run"]["world_size"], r["run"]["grad_accum"]) for r in records if r["kind"] == "start"]
    assert starts == [(0, 2, 1), (30, 1, 1), (50, 2, 1)]
    steps_logged = [r["step"] for r in records if r["kind"] == "train"]
    assert steps_logged == list(range(10, 80, 10))
    # Each resumed run scores the probe where it starts: at the step the run before it saved, with its weights.
    probes = [(r["step"], r["losses"]["reconstruction"]) for r in records if r["kind"] == "eval"]
    assert [step for step, _ in probes] == [0, 30, 30, 50, 50, 70]
    assert probes[1] == probes[2] and probes[3] == probes[4]


def test_two_ranks_average_gradients_like_one_process_accumulating(data: Path, tmp_path: Path) -> None:
    """Two ranks with one micro-batch each and one process with two micro-batches draw the same shares
    (`seeding.shard_generators`), so only the all-reduce can make their weights agree."""
    config = _config(tmp_path, "[motion.train]\ngrad_accum = 2\n")
    two = _train(tmp_path / "two", "motion", str(data), "--config", "tiny", "--steps", "8", "--nproc", "2",
                 "--out", "m", "--master-port", free_port())
    assert two.returncode == 0, two.stderr[-3000:]
    one = _train(tmp_path / "one", "motion", str(data), "--config", str(config), "--steps", "8", "--out", "m")
    assert one.returncode == 0, one.stderr[-3000:]
    solo = _train(tmp_path / "solo", "motion", str(data), "--config", "tiny", "--steps", "8", "--out", "m")
    assert solo.returncode == 0, solo.stderr[-3000:]
    weights = {}
    for name in ("two", "one", "solo"):
        weights[name], _ = read_checkpoint(_model(tmp_path / name, "m") / "motion.safetensors", "motion")

    def gap(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
        return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)

    agree, differ = gap(weights["two"], weights["one"]), gap(weights["two"], weights["solo"])
    print(f"max weight gap: two ranks vs one process accumulating {agree:.2e}; vs one process, one batch {differ:.2e}")
    assert agree < 1e-4
    assert differ > 100 * agree


# One rank of a two-rank run, started the way torchrun starts it (its place in the environment),
# whose `is_cancelled` poll on rank STOP_RANK cancels (or fails) when polled before step STOP_AT.
_RANK = """
import json, sys
from pathlib import Path
from mytalk.core.engines.mytalk.config import load_config
from mytalk.core.engines.mytalk.dataset import Dataset
from mytalk.core.engines.mytalk.distributed import ranks_from_env
from mytalk.core.engines.mytalk.train import train_motion

data, out, stop_rank, stop_at, how = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ranks = ranks_from_env()
polls = []

def is_cancelled():
    polls.append(1)
    if ranks.rank == stop_rank and len(polls) > stop_at:
        if how == "fail":
            raise RuntimeError("rank failed")
        return True
    return False

try:
    train_motion(Dataset(Path(data)), load_config("tiny"), out, steps=40, device="cpu", ranks=ranks,
                 is_cancelled=is_cancelled)
    print(json.dumps({"outcome": "finished"}))
except Exception as error:
    print(json.dumps({"outcome": type(error).__name__, "message": str(error)}))
"""


def _two_ranks(data: Path, out: Path, port: int, stop_rank: int, stop_at: int, how: str) -> list[dict]:
    """Both ranks' outcomes; neither may still be running after RUN_TIMEOUT_S (a hung collective)."""
    procs = []
    for rank in range(2):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2"}
        procs.append(subprocess.Popen([sys.executable, "-c", _RANK, str(data), str(out), str(stop_rank),
                                       str(stop_at), how], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outcomes = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
            lines = stdout.strip().splitlines()
            outcomes.append(json.loads(lines[-1]) if lines else {"outcome": f"exit {proc.returncode}",
                                                                 "message": stderr[-2000:]})
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return outcomes


def test_a_cancel_on_one_rank_stops_every_rank_at_the_same_step_and_saves(data: Path, tmp_path: Path) -> None:
    outcomes = _two_ranks(data, tmp_path / "m", int(free_port()), stop_rank=1, stop_at=12, how="cancel")
    assert [o["outcome"] for o in outcomes] == ["JobCancelledError"] * 2, outcomes
    assert all("at step 12" in o["message"] for o in outcomes), outcomes
    _, info = read_checkpoint(tmp_path / "m" / "motion.safetensors", "motion")
    _, state = read_checkpoint(tmp_path / "m" / "runs" / "motion" / "state.safetensors", "motion-state")
    assert info.step == state.step == 12 and info.extra["world_size"] == 2


def test_a_failing_rank_does_not_leave_its_peer_hanging(data: Path, tmp_path: Path) -> None:
    outcomes = _two_ranks(data, tmp_path / "m", int(free_port()), stop_rank=1, stop_at=12, how="fail")
    print("the peer of a failed rank:", outcomes[0])
    assert outcomes[1] == {"outcome": "RuntimeError", "message": "rank failed"}
    assert outcomes[0]["outcome"] != "finished", outcomes  # it stopped with an error, within the timeout


def test_bad_distributed_settings_are_one_line_and_exit_code_2(data: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    odd = _config(tmp_path, "[motion.train]\nbatch_size = 6\ngrad_accum = 4\n")
    cases = [
        (["motion", str(data), "--config", str(odd), "--steps", "2"], "does not divide"),
        (["motion", str(data), "--config", "tiny", "--nproc", "3", "--steps", "2"], "by 3 process(es)"),
        (["motion", str(data), "--config", "tiny", "--nproc", "2", "--resume"], "--resume: no interrupted run"),
        (["motion", str(data), "--config", "tiny", "--nproc", "0"], "--nproc 0"),
        (["motion", str(data), "--config", "tiny", "--nnodes", "2", "--node-rank", "2"], "--node-rank 2"),
        (["motion", str(data), "--config", "tiny", "--loader-workers", "-1"], "--loader-workers -1"),
    ]
    for args, expected in cases:
        done = _train(home, *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (args, done.stderr)
        assert len(lines) == 1 and expected in lines[0], (args, done.stderr)
    assert not any(home.rglob("*.safetensors"))


def test_batches_drawn_ahead_by_loader_processes_are_the_batches_of_the_step(data: Path) -> None:
    """`prefetch`: two loader processes hand out, in step order, exactly what the step would draw itself,
    for each share of a split batch; steps must be taken in order; an early stop ends the workers."""
    from mytalk.core.engines.mytalk.batches import AppearanceBatches, MotionBatches
    from mytalk.core.engines.mytalk.config import load_config
    from mytalk.core.engines.mytalk.dataset import Dataset
    from mytalk.core.engines.mytalk.prefetch import PrefetchedBatches, StepBatches
    from mytalk.core.engines.mytalk.seeding import shard_generators, step_generators

    config = load_config("tiny")
    dataset = Dataset(data)
    motion = MotionBatches(dataset, config.motion_model)
    appearance = AppearanceBatches(dataset, config.appearance_model, 3)
    for draw in (StepBatches(motion, 4, 7), StepBatches(appearance, 3, 7, (2, 3), 4)):
        with PrefetchedBatches(draw, 5, 13, workers=2) as ahead:
            taken = [ahead.take(step) for step in range(5, 13)]
        for step, batches in zip(range(5, 13), taken, strict=True):
            assert len(batches) == len(draw.shares)
            for share, batch in zip(draw.shares, batches, strict=True):
                rng = shard_generators(7, step, share, draw.total_shares)[0]
                expected = draw.sampler.sample(draw.batch_size, rng)
                assert batch.keys() == expected.keys()
                assert all(torch.equal(batch[k], expected[k]) for k in batch), (step, share)
    one = StepBatches(motion, 4, 7)
    direct = one.sampler.sample(4, step_generators(7, 3)[0])
    assert all(torch.equal(one(3)[0][k], direct[k]) for k in direct), "one share of one is the step's own draw"
    with PrefetchedBatches(one, 0, 1000, workers=2) as ahead:
        ahead.take(0)
        with pytest.raises(RuntimeError, match="step order"):
            ahead.take(2)
