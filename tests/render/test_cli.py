import numpy as np
import pytest

from signverse.cli.main import main

pytest.importorskip("cv2")
Image = pytest.importorskip("PIL.Image")


def test_cli_renders_png_gif_and_compare(tmp_path, shared_data, capsys):
    src = str(shared_data("poses", "poses_mmposewholebody_FOOTBALL.pose"))
    other = str(shared_data("poses", "poses_FOOTBALL.pose"))
    assert main(["render", src, str(tmp_path / "f.png"), "--frame", "10"]) == 0
    assert Image.open(tmp_path / "f.png").size == (640, 360)
    assert main(["render", src, str(tmp_path / "a.gif"), "--fps", "8", "--style", "native"]) == 0
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == round(62 / 29.97 * 8)
    assert main(["render", src, str(tmp_path / "c.png"), "--compare", other, "--frame", "5",
                 "--person", "0"]) == 0
    assert Image.open(tmp_path / "c.png").size == (640 * 2 + 4, 360)
    assert str(tmp_path / "c.png") in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--frame", "999"], "frame 999 does not exist"),
    (["--person", "4"], "person 4 does not exist"),
    (["--fps", "0"], "--fps must be positive"),
])
def test_cli_user_errors_are_one_line(tmp_path, shared_data, capsys, extra, message):
    src = str(shared_data("poses", "openpose.pose"))
    assert main(["render", src, str(tmp_path / "x.png"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("signverse render: error:")


def test_cli_missing_source(tmp_path, capsys):
    assert main(["render", str(tmp_path / "none.pose"), str(tmp_path / "x.png")]) == 2
    assert "no such file" in capsys.readouterr().err
