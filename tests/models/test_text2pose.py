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


def _template_model(**kw):
    return get_model("signdw-text2pose-template", d_model=32, n_heads=2, enc_layers=1, max_frames=16,
                     vocab_size=9, n_templates=2, template_frames=6, template_text_len=3, **kw)


def test_template_model_starts_from_the_words_template_and_falls_back_to_their_mean():
    torch.manual_seed(0)
    m = _template_model().eval()
    a = torch.zeros(6, 384)
    a.view(6, 128, 3)[..., 0] = torch.linspace(0, 5, 6)[:, None]     # x = frame index
    a.view(6, 128, 3)[..., 2] = 1.0
    b = torch.zeros(4, 384)                                            # resampled to 6 frames
    b.view(4, 128, 3)[..., 1] = 2.0
    b.view(4, 128, 3)[..., 2] = 0.0                                    # never shown
    m.set_templates([[4, 5], [6]], [a, b])
    assert m.template_index(torch.tensor([[4, 5, 0], [6, 0, 0], [4, 0, 0], [4, 5, 6]])).tolist() == [0, 1, -1, -1]
    frames, _ = m.generate(torch.tensor([[4, 5], [6, 0], [7, 0]]), lengths=torch.tensor([11, 6, 6]))
    f = frames.reshape(3, 11, 128, 3)
    # zero-initialised refinement: the output is the template, stretched over the length asked for
    assert torch.allclose(f[0, :, 0, 0], torch.linspace(0, 5, 11), atol=1e-5)
    assert float(f[0, :, :, 2].min()) > 0.9
    assert torch.allclose(f[1, :6, :, 1], torch.full((6, 128), 2.0)) and float(f[1, :6, :, 2].max()) < 0.1
    # an unknown text gets the mean of the templates
    assert torch.allclose(f[2, :6, 0, 1], torch.full((6,), 1.0), atol=1e-5)
    with pytest.raises(ValueError, match="3 templates"):
        m.set_templates([[4], [5], [6]], [a, a, a])


def test_template_model_adds_only_motion_around_the_template():
    """With ``motion_only`` (the default) the residual's points average to zero over the output, so
    every point's mean position over the sequence is the template's."""
    torch.manual_seed(0)
    m = _template_model().eval()
    tmpl = torch.zeros(6, 384)
    tmpl.view(6, 128, 3)[..., 0] = 0.3
    tmpl.view(6, 128, 3)[..., 2] = 1.0
    m.set_templates([[4]], [tmpl])
    torch.nn.init.normal_(m.field[-1].weight, std=0.5)              # a large, non-zero residual
    frames, _ = m.generate(torch.tensor([[4], [4]]), lengths=torch.tensor([9, 5]))
    f = frames.reshape(2, 9, 128, 3)
    assert float(f[0, :, :, :2].std(0).mean()) > 0.01                 # it moves
    assert torch.allclose(f[0, :9, :, 0].mean(0), torch.full((128,), 0.3), atol=1e-4)
    assert torch.allclose(f[1, :5, :, 1].mean(0), torch.zeros(128), atol=1e-4)


def test_template_model_learns_a_residual_and_saves_its_templates(tmp_path):
    torch.manual_seed(0)
    m = _template_model(l1_weight=1.0, motion_weight=0.0, motion_only=False)
    tmpl = torch.zeros(6, 384)
    tmpl.view(6, 128, 3)[..., 2] = 1.0
    m.set_templates([[4]], [tmpl])
    batch = m.example_batch(2)
    batch["tokens"] = torch.tensor([[4], [4]])
    batch["pose"].view(2, 5, 128, 3)[..., :2] = 0.5                   # the clips sit 0.5 off the template
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        loss, _ = m.loss(batch)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first
    m.eval()
    frames, _ = m.generate(torch.tensor([[4]]), lengths=torch.tensor([5]))
    assert abs(float(frames.reshape(5, 128, 3)[..., 0].mean()) - 0.5) < 0.15
    state = m.state_dict()
    assert {"tmpl_tokens", "tmpl_frames", "tmpl_used"} <= set(state)
    again = _template_model(motion_only=False).eval()
    again.load_state_dict(state)
    assert torch.equal(again.generate(torch.tensor([[4]]), lengths=torch.tensor([5]))[0], frames)
