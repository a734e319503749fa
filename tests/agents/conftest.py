"""One torch thread: on the shared 2-core machine, two threads were several times slower under load."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread() -> None:
    torch.set_num_threads(1)
