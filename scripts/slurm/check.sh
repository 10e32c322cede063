#!/usr/bin/env bash
# `make slurm-check`: the project's Slurm job array run under a real one-node Slurm.
#
# Installs munge and Slurm from Debian if missing (needs root), writes a one-node
# slurm.conf into a temporary folder, starts munged, slurmctld and slurmd in the
# foreground under that folder (no systemd, no cgroups), then submits what a user
# would submit:
#
#   sbatch --array=1-3 scripts/slurm/embed-array.sbatch --config configs/paper.toml
#   sbatch --dependency=afterok:<array> scripts/slurm/report.sbatch --config configs/paper.toml …
#
# While the array runs it kills one task's lexalign mid-run (after that process has
# written vectors to the shared cache); the task requeues itself and its rerun
# completes. The check passes when every task and the report job completed, the
# report computed nothing (every vector came from the shards), and its outputs
# equal an unsharded `report --no-cache` run's byte for byte (summary.json without
# its `embedding` counts, which say where vectors came from, and every pairs/*.csv).
# The daemons it started are stopped by pid and the folder removed, also on failure.
#
# Environment: LEXALIGN (binary, default target/debug/lexalign), SLURM_CHECK_KILL=0
# (skip the kill), SLURM_CHECK_KEEP=1 (keep the folder for inspection),
# SLURM_CHECK_TIMEOUT (seconds to wait for the jobs, default 1800).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LEXALIGN=${LEXALIGN:-$ROOT/target/debug/lexalign}
TIMEOUT=${SLURM_CHECK_TIMEOUT:-1800}
say() { echo "slurm-check: $*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}
START=$(date +%s)

# --- packages ---------------------------------------------------------------
PACKAGES="slurmctld slurmd slurm-client munge"
missing=""
for c in munged mungekey slurmctld slurmd sbatch squeue scontrol; do
    command -v "$c" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
export PATH=$PATH:/usr/sbin:/sbin
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "needs$missing (Debian packages: $PACKAGES) and root to run the Slurm daemons."
        say "run it as root (it installs them: apt-get install -y $PACKAGES), or install them first."
        exit 2
    fi
    say "installing $PACKAGES from the Debian package registry (missing:$missing)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES >&2 ||
        { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES >&2; } ||
        die "apt-get install $PACKAGES failed"
fi
if [ "$(id -u)" -ne 0 ]; then
    say "the one-node Slurm runs its daemons as root (SlurmUser=root); run as root."
    exit 2
fi
[ -x "$LEXALIGN" ] || die "$LEXALIGN not found: run \`make build\` (or set LEXALIGN)"

# --- the temporary cluster ----------------------------------------------------
T=$(mktemp -d /tmp/lexalign-slurm.XXXXXX)
PIDS=()
cleanup() {
    local rc=$?
    set +e
    if [ -n "${SLURM_CONF:-}" ] && [ -n "${JOBS:-}" ]; then
        scancel $JOBS 2>/dev/null
    fi
    # Stop what this script started, newest first, by pid.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[i]}" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "$rc" -ne 0 ]; then
        for f in "$T"/log/*.log; do
            [ -f "$f" ] && { echo "--- last lines of $(basename "$f")" >&2; tail -n 15 "$f" >&2; }
        done
    fi
    if [ "${SLURM_CHECK_KEEP:-0}" = 1 ]; then say "kept $T"; else rm -rf "$T"; fi
    say "$([ "$rc" -eq 0 ] && echo passed || echo "failed (exit $rc)") in $(($(date +%s) - START)) s"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$T"/{munge,state,spool,log,work}
chmod 700 "$T"/munge
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
P_CTLD=$(free_port)
P_SLURMD=$(free_port)
while [ "$P_SLURMD" = "$P_CTLD" ]; do P_SLURMD=$(free_port); done

mungekey --create --keyfile="$T/munge/munge.key" --force 2>/dev/null ||
    dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
SOCKET=$T/munge/munge.socket
munged -F -f --key-file="$T/munge/munge.key" --socket="$SOCKET" --pid-file="$T/munge/munged.pid" \
    --seed-file="$T/munge/munged.seed" --log-file="$T/log/munged.log" 2>"$T/log/munged.stderr" &
PIDS+=($!)

export SLURM_CONF=$T/slurm.conf
cat >"$SLURM_CONF" <<EOF
# One-node Slurm for lexalign's slurm-check (written by scripts/slurm/check.sh).
ClusterName=lexalign-check
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET,cred_expire=10
SlurmctldPort=$P_CTLD
SlurmdPort=$P_SLURMD
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
SwitchType=switch/none
JobRequeue=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$T/log/jobcomp.txt
MinJobAge=3600
MailProg=/bin/true
ReturnToService=2
SchedulerParameters=defer_batch
SchedulerTimeSlice=5
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=check Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

for _ in $(seq 50); do [ -S "$SOCKET" ] && break; sleep 0.1; done
[ -S "$SOCKET" ] || die "munged did not start (see $T/log/munged.log)"
slurmctld -D -i -f "$SLURM_CONF" 2>"$T/log/slurmctld.stderr" &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" 2>"$T/log/slurmd.stderr" &
PIDS+=($!)
ready=0
for _ in $(seq 150); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then ready=1; break; fi
    sleep 0.2
done
[ "$ready" = 1 ] || die "the node did not come up: $(sinfo -h -N -o '%N %T %E' 2>&1)"
say "one-node Slurm up ($HOST, $CPUS CPUs, slurmctld :$P_CTLD, slurmd :$P_SLURMD) in $(($(date +%s) - START)) s"


# --- the reference: one unsharded run, no cache -------------------------------
REPORT_ARGS=(--config configs/paper.toml)
t=$(date +%s)
LEXALIGN_CACHE=$T/unused-cache "$LEXALIGN" --quiet report "${REPORT_ARGS[@]}" --no-cache --threads "$CPUS" \
    --out "$T/reference" --figures "$T/reference/figures" 2>"$T/log/reference.log" ||
    die "the unsharded --no-cache run failed (log: $T/log/reference.log)"
say "unsharded --no-cache reference run: $(($(date +%s) - t)) s"

# --- what a user submits --------------------------------------------------------
# One CPU per task (a 2-core node runs two tasks at once, the third after them),
# memory from the measured peak RSS of a paper-run shard (~0.6 GB).
CACHE=$T/cache
t=$(date +%s)
ARRAY=$(sbatch --parsable --array=1-3 --cpus-per-task=1 --mem=2G \
    --output="$T/log/embed-%A_%a.log" \
    --export=ALL,LEXALIGN_CACHE="$CACHE",LEXALIGN="$LEXALIGN" \
    scripts/slurm/embed-array.sbatch "${REPORT_ARGS[@]}") || die "sbatch of the array failed"
JOBS=$ARRAY
REPORT=$(sbatch --parsable --dependency=afterok:"$ARRAY" --cpus-per-task="$CPUS" --mem=4G \
    --output="$T/log/report-%j.log" \
    --export=ALL,LEXALIGN_CACHE="$CACHE",LEXALIGN="$LEXALIGN" \
    scripts/slurm/report.sbatch "${REPORT_ARGS[@]}" --out "$T/sharded" --figures "$T/sharded/figures") ||
    die "sbatch of the report job failed"
JOBS="$ARRAY $REPORT"
say "submitted array job $ARRAY (tasks 1-3) and report job $REPORT (afterok:$ARRAY)"

# Kill task 2's lexalign mid-run: once its own cache segment (<pid>-*.lxs) holds
# vectors, so the kill lands after real work and the rerun must cope with its
# partial segment. The process is found by its job environment, and killed by pid.
KILLED=""
if [ "${SLURM_CHECK_KILL:-1}" != 0 ]; then
    deadline=$(($(date +%s) + 600))
    while [ -z "$KILLED" ] && [ "$(date +%s)" -lt "$deadline" ]; do
        for c in /proc/[0-9]*/comm; do
            pid=${c#/proc/}; pid=${pid%/comm}
            [ "$(cat "$c" 2>/dev/null)" = lexalign ] || continue
            env=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null) || continue
            grep -qx "SLURM_ARRAY_JOB_ID=$ARRAY" <<<"$env" && grep -qx "SLURM_ARRAY_TASK_ID=2" <<<"$env" || continue
            if compgen -G "$CACHE/*/*/$pid-*.lxs" >/dev/null; then
                kill -KILL "$pid" 2>/dev/null && KILLED=$pid
                break
            fi
        done
        if [ -z "$KILLED" ]; then
            state=$(scontrol show job -o "${ARRAY}_2" 2>/dev/null | grep -o 'JobState=[A-Z]*' | head -n 1)
            case $state in JobState=COMPLETED | JobState=FAILED | JobState=CANCELLED)
                die "task 2 ended ($state) before it could be killed mid-run" ;;
            esac
            sleep 0.1
        fi
    done
    [ -n "$KILLED" ] || die "task 2 never wrote to the cache within 10 min"
    say "killed task 2's lexalign (pid $KILLED) mid-run, after it had written to the cache"
fi

deadline=$(($(date +%s) + TIMEOUT))
while squeue -h -j "$ARRAY,$REPORT" 2>/dev/null | grep -q .; do
    [ "$(date +%s)" -lt "$deadline" ] || die "jobs still queued or running after $TIMEOUT s: $(squeue -h -j "$ARRAY,$REPORT")"
    sleep 1
done
say "array and report job finished: $(($(date +%s) - t)) s"

# --- the checks ------------------------------------------------------------------
# sacct needs slurmdbd and a database; a one-node check reads the controller's
# records instead (MinJobAge keeps them) and the jobcomp log.
states=$(scontrol show job -o "$ARRAY"; scontrol show job -o "$REPORT")
while read -r line; do
    id=$(grep -o '^JobId=[0-9]*' <<<"$line")
    task=$(grep -o 'ArrayTaskId=[0-9]*' <<<"$line" || true)
    st=$(grep -o 'JobState=[A-Z_]*' <<<"$line")
    rs=$(grep -o 'Restarts=[0-9]*' <<<"$line")
    ex=$(grep -o ' ExitCode=[0-9:]*' <<<"$line")
    say "  $id ${task:-report} $st $rs$ex"
    [ "$st" = JobState=COMPLETED ] || die "$id ${task:-report} did not complete ($st)"
done <<<"$states"
if [ -n "$KILLED" ]; then
    grep -q 'Restarts=1' <<<"$(scontrol show job -o "${ARRAY}_2")" || die "task 2 was killed but not requeued"
    grep -q "requeueing this task" "$T"/log/embed-"${ARRAY}"_2.log || die "task 2's log does not show its requeue"
fi
python3 - "$T/reference" "$T/sharded" <<'PY' || die "the sharded run differs from the unsharded --no-cache run"
import json, pathlib, sys
ref, sh = (pathlib.Path(p) for p in sys.argv[1:3])
a, b = (json.loads((d / "summary.json").read_text()) for d in (ref, sh))
ea, eb = a.pop("embedding"), b.pop("embedding")
assert eb["computed"] == 0, f"the report job computed {eb['computed']} vectors; the shards should have left none"
assert ea["computed"] > 0 and ea["distinct"] == eb["distinct"] == eb["from_cache"], (ea, eb)
assert a == b, "summary.json differs"
# byte for byte: the same numbers printed the same way
ta = json.dumps(a, sort_keys=True); tb = json.dumps(b, sort_keys=True)
assert ta == tb
files = sorted(p.name for p in (ref / "pairs").iterdir())
assert files == sorted(p.name for p in (sh / "pairs").iterdir()) and files, files
for f in files:
    if f.endswith(".csv"):
        assert (ref / "pairs" / f).read_bytes() == (sh / "pairs" / f).read_bytes(), f"pairs/{f} differs"
print(f"slurm-check: sharded report == unsharded --no-cache run: summary.json (minus where vectors came from), "
      f"{sum(f.endswith('.csv') for f in files)} pair tables byte for byte; "
      f"report job: {eb['from_cache']} vectors from the cache, {eb['computed']} computed", file=sys.stderr)
PY
