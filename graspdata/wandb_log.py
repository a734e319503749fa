"""wandb logging of a collection run, started lazily so that a run that fails early leaves no wandb folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

WANDB_PROJECT = "grasp2vec-sim"


class WandbLog:
    """Logs metrics to wandb, starting the run on the first call (after the dataset folder exists)."""

    def __init__(self, mode: str, out: Path, config: dict[str, Any]) -> None:
        self.mode, self.out, self.config = mode, out, config
        self.run = None

    def __call__(self, metrics: dict[str, Any]) -> None:
        if self.run is None:
            import wandb

            self.run = wandb.init(project=WANDB_PROJECT, job_type="collect", mode=self.mode, dir=str(self.out),
                                  config=self.config)
        self.run.log(metrics)

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
