import numpy as np
import pytest

from signverse.core import InputError, PoseSeq
from signverse.layouts import get_layout
from signverse.render import render_frame, render_to

pytest.importorskip("cv2")
av = pytest.importorskip("av")
Image = pytest.importorskip("PIL.Image")
DW = get_layout("dwpose")


def moving(n_frames=6, width=96, height=64, fps=12.0):
    """The nose moves 8 px right per frame, so every frame differs."""
    xy = np.full((n_frames, 1, DW.num_points, 2), np.nan, np.float32)
    xy[:, 0, DW.anchor("nose"), 0] = 8 + 8 * np.arange(n_frames)
    xy[:, 0, DW.anchor("nose"), 1] = 30
    xy[:, 0, DW.index("right_hand.wrist")] = (48, 50)
    return PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), fps, width, height, "dwpose")


def read_mp4(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, stream.codec_context.name, float(stream.average_rate)


def test_png_single_frame_equals_render_frame(tmp_path):
    pose = moving()
    out = render_to(pose, tmp_path / "f.png", frame=3)
    np.testing.assert_array_equal(np.asarray(Image.open(out).convert("RGB")), render_frame(pose, 3))


def test_png_contact_sheet_tiles_frames(tmp_path):
    pose = moving(n_frames=4)
    sheet = np.asarray(Image.open(render_to(pose, tmp_path / "s.png")).convert("RGB"))
    assert sheet.shape == (2 * 64 + 2, 2 * 96 + 2, 3)        # 2x2 grid with 2 px gaps
    # tile 0 is frame 0; its frame label sits at the bottom, so compare the part above it
    np.testing.assert_array_equal(sheet[:44, :96], render_frame(pose, 0)[:44])
    assert not np.array_equal(sheet[:44, :96], render_frame(pose, 3)[:44])


def test_gif_has_one_frame_per_pose_frame(tmp_path):
    pose = moving(n_frames=5)
    with Image.open(render_to(pose, tmp_path / "a.gif")) as gif:
        assert gif.n_frames == 5 and gif.size == (96, 64)
        gif.seek(2)
        frame = np.asarray(gif.convert("RGB"))
    assert frame[30, 24].tolist() == [255, 0, 0] and frame[5, 5].tolist() == [0, 0, 0]


def test_mp4_round_trip_and_fps_resampling(tmp_path):
    pose = moving(n_frames=12, fps=12.0)
    frames, codec, rate = read_mp4(render_to(pose, tmp_path / "a.mp4"))
    assert len(frames) == 12 and rate == pytest.approx(12.0) and frames[0].shape == (64, 96, 3)
    assert frames[4][30, 40, 0] > 180 and frames[4][10, 80].max() < 30   # lossy, but red nose there
    frames, _, rate = read_mp4(render_to(pose, tmp_path / "b.mp4", fps=6))
    assert len(frames) == 6 and rate == pytest.approx(6.0)


def test_mp4_mpeg4_fallback_and_odd_sizes(tmp_path, monkeypatch):
    from signverse.render import video
    monkeypatch.setattr(video, "MP4_CODECS", ("no-such-codec", "mpeg4"))
    frames, codec, _ = read_mp4(render_to(moving(n_frames=3, width=95, height=63), tmp_path / "m.mp4"))
    assert codec == "mpeg4" and len(frames) == 3 and frames[0].shape == (64, 96, 3)


def test_overlay_resamples_the_video_to_the_pose_fps(tmp_path):
    from signverse.render.video import write_mp4
    # a 10 fps video whose frame i is uniformly grey level 20 * i
    levels = [20 * i for i in range(10)]
    write_mp4((np.full((64, 96, 3), v, np.uint8) for v in levels), tmp_path / "v.mp4", 10)
    pose = moving(n_frames=5, fps=5.0)                      # pose frame k = video frame 2k
    out = render_to(pose, tmp_path / "o.mp4", overlay=tmp_path / "v.mp4")
    frames, _, _ = read_mp4(out)
    backgrounds = [int(f[5:15, 70:90].mean()) for f in frames]
    assert len(frames) == 5
    assert all(abs(b - 40 * k) <= 4 for k, b in enumerate(backgrounds)), backgrounds
    assert frames[1][30, 16, 0] > frames[1][30, 16, 1] + 100    # nose drawn over the video


def test_compare_places_a_labelled_panel_beside(tmp_path):
    pose = moving()
    other = moving(width=192, height=128)                   # scaled to the first's height
    out = render_to(pose, tmp_path / "c.png", frame=1, compare=other, labels=["a", "b"])
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == (64, 96 + 4 + 96, 3)
    assert img[15, 100 + 8].tolist() == [255, 0, 0]       # right panel: nose of frame 1 at x=16/2
    assert img[:8, :12].any() and img[:8, 100:112].any()   # labels


def test_bad_output_and_missing_overlay(tmp_path):
    with pytest.raises(InputError, match="unknown output type"):
        render_to(moving(), tmp_path / "x.bmp")
    with pytest.raises(InputError, match="no such file"):
        render_to(moving(), tmp_path / "x.png", overlay=tmp_path / "none.mp4")


def test_real_overlay_draws_on_the_decoded_video(tmp_path, shared_data):
    from signverse import read_pose
    pose = read_pose(shared_data("poses", "autsl_signer0_sample1000.pose"))
    video = shared_data("videos", "autsl_signer0_sample1000_color.mp4")
    img = np.asarray(Image.open(render_to(pose, tmp_path / "o.png", frame=20, overlay=video)))
    with av.open(str(video)) as container:
        raw = [f.to_ndarray(format="rgb24") for _, f in zip(range(21), container.decode(video=0))][20]
    assert img.shape == raw.shape == (512, 512, 3)
    drawn = np.abs(img.astype(int) - raw).sum(-1) > 0
    assert 0.005 < drawn.mean() < 0.2                      # skeleton on top, video elsewhere
    from signverse import convert
    dw = convert(pose.frames(20, 21), "dwpose")
    for anchor in ("left_wrist", "right_wrist", "nose"):
        x, y = dw.xy[0, 0, DW.anchor(anchor)].astype(int)
        assert drawn[y, x], anchor


def test_real_files_of_each_layout_render(tmp_path, shared_data):
    from signverse import read_pose
    for name in ("poses_FOOTBALL.pose", "poses_mmposewholebody_FOOTBALL.pose", "openpose.pose"):
        pose = read_pose(shared_data("poses", name))
        for style in ("dwpose", "native"):
            img = np.asarray(Image.open(render_to(pose, tmp_path / f"{name}.{style}.png",
                                                  frame=30, style=style)))
            assert img.shape == (pose.height, pose.width, 3)
            assert 0.001 < (img.sum(-1) > 0).mean() < 0.3, (name, style)


def test_save_functions_accept_a_pose_and_renderer_options(tmp_path):
    from signverse.render import save_gif, save_png
    pose = moving(n_frames=3)
    save_gif(pose, tmp_path / "p.gif", person=0)
    with Image.open(tmp_path / "p.gif") as gif:
        assert gif.n_frames == 3
    img = np.asarray(Image.open(save_png(pose, tmp_path / "p.png", 0, style="native")).convert("RGB"))
    np.testing.assert_array_equal(img, render_frame(pose, 0, style="native"))


def test_a_truncated_overlay_video_keeps_its_decodable_frames(tmp_path, caplog):
    """Found by fuzzing: the first 30 KB of a real sample video as --overlay ended the render in
    PyAV's InvalidDataError traceback. The decodable frames are used, then the last one repeats."""
    import logging
    from signverse.cli.main import main
    from signverse.samples import sample_videos
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((sample_videos() / "asl_house.mp4").read_bytes()[:30_000])
    pose = moving(n_frames=60, width=320, height=240, fps=24.0)
    from signverse.io import write_pose
    src = write_pose(pose, tmp_path / "p.pose")
    with caplog.at_level(logging.WARNING):
        assert main(["render", str(src), str(tmp_path / "o.mp4"), "--overlay", str(cut)]) == 0
    assert "truncated or corrupt video" in caplog.text and "cut.mp4" in caplog.text
    frames, _, _ = read_mp4(tmp_path / "o.mp4")
    assert len(frames) == 60 and frames[0].shape == (240, 320, 3)
    still = np.abs(frames[-1].astype(int) - frames[-2].astype(int)).mean()
    assert still < 2 and frames[-1].mean() > 10   # the last decoded video frame repeats


def test_an_implausible_frame_rate_is_a_one_line_error_not_an_overflow(tmp_path):
    pose = moving(n_frames=3, fps=1e30)
    with pytest.raises(InputError, match="outside 0.1-1000 fps"):
        render_to(pose, tmp_path / "o.mp4")
    assert not list(tmp_path.iterdir())
