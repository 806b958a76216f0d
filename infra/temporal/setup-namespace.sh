#!/bin/sh
# One-shot (temporalio/admin-tools): waits for the Temporal frontend, creates
# the namespace Jobplane uses and registers its custom search attributes
# (contracts/search-attributes.ts; the dev server registers the same at start).
# Safe to run again: what exists is left as it is.
set -eu
address="${TEMPORAL_ADDRESS:-temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
: "${SEARCH_ATTRIBUTES:?space-separated Name=Type pairs}"

retry() {
  n=0
  until "$@"; do
    n=$((n + 1))
    if [ "$n" -ge 30 ]; then
      echo "giving up after $n attempts: $*" >&2
      return 1
    fi
    sleep 2
  done
}

retry temporal operator cluster health --address "$address"
if ! temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
  retry temporal operator namespace create --address "$address" --namespace "$namespace" --retention 72h
fi

has_attribute() {
  temporal operator search-attribute list --address "$address" --namespace "$namespace" | grep -qw "$1"
}
ensure_attribute() {
  has_attribute "$1" || temporal operator search-attribute create --address "$address" --namespace "$namespace" --name "$1" --type "$2"
}
# A new namespace takes a few seconds to reach every frontend: retry until each attribute is there.
for pair in $SEARCH_ATTRIBUTES; do
  retry ensure_attribute "${pair%%=*}" "${pair#*=}"
done
echo "namespace $namespace is ready with search attributes: $SEARCH_ATTRIBUTES"
