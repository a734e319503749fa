from pathlib import Path

import pytest

from envs.objects import builtin_split, object_name, resolve_objects


def test_splits_are_disjoint_and_complete():
    seen, unseen, every = builtin_split("seen"), builtin_split("unseen"), builtin_split("all")
    assert len(seen) == 900 and len(unseen) == 100
    assert set(seen).isdisjoint(unseen)
    assert set(seen) | set(unseen) == set(every)
    assert all(object_name(p).endswith("0") for p in unseen)
    assert not any(object_name(p).endswith("0") for p in seen)


def test_custom_sets_folder_glob_and_list(tmp_path):
    unseen = builtin_split("unseen")[:3]
    assert resolve_objects([str(p) for p in unseen]) == sorted(unseen)
    folder = unseen[0].parent
    assert resolve_objects(folder) == [unseen[0]]
    pattern = str(unseen[0].parent.parent / "01*" / "*.urdf")
    assert [object_name(p) for p in resolve_objects(pattern)] == [f"{n:03d}" for n in range(10, 20)]


def test_bad_object_sets_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.urdf"):
        resolve_objects([tmp_path / "missing.urdf"])
    with pytest.raises(ValueError, match="empty"):
        resolve_objects([])
    with pytest.raises(ValueError, match="no .urdf"):
        resolve_objects(tmp_path)
    with pytest.raises(ValueError, match="matches no"):
        resolve_objects(str(tmp_path / "*.urdf"))
    text = tmp_path / "notes.txt"
    text.write_text("x")
    with pytest.raises(ValueError, match="not a URDF"):
        resolve_objects([text])
    assert isinstance(resolve_objects("seen")[0], Path)
