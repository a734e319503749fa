import json

from runs import bench_embedding


def test_bench_reports_throughputs(tmp_path):
    out = tmp_path / "bench.json"
    report = bench_embedding.main(["--image-size", "32", "--batch-size", "4", "--threads", "1", "--repeats", "1",
                                   "--json", str(out)])
    saved = json.loads(out.read_text())
    assert saved == report
    for key in ("train_triplets_per_s", "inference_images_per_s_batch1", "inference_images_per_s_batch4",
                "dense_heatmaps_per_s_batch1", "dense_heatmaps_per_s_batch4"):
        assert saved[key] > 0
    assert saved["parameters"] > 0
