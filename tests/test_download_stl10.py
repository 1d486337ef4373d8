"""``python -m train.download_stl10``: prints the data folder, or explains an offline failure (exit 2)."""

from __future__ import annotations

from focusmim_core.errors import DatasetError
from train import download_stl10 as cli


def test_success_prints_the_folder_of_the_binary_files(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli, "download_stl10", lambda root: calls.append(root) or tmp_path / "stl10_binary")
    assert cli.main([str(tmp_path)]) == 0
    assert calls == [str(tmp_path)] and capsys.readouterr().out.strip() == str(tmp_path / "stl10_binary")


def test_offline_is_a_clear_message_and_exit_status_2(tmp_path, monkeypatch, capsys):
    def offline(root):
        raise DatasetError(f"Could not download STL-10 into {root}: this machine may be offline.")

    monkeypatch.setattr(cli, "download_stl10", offline)
    assert cli.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "may be offline" in err and "Traceback" not in err
