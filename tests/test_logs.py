from __future__ import annotations

from memrl import logs


def test_append_creates_the_folder_and_rotates_a_full_log(tmp_path, monkeypatch):
    path = tmp_path / "logs" / "x.log"
    assert logs.append(path, "one\n") == path
    logs.append(str(path), "two\n")
    assert path.read_text() == "one\ntwo\n"
    monkeypatch.setattr(logs, "MAX_BYTES", 5)
    logs.append(path, "three\n")
    assert (tmp_path / "logs" / "x.log.1").read_text() == "one\ntwo\n"
    assert path.read_text() == "three\n"
