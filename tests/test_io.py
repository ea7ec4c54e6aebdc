import pytest

from bayes_atlas._io import write_atomically


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def broken(path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_successful_write_replaces(tmp_path):
    target = tmp_path / "sub" / "out.csv"
    write_atomically(target, lambda path: path.write_text("new"))
    assert target.read_text() == "new"
