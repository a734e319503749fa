import json

from runs import bench_train_speed


def test_speed_report_json_and_chart(tmp_path):
    out = tmp_path / "speed"
    report = bench_train_speed.main(["--out", str(out), "--image-size", "32", "--batch-sizes", "4", "--warmup", "1",
                                     "--repeats", "1", "--variants", "baseline (2 threads, fp32)", "1 thread",
                                     "loader, 1 worker"])
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved == json.loads(json.dumps(report)) and out.with_suffix(".png").is_file()
    assert [row["variant"] for row in saved["rows"]] == ["baseline (2 threads, fp32)", "1 thread", "loader, 1 worker"]
    assert saved["rows"][0]["ratio_to_baseline"] == 1.0
    assert all(row["images_per_s"] > 0 and row["load_average_before"] >= 0 for row in saved["rows"])
    assert saved["command"].startswith("python -m runs.bench_train_speed") and "cores" in saved["machine_at_start"]
