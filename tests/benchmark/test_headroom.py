import json

from benchmark import headroom
from benchmark.tasks import TrialResult
from runs import grasp_headroom


def result(success=False, lifted=0, target_lifted=False, fault=None) -> TrialResult:
    return TrialResult(seed=0, success=success, lifted=lifted, grasp_attempted=True, fault=fault, steps=5,
                       seconds=0.1, target_lifted=target_lifted)


def test_endings_name_where_a_trial_ended():
    assert headroom.ending(result(success=True, lifted=1, target_lifted=True)) == "success"
    assert headroom.ending(result()) == "nothing"
    assert headroom.ending(result(lifted=1)) == "wrong"
    assert headroom.ending(result(lifted=2, target_lifted=True)) == "target+another"
    assert headroom.ending(result(fault="object 3 left the workspace")) == "fault"


def test_headroom_reports_each_variation_and_best_of_k(tmp_path):
    out = tmp_path / "headroom.json"
    report = grasp_headroom.main(["--objects", "seen", "--trials", "2", "--variations", "3", "--num-objects", "2",
                                  "--image-size", "32", "--json", str(out), "--markdown", str(tmp_path / "h.md"),
                                  "--no-progress"])
    assert json.loads(out.read_text()) == report and out.with_suffix(".png").is_file()
    (seen,) = report["results"]
    assert [v["label"] for v in seen["variations"]] == ["yaw +0°, shift +0 cm", "yaw +45°, shift +0 cm",
                                                        "yaw -45°, shift +0 cm"]
    for variation in seen["variations"]:
        assert sum(variation["endings"].values()) == 2 and variation["hits"] == variation["endings"]["success"]
    best = [b["hits"] for b in seen["best_of_k"]]
    assert len(best) == 3 and best == sorted(best) and best[0] == seen["variations"][0]["hits"]
    assert "best of the first 3" in (tmp_path / "h.md").read_text()
