"""SignDW text->pose: the counter is t / predicted length in training and inference alike."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from signverse.models import get_model  # noqa: E402


@pytest.mark.parametrize("name", ["signdw-text2pose", "signdw-text2pose-parallel"])
def test_generate_uses_predicted_length(name):
    torch.manual_seed(0)
    m = get_model(name, d_model=32, n_heads=2, enc_layers=1, dec_layers=1, max_frames=12, vocab_size=9)
    m.eval()
    tokens = torch.tensor([[4, 5, 6], [7, 0, 0]])
    with torch.no_grad():
        memory, mask = m.encode_text(tokens)
        L_hat = m.predicted_length(m.log_length(memory, mask))
    frames, lengths = m.generate(tokens)
    assert torch.equal(lengths, L_hat)
    assert frames.shape == (2, int(L_hat.max()), 384)
    conf = frames.reshape(2, frames.shape[1], 128, 3)[..., 2]
    assert ((conf >= 0) & (conf <= 1)).all()
    for i in range(2):                      # frames past a sample's length are empty
        assert frames[i, int(lengths[i]):].abs().sum() == 0
    forced, forced_len = m.generate(tokens, lengths=torch.tensor([3, 5]))
    assert forced_len.tolist() == [3, 5] and forced.shape[1] == 5


def test_training_counter_divides_by_predicted_length(monkeypatch):
    torch.manual_seed(0)
    m = get_model("signdw-text2pose", d_model=32, n_heads=2, enc_layers=1, dec_layers=1, vocab_size=9)
    seen = {}
    original = m.progress

    def spy(T, L_hat):
        seen["L_hat"] = L_hat.clone()
        return original(T, L_hat)
    monkeypatch.setattr(m, "progress", spy)
    batch = m.example_batch(2)
    m.loss(batch)
    memory, mask = m.encode_text(batch["tokens"])
    assert torch.equal(seen["L_hat"], m.predicted_length(m.log_length(memory, mask)))
    # not the true lengths (5 and 4 frames in the example batch) unless the head predicts them
    assert seen["L_hat"].dtype == torch.long


def test_ar_step_matches_teacher_forcing():
    """Generation and teacher forcing are the same computation: feeding the generated frames
    back as targets reproduces them (no train/inference mismatch of inputs)."""
    torch.manual_seed(0)
    m = get_model("signdw-text2pose", d_model=32, n_heads=2, enc_layers=1, dec_layers=1, vocab_size=9,
                  max_frames=6)
    m.eval()
    tokens = torch.tensor([[4, 5, 6]])
    frames, lengths = m.generate(tokens)
    memory, mask = m.encode_text(tokens)
    raw = m.teacher_forced(memory, mask, frames, torch.ones_like(frames[..., 0], dtype=torch.bool),
                           lengths)
    assert torch.allclose(m.to_frames(raw), frames, atol=1e-4)
