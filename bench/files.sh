#!/usr/bin/env bash
# File I/O beside fio's own io_uring engine: ringio (examples/file_bench, plain and
# --fixed), fio --ioengine=io_uring, tokio::fs and std threads (bench/peers `peer-file`),
# interleaved, on one 1 GiB file, for:
#   4 KiB randread and randwrite at depth 32, buffered and O_DIRECT;
#   1 MiB sequential read and write at depth 8, O_DIRECT.
#
#   bash bench/files.sh                          # 3 rounds of 3 s runs (about 8 minutes)
#   bash bench/files.sh --rounds 5 --duration 5 --file /mnt/nvme/bench.bin
#
# Installs fio with apt-get when it is missing. Each run prints IOPS, MiB/s, latency
# percentiles (submit to completion) and CPU time per I/O (the whole process, user +
# system); fio's come from its JSON (`lat_ns` percentiles, usr_cpu + sys_cpu). Prints a
# markdown table of medians and each engine's IOPS as a ratio of fio's. tokio::fs copies
# through an unaligned buffer of its own, so it has no O_DIRECT rows. Not run in CI.
#
# Buffered runs read and write the page cache: the file is read whole before each of them
# (O_DIRECT writes drop its cached pages), and fio runs with --invalidate=0, so every
# engine starts from the same warm cache. Before each O_DIRECT run the file's dirty pages
# are written back and its cache dropped, so no engine pays for the buffered runs.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
DURATION=3
FILE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --file) FILE=$2; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
    shift
done

command -v fio >/dev/null || apt-get install -y fio
cargo build --release --example file_bench
cargo build --release -p ringio-peers --bin peer-file
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
ringio=$target_dir/release/examples/file_bench
peer=$target_dir/release/peer-file
[ -n "$FILE" ] || FILE=$target_dir/file_bench/data.bin
mkdir -p "$(dirname "$FILE")"
# Creates and fills the file (a known pattern) if missing or short; 1 s of reads.
"$ringio" --file "$FILE" --size 1g --rw read --bs 1m --duration 1 >/dev/null

# name rw bs iodepth direct
SCENARIOS=(
    "4k-randread randread 4k 32 0"
    "4k-randread-direct randread 4k 32 1"
    "4k-randwrite randwrite 4k 32 0"
    "4k-randwrite-direct randwrite 4k 32 1"
    "1m-read-direct read 1m 8 1"
    "1m-write-direct write 1m 8 1"
)

out=$(mktemp)
for r in $(seq "$ROUNDS"); do
    for s in "${SCENARIOS[@]}"; do
        read -r name rw bs depth direct <<<"$s"
        common=(--file "$FILE" --size 1g --rw "$rw" --bs "$bs" --iodepth "$depth" --duration "$DURATION" --json)
        d=()
        [ "$direct" = 1 ] && d=(--direct)
        tag() { sed "s/^{/{\"scenario\":\"$name\",\"label\":\"$1\",/"; }
        warm() {
            if [ "$direct" = 1 ]; then
                # Write back and drop what the buffered runs left cached: an O_DIRECT
                # write over dirty cached pages waits for their writeback first, which
                # would fall on whichever engine runs first.
                python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$FILE"
            else
                cat "$FILE" >/dev/null
            fi
        }
        # A failed run prints its error and leaves its row out.
        warm; "$ringio" "${common[@]}" "${d[@]}" | tag ringio >>"$out" || true
        warm; "$ringio" "${common[@]}" "${d[@]}" --fixed | tag "ringio --fixed" >>"$out" || true
        warm; fio --name=files --filename="$FILE" --size=1g --ioengine=io_uring --rw="$rw" \
            --bs="$bs" --iodepth="$depth" --direct="$direct" --runtime="$DURATION" \
            --time_based --invalidate=0 --lat_percentiles=1 --output-format=json \
            | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
op = j["write"] if j["write"]["total_ios"] else j["read"]
secs = op["runtime"] / 1000
ios = op["total_ios"]
pct = op["lat_ns"]["percentile"]
cpu = (j["usr_cpu"] + j["sys_cpu"]) / 100 * secs * 1e6
print(json.dumps({"iops": op["iops"], "mib_s": op["bw_bytes"] / 2**20,
    "p50_us": pct["50.000000"] / 1000, "p99_us": pct["99.000000"] / 1000,
    "cpu_us_per_io": cpu / max(ios, 1), "errors": j["error"]}))' | tag fio >>"$out" || true
        if [ "$direct" = 0 ]; then
            warm; "$peer" --engine tokio "${common[@]}" | tag "tokio::fs" >>"$out" || true
        fi
        warm; "$peer" --engine threads "${common[@]}" "${d[@]}" | tag "std threads" >>"$out" || true
        echo "round $r: $name done" >&2
    done
done
cat "$out" >&2
python3 - "$out" "$ROUNDS" "$DURATION" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"\nMedians of {sys.argv[2]} interleaved rounds of {sys.argv[3]} s runs, one 1 GiB file:\n")
print("| scenario | engine | IOPS | MiB/s | p99 µs | CPU µs/IO | IOPS / fio |")
print("|---|---|---|---|---|---|---|")
scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
for s in scenarios:
    rs = [r for r in rows if r["scenario"] == s]
    med = lambda label, k: statistics.median(r[k] for r in rs if r["label"] == label)
    labels = list(dict.fromkeys(r["label"] for r in rs))
    fio = med("fio", "iops") if "fio" in labels else None
    for label in labels:
        iops = med(label, "iops")
        ratio = f"{iops / fio:.2f}" if fio else "-"
        errors = sum(r.get("errors", 0) for r in rs if r["label"] == label)
        note = f" ({errors} errors)" if errors else ""
        print(f"| {s} | {label}{note} | {iops:,.0f} | {med(label, 'mib_s'):,.1f} | "
              f"{med(label, 'p99_us'):,.0f} | {med(label, 'cpu_us_per_io'):.2f} | {ratio} |")
PY
rm -f "$out"
