#!/usr/bin/env bash
# Man pages (dist/man/*.8) and shell completions (dist/completions/) from the clap
# definitions; see examples/gen_docs.rs. Install on a box, e.g.:
#   cp dist/man/*.8 /usr/share/man/man8/
#   cp dist/completions/qrescue.bash /etc/bash_completion.d/qrescue
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --locked --quiet --example gen_docs -- "${1:-dist}"
