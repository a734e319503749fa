"""common.io: whole-or-nothing writes, hashes, stale temporaries and the folder lock."""

import hashlib

import pytest

from common.io import (
    atomic_write_json,
    atomic_write_text,
    check_sha256,
    file_sha256,
    folder_lock,
    read_json_card,
    remove_stale_temporaries,
)


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second" and [p.name for p in path.parent.iterdir()] == ["a.txt"]
    atomic_write_json(tmp_path / "b.json", {"x": 1})
    assert (tmp_path / "b.json").read_text().replace("\n", "").replace(" ", "") == '{"x":1}'


def test_file_sha256_matches_hashlib_and_names_a_missing_file(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights" * 1000)
    assert file_sha256(path) == hashlib.sha256(b"weights" * 1000).hexdigest()
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        file_sha256(tmp_path / "missing.bin")


def test_stale_temporaries_are_removed_and_a_held_folder_is_refused(tmp_path):
    (tmp_path / ".a.txt.123.tmp").write_text("partial")
    (tmp_path / "kept.txt").write_text("whole")
    assert [p.name for p in remove_stale_temporaries(tmp_path)] == [".a.txt.123.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]
    with folder_lock(tmp_path):
        import fcntl

        with open(tmp_path / ".lock", "a+") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_atomic_path_keeps_the_suffix_and_leaves_nothing_on_failure(tmp_path):
    import numpy as np

    from common.io import atomic_path

    target = tmp_path / "arrays.npz"
    with atomic_path(target) as temp:
        assert temp.suffix == ".npz" and temp.parent == tmp_path and temp.name.startswith(".")
        np.savez(temp, x=np.arange(3))
    assert np.load(target)["x"].tolist() == [0, 1, 2]
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "broken.png") as temp:
        temp.write_bytes(b"half a picture")
        raise RuntimeError("writer failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arrays.npz"]


def test_a_staged_folder_appears_whole_or_not_at_all(tmp_path):
    from common.io import staged_folder

    target = tmp_path / "out"
    with pytest.raises(RuntimeError), staged_folder(target) as staging:
        (staging / "half.txt").write_text("partial")
        raise RuntimeError("killed")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with staged_folder(target) as staging:
        (staging / "a.txt").write_text("new")
    assert (target / "a.txt").read_text() == "new" and len(list(tmp_path.iterdir())) == 1
    with staged_folder(target, replace=True) as staging:
        (staging / "b.txt").write_text("newer")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]


def test_a_card_and_the_weights_it_records_are_checked_with_errors_that_name_them(tmp_path) -> None:
    weights, card = tmp_path / "w.safetensors", tmp_path / "card.json"
    weights.write_bytes(b"weights")
    atomic_write_json(card, {"sha": file_sha256(weights)})
    check_sha256(weights, read_json_card(card, "test")["sha"], card)
    with pytest.raises(ValueError, match="w.safetensors's weights .* not the ones .*card.json.*: retrain"):
        check_sha256(weights, "0" * 64, card, "retrain")
    with pytest.raises(FileNotFoundError, match="names missing.safetensors"):
        check_sha256(tmp_path / "missing.safetensors", "0" * 64, card)
    with pytest.raises(FileNotFoundError, match="not a test folder"):
        read_json_card(tmp_path / "none.json", "test")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a test card"):
        read_json_card(tmp_path / "bad.json", "test")
