#!/usr/bin/env bash
# Every `#[doc(alias = "...")]` the crate declares must be findable in rustdoc's search:
# rustdoc indexes an alias only on the item whose page it shows, so an alias on an item
# of a private module, re-exported with `pub use`, is silently dropped (it belongs on the
# `pub use` line). This checks the generated search index (target/doc/search.index, or
# the directory given) for each declared alias, case-insensitively, and names the ones
# missing. Run after `cargo doc` into a fresh doc directory (rustdoc leaves the index
# files of earlier builds beside the new ones, and a `--document-private-items` build
# indexes what the public docs do not): `rm -rf target/doc` first, as a fresh clone is.
set -euo pipefail
cd "$(dirname "$0")/.."
index=${1:-${CARGO_TARGET_DIR:-target}/doc/search.index}
[ -d "$index" ] || { echo "no search index at $index: run cargo doc first" >&2; exit 2; }
missing=0
total=0
while IFS= read -r alias; do
    total=$((total + 1))
    if ! grep -rqiF -- "$alias" "$index/name"; then
        where=$(grep -rn --include='*.rs' -F "alias = \"$alias\"" src | head -1 | cut -d: -f1,2)
        echo "not in rustdoc's search index: \"$alias\" ($where)"
        missing=$((missing + 1))
    fi
done < <(grep -rhoP --include='*.rs' '#\[doc\(alias = "\K[^"]+' src | sort -u)
echo "$((total - missing)) of $total doc aliases are in the search index"
[ "$missing" -eq 0 ]
