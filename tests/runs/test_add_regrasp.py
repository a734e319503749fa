"""runs.add_regrasp: the folder it writes records the command, the threshold and the verifier; errors are clear."""

from __future__ import annotations

import json

import pytest

from agents.regrasp import REGRASP_META
from runs.add_regrasp import main
from tests.agents.test_regrasp import RANKED


def test_the_command_writes_a_regrasp_folder_and_records_itself(tmp_path) -> None:
    out = main(["--base", RANKED, "--threshold", "0.75", "--retry-tried", "--out", str(tmp_path / "regrasp")])
    meta = json.loads((out / REGRASP_META).read_text())
    assert meta["threshold"] == 0.75 and meta["avoid_tried"] is False and meta["reward"] == "grasp2vec"
    assert meta["retry_empty"] is False
    assert json.loads((main(["--base", RANKED, "--threshold", "0.75", "--retry-empty", "--out",
                             str(tmp_path / "retry-empty")]) / REGRASP_META).read_text())["retry_empty"] is True
    assert meta["command"].startswith("python -m runs.add_regrasp") and len(meta["verifier_weights_sha256"]) == 64
    with pytest.raises(SystemExit, match="add_regrasp: error: .* exists"):
        main(["--base", RANKED, "--threshold", "0.5", "--out", str(out)])
    with pytest.raises(SystemExit, match="add_regrasp: error: unknown reward"):
        main(["--base", RANKED, "--threshold", "0.5", "--reward", "no-such-reward", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="add_regrasp: error: retry_empty .* needs avoid_tried"):
        main(["--base", RANKED, "--threshold", "0.5", "--retry-tried", "--retry-empty", "--out", str(tmp_path / "y")])
