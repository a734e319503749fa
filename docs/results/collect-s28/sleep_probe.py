"""Does putting the settled objects to sleep make a whole attempt cheaper (session 28, issue #14)? A probe.

    (for m in plain sleep; do PYTHONPATH=. python docs/results/collect-s28/sleep_probe.py $m | grep "^$m" & done;
     wait) > docs/results/collect-s28/sleep-probe.txt

``graspdata.profile`` on 150 learned-policy attempts (64 px, 12 steps, no height map), with ``GraspWorld.settle``
as it is (``plain``) or followed by ``ACTIVATION_STATE_SLEEP`` on every object (``sleep``; the world never does
this). The two were run side by side, one process each.
"""

from __future__ import annotations

import json
import sys

from agents.collection import policy_factory
from envs.world import GraspWorld
from graspdata.profile import profile_collection
from runs.bench_collect import build_parser, collect_config

POLICY = "checkpoints/policies/qtopt-indiscriminate/checkpoint"


def sleep_after_settling() -> None:
    settle = GraspWorld.settle

    def settle_then_sleep(world: GraspWorld) -> int:
        taken = settle(world)
        client = world.client
        for body in world.objects:
            client.changeDynamics(body, -1, activationState=client.ACTIVATION_STATE_ENABLE_SLEEPING)
            client.changeDynamics(body, -1, activationState=client.ACTIVATION_STATE_SLEEP)
        return taken

    GraspWorld.settle = settle_then_sleep


def main(mode: str) -> None:
    config = collect_config(build_parser().parse_args(["--max-steps", "12", "--policy", POLICY, "--out", "unused"]))
    if mode == "sleep":
        sleep_after_settling()
    profile = profile_collection(config, 150, policy_factory(config.policy))
    print(mode, json.dumps(profile.to_dict()))


if __name__ == "__main__":
    main(sys.argv[1])
