#!/usr/bin/env bash
# `make bench-mail-pin`: what pinning rustc 1.99.1 (for mail-parser 1.x, MSRV 1.98) would cost
# and buy, measured in a scratch copy of the repository (target/pin-scratch; the repository's own
# toolchain, lock file and target stay untouched):
#   1. rustup installing the pinned toolchain cold (uninstalled first when this script installed
#      it before; never touches the default toolchain);
#   2. a cold build of the mail bench (rootwarden-core with its dependencies, bench profile = the
#      Lambdas' release profile) on the current toolchain with mail-parser 0.11, and on 1.99.1
#      with mail-parser 1.x (core/src/mail/parse.rs ported: bench/mail-pin/parse_v1.rs), each in
#      its own empty target directory;
#   3. a cold `cargo build --workspace --bins` (make build's) on each toolchain: the part of a
#      cold `make test` a pin changes (every crate recompiles with the pinned compiler);
#   4. the mail throughput of both (the same bench, the same corpus).
# Writes target/bench/mail-pin.json; `make bench-mail` adds its notes to target/bench/mail.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PIN=${PIN_TOOLCHAIN:-1.99.1}
SCRATCH=$ROOT/target/pin-scratch
OUT=$ROOT/target/bench/mail-pin.json
mkdir -p "$SCRATCH" "$ROOT/target/bench"
# The bench reads ../shared beside the repository: the same corpus for the scratch copies.
[ -d "$ROOT/../shared" ] && ln -sfn "$ROOT/../shared" "$SCRATCH/shared"
now() { date +%s.%N; }
secs() { python3 -c "print(round($2 - $1, 1))"; }

# 1. toolchain install, cold
if rustup toolchain list | grep -q "^$PIN-" && [ -f "$SCRATCH/.installed-by-pin-bench" ]; then
  rustup toolchain uninstall "$PIN" >/dev/null 2>&1
fi
t0=$(now)
rustup toolchain install "$PIN" --profile minimal -c rustfmt -c clippy >"$SCRATCH/install.log" 2>&1
t1=$(now)
touch "$SCRATCH/.installed-by-pin-bench"
install_s=$(secs "$t0" "$t1")

# Two scratch copies of the sources: as they are, and pinned with mail-parser 1.x.
for v in base pinned; do
  rm -rf "$SCRATCH/$v"
  mkdir -p "$SCRATCH/$v"
  git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$SCRATCH/$v"
  # PIN_OVERLAY=DIR: files laid over both copies (same relative paths), e.g. changes not yet in the tree.
  if [ -n "${PIN_OVERLAY:-}" ]; then cp -r "$PIN_OVERLAY"/. "$SCRATCH/$v"/; fi
  ln -sfn "$ROOT/.venv" "$SCRATCH/$v/.venv"
done
(
  cd "$SCRATCH/pinned"
  printf '[toolchain]\nchannel = "%s"\ncomponents = ["rustfmt", "clippy"]\nprofile = "minimal"\n' "$PIN" >rust-toolchain.toml
  sed -i 's/^mail-parser = "0.11"/mail-parser = "1"/; s/^rust-version = .*/rust-version = "1.98"/' Cargo.toml
  cp "$ROOT/bench/mail-pin/parse_v1.rs" core/src/mail/parse.rs
  cargo update -p mail-parser --quiet
)

# 2 + 4. cold build of the mail bench, then its throughput (the bench writes target/bench/mail.json
# inside the scratch copy).
bench() {
  local dir=$1
  rm -rf "$dir/target"
  local a b
  a=$(now)
  (cd "$dir" && cargo bench -p rootwarden-core --bench mail_throughput --no-run --quiet) >"$dir.build.log" 2>&1
  b=$(now)
  echo "$(secs "$a" "$b")"
  (cd "$dir" && MAIL_BENCH_SECONDS=${MAIL_BENCH_SECONDS:-3} cargo bench -p rootwarden-core --bench mail_throughput --quiet) >"$dir.bench.log" 2>&1
}
base_bench_build=$(bench "$SCRATCH/base")
pinned_bench_build=$(bench "$SCRATCH/pinned")

# 3. cold workspace build (make build), each toolchain, each in an empty target directory.
build() {
  local dir=$1
  rm -rf "$dir/target/debug"
  local a b
  a=$(now)
  (cd "$dir" && cargo build --workspace --bins --quiet) >"$dir.ws.log" 2>&1
  b=$(now)
  echo "$(secs "$a" "$b")"
}
if [ "${PIN_SKIP_WORKSPACE:-0}" = 1 ]; then
  base_ws=null; pinned_ws=null
else
  base_ws=$(build "$SCRATCH/base")
  pinned_ws=$(build "$SCRATCH/pinned")
fi

python3 - "$OUT" "$PIN" "$install_s" "$base_bench_build" "$pinned_bench_build" "$base_ws" "$pinned_ws" \
  "$SCRATCH/base/target/bench/mail.json" "$SCRATCH/pinned/target/bench/mail.json" "$(rustc --version)" <<'EOF'
import json, sys
out, pin, install, bb, pb, bw, pw, basef, pinf, rustc = sys.argv[1:]
base = json.load(open(basef))["measured"]
pinned = json.load(open(pinf))["measured"]
num = lambda s: None if s == "null" else float(s)
r = {
    "toolchain": pin, "current": rustc, "install_seconds": float(install),
    "bench_build_seconds": {"current": float(bb), "pinned": float(pb)},
    "workspace_build_seconds": {"current": num(bw), "pinned": num(pw)},
    "base": base, "pinned": pinned,
}
gain = pinned["rust_mb_per_s"] / base["rust_mb_per_s"]
ws = ""
if r["workspace_build_seconds"]["current"] is not None:
    ws = (f"; cold make build {r['workspace_build_seconds']['current']:.0f} s → "
          f"{r['workspace_build_seconds']['pinned']:.0f} s")
r["notes"] = [
    f"Toolchain pin {pin} for mail-parser 1.x, measured in a scratch copy (bench/mail-pin/run.sh): "
    f"rustup install {float(install):.0f} s cold; cold build of the mail bench {float(bb):.0f} s ({rustc.split()[1]}, "
    f"mail-parser 0.11) → {float(pb):.0f} s ({pin}, 1.x){ws}; pipeline {base['rust_mb_per_s']:.1f} → "
    f"{pinned['rust_mb_per_s']:.1f} MB/s (×{gain:.2f}), Rust/Python {base['ratio_mb']:.1f}× → {pinned['ratio_mb']:.1f}×.",
]
json.dump(r, open(out, "w"), indent=2)
print(json.dumps(r, indent=2))
EOF
