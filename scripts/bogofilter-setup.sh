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
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# Timed as installed (a copy, as `install` or a package makes), not as the
# linker left it: started from target/, the same binary measured 0.3 ms a
# process slower (more page-fault work mapping the linker's output).
install -m 755 target/release/spamsift "$W/spamsift"
B=$W/spamsift
