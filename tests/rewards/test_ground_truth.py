import numpy as np

from rewards import GraspContext, IndiscriminateReward, OracleReward

IMAGE = np.zeros((8, 8, 3), dtype=np.uint8)
CASES = [
    GraspContext(IMAGE, IMAGE, lifted=("a",), target="a"),  # target alone
    GraspContext(IMAGE, IMAGE, lifted=("b",), target="a"),  # other object
    GraspContext(IMAGE, IMAGE, lifted=("a", "b"), target="a"),  # target plus another
    GraspContext(IMAGE, IMAGE, lifted=(), target="a"),  # nothing lifted
    GraspContext(None, IMAGE, lifted=("a",)),  # no task target
]


def test_oracle_rewards_only_the_target_alone():
    assert OracleReward().batch(CASES).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]


def test_indiscriminate_rewards_anything_lifted():
    assert IndiscriminateReward().batch(CASES).tolist() == [1.0, 1.0, 1.0, 0.0, 1.0]


def test_batched_equals_unbatched():
    for reward in (OracleReward(), IndiscriminateReward()):
        assert reward.batch(CASES).tolist() == [reward(c) for c in CASES]
        assert reward.batch([]).shape == (0,)
