"""Shared by the model tests: tiny models run faster on one intra-op thread than on two fighting
over a shared CPU."""
import pytest


@pytest.fixture
def one_torch_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
