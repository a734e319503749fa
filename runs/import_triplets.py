"""Build a grasp dataset from folders of image triplets (real-robot data, or any other source).

    python -m runs.import_triplets SOURCE --out runs/out/data/real --image-size 64

SOURCE holds one folder per grasp with ``pre``, ``post`` and ``outcome`` images (PNG or JPEG) and
an optional ``meta.json`` (``{"success": true, "object": "red_mug"}``); see docs/datasets.md. The
result is read by the same readers as simulated data (``embedding.dataset.TripletDataset``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from graspdata.errors import DatasetError
from graspdata.importer import find_triplet_folders, import_triplets


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="folder of triplet folders")
    parser.add_argument("--out", type=Path, required=True, help="new dataset folder")
    parser.add_argument("--image-size", type=int, default=64, help="side of the stored images, pixels")
    parser.add_argument("--shard-size", type=int, default=500, help="triplets per shard file")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        total = len(find_triplet_folders(args.source))
        with tqdm(total=total, unit="triplet") as bar:
            card = import_triplets(args.source, args.out, args.image_size, args.shard_size, progress=bar.update)
    except (DatasetError, FileExistsError, ValueError) as error:
        sys.exit(f"import_triplets: error: {error}")
    counts = card.counts()
    print(f"imported {counts['attempts']} triplets ({counts['successes']} successes) into {args.out}")


if __name__ == "__main__":
    main()
