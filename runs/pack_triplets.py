"""Pack the successful grasps of dataset folders into one compact, triplet-only folder.

    python -m runs.pack_triplets --data runs/out/g2v-data/seen-train runs/out/g2v-data/seen-train-qtopt \
        --out runs/out/g2v-pack/seen-train

The pack reads like any dataset folder (``runs.train_embedding --data PACK``, the same train /
validation split) and is several times smaller: small enough to carry to a lent GPU machine.
It has no episodes and no ground truth, so it serves training only. See ``graspdata.pack``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from graspdata.errors import DatasetError
from graspdata.pack import DEFAULT_CHUNK_ROWS, DEFAULT_SHARD_SIZE, pack_triplets


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path, nargs="+", help="dataset folders to pack")
    parser.add_argument("--out", required=True, type=Path, help="new folder for the pack")
    parser.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, help="triplets per shard file")
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS,
                        help="images compressed together (more: smaller, slower random reads)")
    parser.add_argument("--compression-level", type=int, default=9,
                        help="gzip level 0-9; 0 when the folder will travel as a .tar.xz (half the size again)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        with tqdm(unit="triplet", desc="packing") as bar:
            card = pack_triplets(args.data, args.out, args.shard_size, args.chunk_rows,
                                 args.compression_level, progress=bar.update)
    except (DatasetError, FileExistsError, ValueError) as error:
        sys.exit(f"pack_triplets: error: {error}")
    size = sum(entry.bytes for entry in card.shards)
    count = card.counts()["successes"]
    print(f"packed {count} triplets into {args.out}: {size / 2**20:.1f} MiB "
          f"({size / max(count, 1) / 1024:.1f} KiB each)")


if __name__ == "__main__":
    main()
