"""A training run's log: one JSON object per line (`log.jsonl`) and its loss curves (`loss.png`).

The log is appended to across resumes, so a resumed run's log and plot read as one run. The plot
is drawn on matplotlib's Agg canvas directly (no pyplot), so training needs no display.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class RunLog:
    """JSON-lines log of a run (appended across resumes) and its loss plot."""

    def __init__(self, run_dir: Path, fresh: bool) -> None:
        self.path = run_dir / "log.jsonl"
        run_dir.mkdir(parents=True, exist_ok=True)
        if fresh and self.path.exists():
            self.path.unlink()

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def records(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def plot(self, title: str) -> Path:
        """loss.png beside the log: training losses (thin) and probe losses (markers), log scale."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        records = self.records()
        fig = Figure(figsize=(8, 4.5), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        train = [r for r in records if r.get("kind") == "train"]
        evals = [r for r in records if r.get("kind") == "eval"]
        names = sorted({k for r in train + evals for k in r.get("losses", {})})
        colours = {name: f"C{i % 10}" for i, name in enumerate(names)}
        for name in names:
            pts = [(r["step"], r["losses"][name]) for r in train if r["losses"].get(name, 0) > 0]
            if pts:
                ax.plot(*zip(*pts, strict=True), linewidth=0.8, color=colours[name], label=name)
            pts = [(r["step"], r["losses"][name]) for r in evals if r["losses"].get(name, 0) > 0]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", linestyle="--", color=colours[name], label=f"probe {name}")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        if names:
            ax.legend(fontsize=7, ncol=2)
        out = self.path.with_name("loss.png")
        fig.savefig(str(out))
        return out
