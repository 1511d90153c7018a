#!/usr/bin/env bash
# ctest's fixture of the Kafka tests (tests/CMakeLists.txt: kafka.cluster.start/stop).
#   kafka_fixture.sh start DIR   a cluster for the Kafka tests: the one given in
#                                AE_KAFKA_BOOTSTRAP (scripts/test, .ci/run), else 3 nodes in DIR
#   kafka_fixture.sh stop DIR    stops the cluster in DIR, unless the run was given one
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
action=${1:?start or stop}
dir=${2:?cluster directory}
if [[ -n ${AE_KAFKA_BOOTSTRAP:-} ]]; then
  # Owned by whoever started it; only check that it answers.
  if [[ $action == start ]] && ! kcat -L -b "$AE_KAFKA_BOOTSTRAP" -m 10 >/dev/null 2>&1; then
    echo "kafka fixture: AE_KAFKA_BOOTSTRAP=$AE_KAFKA_BOOTSTRAP does not answer" >&2
    exit 1
  fi
  echo "kafka fixture: using the cluster at $AE_KAFKA_BOOTSTRAP"
  exit 0
fi
case "$action" in
  start) exec "$root/scripts/kafka" start --brokers 3 --dir "$dir" ;;
  stop) exec "$root/scripts/kafka" stop --dir "$dir" ;;
  *) echo "kafka fixture: start or stop" >&2; exit 2 ;;
esac
