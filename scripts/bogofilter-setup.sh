# Sourced by the scripts that compare spamsift with bogofilter: goes to the
# repository, sets C (the shared corpora: $CORPORA, else ../shared/corpora),
# installs bogofilter with apt-get when it is missing, builds spamsift
# (B, the release binary) and makes a work directory W removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
C=$(cd "${CORPORA:-../shared/corpora}" && pwd)
if ! command -v bogofilter >/dev/null; then
  (apt-get install -y -q bogofilter || (apt-get update -q && apt-get install -y -q bogofilter)) >/dev/null
fi
cargo build --release -q
B=$PWD/target/release/spamsift
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
