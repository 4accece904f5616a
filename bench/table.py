"""`make bench`'s last step: one table from every part's `target/bench/<part>.json`.

Each part (cold start, package, calls, mail, fleet) writes
    {"part": "...", "title": "...", "seconds": <wall time of the part>,
     "rows": [{"what": "...", "figure": "...", "goal": "..." | null, "met": true | false | null}],
     "notes": ["...", ...]}
This prints the whole table and, with --readme, rewrites the README between the
<!-- bench --> markers with the table and the date it was measured. No figure is typed by hand.
"""

import argparse
import datetime
import json
import pathlib
import platform
import sys
import time

PARTS = ["coldstart", "package", "calls", "mail", "fleet"]


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(parts, measured, whole=None):
    out = []
    total = sum(p.get("seconds", 0) for p in parts)
    cpus = len(__import__("os").sched_getaffinity(0))
    took = f"the parts took {total / 60:.1f} minutes"
    if whole is not None:
        took = f"the whole run took {whole / 60:.0f} minutes, builds included ({took})"
    out.append(f"Measured by `make bench` on {measured} ({cpus} cores, {platform.machine()}); {took}.")
    out.append("")
    out.append("| part | what | figure | goal | met |")
    out.append("|---|---|---|---|---|")
    for p in parts:
        for i, r in enumerate(p["rows"]):
            met = r.get("met")
            mark = "" if met is None else ("yes" if met else "**no**")
            title = p.get("title", p["part"]) if i == 0 else ""
            out.append(
                f"| {cell(title)} | {cell(r['what'])} | {cell(r['figure'])} | {cell(r.get('goal') or '')} | {mark} |"
            )
    notes = [n for p in parts for n in p.get("notes", [])]
    if notes:
        out.append("")
        out.extend(f"- {cell(n)}" for n in notes)
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="target/bench")
    ap.add_argument("--readme", help="rewrite this file between <!-- bench --> markers")
    ap.add_argument("--parts", default=",".join(PARTS))
    args = ap.parse_args()
    parts, missing = [], []
    for name in args.parts.split(","):
        f = pathlib.Path(args.dir) / f"{name}.json"
        if f.exists():
            parts.append(json.loads(f.read_text()))
        else:
            missing.append(name)
    measured = datetime.date.today().isoformat()
    # `make bench` writes its start time first, so the table can say how long the run took.
    whole = None
    stamp = pathlib.Path(args.dir) / "started"
    if stamp.exists():
        try:
            whole = time.time() - float(stamp.read_text().strip())
        except ValueError:
            whole = None
    table = render(parts, measured, whole)
    print(table)
    if missing:
        print(f"\nmissing parts (not written by this run): {', '.join(missing)}", file=sys.stderr)
        sys.exit(1)
    if args.readme:
        path = pathlib.Path(args.readme)
        text = path.read_text()
        start, end = "<!-- bench -->", "<!-- /bench -->"
        if start not in text or end not in text:
            sys.exit(f"{path} has no {start} … {end} markers")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        path.write_text(f"{head}{start}\n{table}\n{end}{tail}")


if __name__ == "__main__":
    main()
