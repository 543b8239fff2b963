#!/usr/bin/env bash
# The IMDB example, data parallel: examples/imdb --distributed on NP ranks
# (default 2) under mpirun, THREADS compute threads each (default 1). Each
# rank trains on batch-size / NP reviews of every length-bucketed batch;
# rank 0 prints and writes --out (README, "Data-parallel training").
#
#   scripts/imdb_distributed.sh [example flags, e.g. --epochs 2 --resume]
#   NP=3 THREADS=2 scripts/imdb_distributed.sh --batch-size 36
#   HOSTFILE=hosts NP=4 scripts/imdb_distributed.sh --data /shared/aclImdb_v1.tar.gz --out /shared/imdb
#
# MPIRUN_ARGS adds mpirun flags (a network: "--mca btl self,tcp --mca
# btl_tcp_if_include eth0"). Set-up and data as scripts/imdb.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build/release -DTOADSTOOL_BUILD_TESTS=OFF -DTOADSTOOL_BUILD_BENCH=OFF
program=build/release/examples/imdb/imdb
launcher=(mpirun -np "${NP:-2}" --bind-to none)
if [ -n "${HOSTFILE:-}" ]; then launcher+=(--hostfile "$HOSTFILE"); fi
if [ "$(id -u)" = 0 ]; then launcher+=(--allow-run-as-root); fi
# shellcheck disable=SC2206 # MPIRUN_ARGS is a list of flags, split on purpose
if [ -n "${MPIRUN_ARGS:-}" ]; then launcher+=($MPIRUN_ARGS); fi

# Ctrl-C: mpirun's own answer to a SIGINT is SIGTERM then SIGKILL (1 s
# later) to every rank, too soon for a checkpoint. So mpirun runs in its own
# session (the terminal's Ctrl-C does not reach it) and the first Ctrl-C
# here becomes a SIGUSR1, which mpirun forwards to every rank: the trainer
# stops every rank after the same batch and the checkpoint callback saves
# (--resume continues). A second Ctrl-C interrupts mpirun itself.
run() {
  setsid "${launcher[@]}" "$program" --distributed --threads "${THREADS:-1}" "$@" &
  local pid=$! stops=0 rc=0
  trap 'stops=$((stops + 1))
        if [ "$stops" -eq 1 ]; then
          echo "imdb_distributed: stopping every rank after its batch (Ctrl-C again to kill)" >&2
          kill -USR1 "$pid"
        else
          kill -INT "$pid"
        fi' INT
  while true; do
    wait "$pid" && rc=0 || rc=$?
    kill -0 "$pid" 2>/dev/null || break  # wait returned for a trapped Ctrl-C
  done
  trap - INT
  return "$rc"
}
status=0
run "$@" || status=$?
if [ "$status" -eq 77 ]; then  # no data found: download it once, then run again
  scripts/get_imdb.sh >/dev/null
  status=0
  run "$@" || status=$?
fi
exit "$status"
