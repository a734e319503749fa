import pytest
import torch

from embedding.memory import PairMemory


def _rows(start: int, count: int, dim: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    values = torch.arange(start, start + count, dtype=torch.float32).reshape(-1, 1).expand(count, dim)
    return values, -values, torch.arange(start, start + count)


def test_fills_then_replaces_the_oldest_rows():
    memory = PairMemory(size=5, dim=3)
    assert memory.filled == 0
    memory.push(*_rows(0, 3))
    assert memory.filled == 3
    differences, outcomes, allowed = memory.negatives(torch.tensor([7, 8]))
    assert differences[:, 0].tolist() == [0.0, 1.0, 2.0] and outcomes[:, 0].tolist() == [0.0, -1.0, -2.0]
    assert allowed.shape == (2, 3) and bool(allowed.all())
    memory.push(*_rows(3, 3))  # rows 0..5 pushed into 5 slots: 0 is gone
    assert memory.filled == 5
    _, _, kept = memory.negatives(torch.tensor([0]))
    assert sorted(memory.indices.tolist()) == [1, 2, 3, 4, 5]
    assert bool(kept.all())


def test_a_pair_is_never_its_own_negative():
    memory = PairMemory(size=4, dim=3)
    memory.push(*_rows(10, 4))
    _, _, allowed = memory.negatives(torch.tensor([11, 99, 13]))
    assert allowed.tolist() == [[True, False, True, True], [True] * 4, [True, True, True, False]]


def test_a_batch_larger_than_the_memory_keeps_its_last_rows():
    memory = PairMemory(size=2, dim=3)
    memory.push(*_rows(0, 5))
    assert sorted(memory.indices.tolist()) == [3, 4]


def test_state_round_trip_and_refusals():
    memory = PairMemory(size=4, dim=3)
    memory.push(*_rows(0, 3))
    copy = PairMemory(size=4, dim=3)
    copy.load_state_dict(memory.state_dict())
    assert copy.head == memory.head and torch.equal(copy.indices, memory.indices)
    assert torch.equal(copy.differences, memory.differences) and torch.equal(copy.outcomes, memory.outcomes)
    with pytest.raises(ValueError, match="saved pair memory"):
        PairMemory(size=8, dim=3).load_state_dict(memory.state_dict())
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        memory.push(torch.zeros(2, 4), torch.zeros(2, 4), torch.arange(2))
    with pytest.raises(ValueError, match="size >= 1"):
        PairMemory(size=0, dim=3)
