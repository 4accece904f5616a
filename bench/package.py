"""`make bench-package`: the deployable size of every Lambda (issue 15).

Runs `make package` (cargo lambda build --release --arm64 --output-format zip for every function, what
SAM's rust-cargolambda build method deploys), timing it, then reads each function's
target/lambda/<function>/bootstrap.zip: the zip's size against the 4 MB goal, and the unzipped
bootstrap's size. Writes target/bench/package.json (bench/table.py).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOAL_ZIP_MB = 4.0
MB = 1_000_000


def functions():
    return sorted(d.name for d in (ROOT / "functions").iterdir() if (d / "Cargo.toml").is_file())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "target/bench/package.json"))
    ap.add_argument("--no-build", action="store_true", help="measure the zips the last `make package` left")
    args = ap.parse_args()
    started = time.monotonic()
    fns = functions()
    zips = {fn: ROOT / "target/lambda" / fn / "bootstrap.zip" for fn in fns}
    build_seconds = None
    if not args.no_build:
        for z in zips.values():
            z.unlink(missing_ok=True)
        subprocess.run(["make", "--no-print-directory", "package"], cwd=ROOT, check=True)
        build_seconds = time.monotonic() - started
    missing = [fn for fn, z in zips.items() if not z.is_file()]
    if missing:
        sys.exit(f"make package left no bootstrap.zip for {missing}")

    rows, unzipped = [], {}
    for fn in fns:
        with zipfile.ZipFile(zips[fn]) as z:
            info = z.getinfo("bootstrap")
            unzipped[fn] = info.file_size
            with z.open(info) as f:
                magic = f.read(20)
        # ELF, 64-bit, e_machine 0xB7 (AArch64): what provided.al2023 on arm64 runs.
        if magic[:4] != b"\x7fELF" or magic[4] != 2 or int.from_bytes(magic[18:20], "little") != 0xB7:
            sys.exit(f"{zips[fn]} holds no arm64 ELF bootstrap")
        size = os.path.getsize(zips[fn]) / MB
        rows.append(
            {
                "what": f"{fn}: bootstrap.zip (arm64)",
                "figure": f"{size:.2f} MB ({unzipped[fn] / MB:.1f} MB unzipped)",
                "goal": f"≤ {GOAL_ZIP_MB:g} MB",
                "met": size <= GOAL_ZIP_MB,
            }
        )
    notes = [
        "Package: `make package` = cargo lambda build --release --arm64 --output-format zip of every function "
        "(what SAM's rust-cargolambda build deploys), workspace release profile, zig from PyPI as the linker"
        + (f"; this run built them in {build_seconds / 60:.1f} min." if build_seconds is not None else "."),
    ]
    part = {
        "part": "package",
        "title": "Deployable size",
        "seconds": round(time.monotonic() - started, 1),
        "rows": rows,
        "notes": notes,
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(part, indent=1, ensure_ascii=False) + "\n")
    for r in rows:
        print(f"{r['what']}: {r['figure']}  [{r['goal']}] {'met' if r['met'] else 'NOT MET'}")


if __name__ == "__main__":
    main()
