"""SignDW text->pose: the counter is t / predicted length in training and inference alike."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from signverse.models import get_model  # noqa: E402


@pytest.mark.parametrize("name", ["signdw-text2pose", "signdw-text2pose-parallel", "signdw-text2pose-dtw"])
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


@pytest.mark.parametrize("field", [False, True])
def test_dtw_model_keeps_a_timing_shifted_motion_instead_of_blurring_it(field):
    """Clips of one word: the same 0 -> 1 -> 0 bump, at different times. Their frame-by-frame mean
    peaks at about 0.67 (a blur); the soft-DTW model keeps the full bump."""
    torch.manual_seed(0)
    m = get_model("signdw-text2pose-dtw", d_model=32, n_heads=2, enc_layers=1, dec_layers=1, vocab_size=6,
                  field_decoder=field, fourier=16, l1_weight=0.0, motion_weight=1.0, conf_weight=0.1)
    T, B = 12, 8
    pose = torch.zeros(B, T, 384)
    pose.view(B, T, 128, 3)[..., 2] = 1.0
    t = torch.arange(T).float()
    for b in range(B):
        bump = torch.clamp(1 - (t - (b % 4) - 3).abs() / 3, min=0)
        pose.view(B, T, 128, 3)[b, :, :, 0] = bump[:, None]
    assert float(pose.view(B, T, 128, 3)[..., 0].mean(0).max()) < 0.7       # the blur
    batch = {"tokens": torch.full((B, 1), 4), "pose": pose, "pose_mask": torch.ones(B, T, dtype=torch.bool)}
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    m.train()
    for _ in range(150):
        loss, parts = m.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.eval()
    frames, _ = m.generate(torch.tensor([[4]]), lengths=torch.tensor([T]))
    x = frames[0].reshape(T, 128, 3)[..., 0].mean(-1)
    assert float(x.max()) > 0.85 and float(x[0]) < 0.2 and float(x[-1]) < 0.2
