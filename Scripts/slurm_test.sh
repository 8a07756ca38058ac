#!/usr/bin/env bash
# Scale-out on a real Slurm: starts a single-node Slurm (munged, slurmctld and slurmd, all in a
# temporary folder), runs the job array README gives for a sharded trial ("cartsim merge") and
# merges the shards in a dependent job; the merged files must be byte-identical to one unsharded
# run. Then again with shard 1 frozen mid-run (scontrol suspend), killed and requeued (scontrol
# requeue): same result. Exits non-zero, with the daemons' and jobs' logs, on any difference or
# failure.
#
#   Scripts/slurm_test.sh BIN [--patients N] [--shards K] [--keep]
#
# BIN is a built cartsim (e.g. .build/release/cartsim). N is patients per arm (the trial's
# --patients; the HEROS trial has 5 arms; default 1500), K the number of shards, i.e. array tasks
# (default 4): about 1.5 min on 2 cores. --keep leaves the temporary folder (configuration, logs,
# outputs) in place. Runs as root on Debian or Ubuntu: installs slurm-wlm and munge with apt-get
# if slurmctld is missing. Touches nothing outside its temporary folder except that install; its
# daemons use their own ports, munge key and socket.
set -euo pipefail

usage() { sed -n '/^#   Scripts/,/^set /{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit "${1:-2}"; }

PATIENTS=1500
SHARDS=4
KEEP=0
BIN=""
while (($#)); do
  case "$1" in
    --patients) PATIENTS="${2:?--patients needs a value}"; shift 2 ;;
    --shards) SHARDS="${2:?--shards needs a value}"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "slurm_test.sh: unknown option $1" >&2; usage ;;
    *) [[ -z $BIN ]] || usage; BIN="$1"; shift ;;
  esac
done
[[ -n $BIN ]] || usage
[[ $PATIENTS =~ ^[1-9][0-9]*$ ]] || { echo "slurm_test.sh: --patients must be a positive integer" >&2; exit 2; }
[[ $SHARDS =~ ^[1-9][0-9]*$ && $SHARDS -ge 2 ]] || { echo "slurm_test.sh: --shards must be at least 2" >&2; exit 2; }
[[ -f $BIN && -x $BIN ]] || { echo "slurm_test.sh: $BIN is not an executable file" >&2; exit 2; }
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
KILLED=1 # the array task that is killed and requeued in run 3

say() { echo "slurm: $*"; }
die() { echo "slurm: FAILED: $*" >&2; exit 1; }
START=$SECONDS

# --- Install --------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt_out=$( (apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge) 2>&1) \
    || { echo "$apt_out" >&2; die "apt-get could not install slurm-wlm and munge"; }
fi
for c in slurmctld slurmd munged sbatch squeue scontrol sinfo; do
  command -v "$c" >/dev/null || die "$c is missing after installing slurm-wlm and munge"
done

# --- Temporary folder and clean-up ----------------------------------------------------------
# munged wants every folder on the way to its socket searchable by all: mktemp's 0700 won't do.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cartsim-slurm.XXXXXX")"
chmod 755 "$WORK"
mkdir -p "$WORK"/{etc,state,spool,log,bin} "$WORK/munge/key"
chmod 700 "$WORK/munge/key"
LOGS="$WORK/log"
PIDS=()   # daemons, stopped in reverse order
JOBS=()   # our job ids, cancelled on exit
RUN_DIRS=()

dump_logs() {
  echo "===== slurm logs (in $WORK) =====" >&2
  local f
  for f in "$LOGS"/* "${RUN_DIRS[@]/%//logs/*}"; do
    [[ -f $f ]] || continue
    # A daemon's standard output repeats its log file; shown only when that is empty.
    [[ $f == *.stdout && -s ${f%.stdout}.log ]] && continue
    echo "----- $f (last 200 lines)" >&2
    tail -n 200 "$f" >&2 || true
  done
  if command -v squeue >/dev/null && [[ -n ${SLURM_CONF:-} ]]; then
    echo "----- squeue" >&2; squeue 2>&1 | sed 's/^/  /' >&2 || true
    echo "----- scontrol show job" >&2; scontrol show job 2>&1 | sed 's/^/  /' >&2 || true
  fi
}

cleanup() {
  local rc=$?
  set +e
  ((rc == 0)) || dump_logs
  if ((${#JOBS[@]})) && [[ -n ${SLURM_CONF:-} ]]; then
    scancel "${JOBS[@]}" 2>/dev/null
    for _ in $(seq 1 50); do [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break; sleep 0.2; done
  fi
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "${PIDS[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${PIDS[i]}" 2>/dev/null
    wait "${PIDS[i]}" 2>/dev/null
  done
  if ((KEEP)); then echo "slurm: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Run 1: the unsharded reference, directly --------------------------------------------------
REF="$WORK/reference"
say "run 1: unsharded reference, $PATIENTS patients per arm on 1 thread"
t0=$SECONDS
"$BIN" trial --patients "$PATIENTS" --threads 1 --out "$REF" --quiet >"$LOGS/reference.out" 2>&1 \
  || { cat "$LOGS/reference.out" >&2; die "the unsharded run failed"; }
TOTAL=$(($(wc -l <"$REF/patients.csv") - 1))
say "run 1: $TOTAL patients in $((SECONDS - t0)) s"

# --- Munge and Slurm -------------------------------------------------------------------------
# Own key, socket and ports, so that neither a system munged/Slurm nor another run gets in the way.
KEY="$WORK/munge/key/munge.key"
if command -v mungekey >/dev/null; then
  mungekey --create --keyfile="$KEY" 2>/dev/null || dd if=/dev/urandom of="$KEY" bs=1 count=1024 status=none
else
  dd if=/dev/urandom of="$KEY" bs=1 count=1024 status=none
fi
chmod 400 "$KEY"
SOCK="$WORK/munge/munge.socket"
munged -F --key-file="$KEY" --socket="$SOCK" --pid-file="$WORK/munge/munged.pid" \
  --log-file="$LOGS/munged.log" --seed-file="$WORK/munge/munged.seed" >>"$LOGS/munged.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do [[ -S $SOCK ]] && break; sleep 0.1; done
munge -S "$SOCK" -n </dev/null | unmunge -S "$SOCK" >/dev/null || die "munged does not answer on $SOCK"

port_used() { # port -> 0 if a TCP socket (any state, IPv4 or IPv6) has it as its local port
  awk -v p="$(printf ':%04X' "$1")" 'substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# Two free ports below the ephemeral range (where outgoing connections could take them).
pick_ports() {
  local lo p
  lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  ((lo > 12000)) || lo=32768
  for _ in $(seq 1 100); do
    p=$((10000 + RANDOM % (lo - 10002)))
    port_used "$p" || port_used "$((p + 1))" || { PORT=$p; return 0; }
  done
  die "no free pair of ports found"
}

HOST=$(hostname -s)
# The node as slurmd sees it (CPUs, sockets, cores, RealMemory), under the name we use.
NODE=$(slurmd -C | grep '^NodeName=' | sed "s/^NodeName=[^ ]*/NodeName=$HOST/")
[[ -n $NODE ]] || die "slurmd -C printed no node line"
export SLURM_CONF="$WORK/etc/slurm.conf"
while read -r v; do unset "$v"; done < <(compgen -e | grep '^SLURM_' | grep -v '^SLURM_CONF$' || true)
write_conf() {
  cat >"$SLURM_CONF" <<EOF
ClusterName=cartsim
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# A requeued job waits cred_expire + 1 s before it may start again (default 120 s).
AuthInfo=socket=$SOCK,cred_expire=10
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
# No cgroups in containers: processes tracked by parentage, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGS/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=1
ReturnToService=2
MpiDefault=none
MailProg=$(type -P true)
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=ci Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
}

# Starts slurmctld and slurmd in the foreground (-D) as our children; 0 once the node is idle,
# else 1 with the reason in WHY.
start_slurm() {
  write_conf
  slurmctld -D >>"$LOGS/slurmctld.stdout" 2>&1 &
  PIDS+=($!)
  slurmd -D -N "$HOST" >>"$LOGS/slurmd.stdout" 2>&1 &
  PIDS+=($!)
  local state="" p
  for _ in $(seq 1 150); do
    state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)
    [[ $state == idle ]] && return 0
    for p in "${PIDS[@]:1}"; do kill -0 "$p" 2>/dev/null || { WHY="a daemon exited at start-up"; return 1; }; done
    sleep 0.2
  done
  WHY="node $HOST is not idle after 30 s (state: ${state:-none})"
  return 1
}
stop_slurm() { # stops slurmd and slurmctld (all of PIDS but munged)
  local p
  for p in "${PIDS[2]}" "${PIDS[1]}"; do
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  PIDS=("${PIDS[0]}")
}
for try in 1 2 3; do
  pick_ports
  WHY=""
  start_slurm && break
  # A port taken between the choice and the bind is the likely cause: try other ports.
  say "Slurm did not start on ports $PORT and $((PORT + 1)): $WHY"
  grep -hs 'error' "$LOGS"/slurmctld.log "$LOGS"/slurmd.log | grep -v -e pmix -e MPI -e 'state file' -e 'NOTE:' \
    | tail -5 | sed 's/^/  /'
  ((try < 3)) || die "Slurm did not start in 3 tries"
  stop_slurm
  rm -rf "${WORK:?}/state" "${WORK:?}/spool"
  mkdir -p "$WORK/state" "$WORK/spool"
done
say "single-node Slurm up: $(sinfo -h -o '%P %D node(s) %c CPUs %m MB %T') ($(slurmctld -V))"
ln -s "$BIN" "$WORK/bin/cartsim"
export PATH="$WORK/bin:$PATH"

# --- Jobs ------------------------------------------------------------------------------------
# A run folder with the job array and the merge job in README's form (one thread per task).
make_run() { # dir
  mkdir -p "$1/logs"
  RUN_DIRS+=("$1")
  cat >"$1/shard.sh" <<EOF
#!/bin/bash
#SBATCH --array=0-$((SHARDS - 1)) --cpus-per-task=1
set -e
echo "task \${SLURM_ARRAY_TASK_ID}: start (restart \${SLURM_RESTART_COUNT:-0})"
cartsim trial --patients $PATIENTS --threads 1 \\
  --shard \${SLURM_ARRAY_TASK_ID}/\${SLURM_ARRAY_TASK_COUNT} --out shards/\${SLURM_ARRAY_TASK_ID} --quiet
echo "task \${SLURM_ARRAY_TASK_ID}: done (restart \${SLURM_RESTART_COUNT:-0})"
EOF
  cat >"$1/merge.sh" <<'EOF'
#!/bin/bash
set -e
cartsim merge shards/* --out trial --targets heros
EOF
}

job_field() { # job field -> value from scontrol show job (first record)
  scontrol show job -o "$1" 2>/dev/null | head -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# Waits until job $1 (the merge) has left the queue; $2 is called every 0.2 s while waiting.
wait_gone() { # jobid hook
  local deadline=$((SECONDS + 1800))
  while [[ -n $(squeue -h -j "$1" -o %i 2>/dev/null) ]]; do
    ((SECONDS < deadline)) || die "job $1 still queued after 30 min"
    "$2"
    sleep 0.2
  done
  "$2"
}
no_hook() { :; }

# Checks every array task and the merge job ended COMPLETED with exit 0.
check_jobs() { # array merge
  local line ok=1
  while read -r line; do
    local id st ex rs
    id=$(sed -n 's/.*ArrayTaskId=\([^ ]*\).*/\1/p' <<<"$line")
    st=$(sed -n 's/.*JobState=\([^ ]*\).*/\1/p' <<<"$line")
    ex=$(sed -n 's/.*ExitCode=\([^ ]*\).*/\1/p' <<<"$line")
    rs=$(sed -n 's/.*Restarts=\([^ ]*\).*/\1/p' <<<"$line")
    echo "  task $id: $st exit $ex restarts $rs"
    [[ $st == COMPLETED && $ex == 0:0 ]] || ok=0
  done < <(scontrol show job -o "$1")
  local st ex
  st=$(job_field "$2" JobState); ex=$(job_field "$2" ExitCode)
  echo "  merge job $2: $st exit $ex"
  [[ $st == COMPLETED && $ex == 0:0 ]] || ok=0
  ((ok)) || die "a job did not complete"
}

# Compares every file of the merged trial with the unsharded run, byte for byte.
NCOMPARED=0
compare() { # dir label
  local a b f only
  a=$(cd "$REF" && find . -type f | sed 's|^\./||' | sort)
  b=$(cd "$1" && find . -type f | sed 's|^\./||' | sort)
  only=$(comm -13 <(echo "$a") <(echo "$b"))
  [[ -z $only ]] || die "$2: files only in the merged output: $only"
  while read -r f; do
    die "$2: $f is missing from the merged output"
  done < <(comm -23 <(echo "$a") <(echo "$b"))
  NCOMPARED=0
  local list=() bad=()
  while read -r f; do
    list+=("$f")
    cmp -s "$REF/$f" "$1/$f" || bad+=("$f")
    NCOMPARED=$((NCOMPARED + 1))
  done < <(comm -12 <(echo "$a") <(echo "$b"))
  if [[ ${list[*]} == "${COMPARED_BEFORE:-}" ]]; then
    echo "  compared with cmp: the same $NCOMPARED files"
  else
    echo "  compared with cmp ($NCOMPARED files): ${list[*]}"
  fi
  COMPARED_BEFORE="${list[*]}"
  if ((${#bad[@]})); then
    for f in "${bad[@]}"; do
      echo "  DIFFERS: $f ($(cmp "$REF/$f" "$1/$f" 2>&1 | head -1))" >&2
    done
    die "$2: ${#bad[@]} of $NCOMPARED files differ from the unsharded run"
  fi
}

# Submits the array (with any further sbatch options) and the merge job that depends on it;
# sets ARR and MERGE.
submit() {
  ARR=$(sbatch --parsable "$@" --output='logs/shard-%a.out' shard.sh) || die "sbatch of the array failed"
  ARR=${ARR%%;*}
  JOBS+=("$ARR")
  MERGE=$(sbatch --parsable --dependency="afterok:$ARR" --kill-on-invalid-dep=yes --output=logs/merge.out merge.sh) \
    || die "sbatch of the merge failed"
  MERGE=${MERGE%%;*}
  JOBS+=("$MERGE")
}

# --- Run 2: the job array and the dependent merge --------------------------------------------
RUN2="$WORK/run2"
make_run "$RUN2"
cd "$RUN2"
t0=$SECONDS
submit
say "run 2: array job $ARR (tasks 0-$((SHARDS - 1))), merge job $MERGE (afterok:$ARR)"
wait_gone "$MERGE" no_hook
check_jobs "$ARR" "$MERGE"
compare "$RUN2/trial" "run 2"
say "run 2: done in $((SECONDS - t0)) s"
say "array of $SHARDS shards merged, $NCOMPARED files byte-identical to the unsharded run"

# --- Run 3: shard $KILLED killed mid-run and requeued ------------------------------------------
# The task is frozen (scontrol suspend) once its patients.csv.partial holds at least a fifth of
# its rows, checked to be mid-run while frozen (no patients.csv, no "done" line), then requeued
# with `scontrol requeue Incomplete` (which refuses a task that has completed); Slurm holds a
# requeued task that was suspended, so `track` releases it. If the task finished before it could
# be frozen, the attempt is repeated with a new array.
LO=$((TOTAL * KILLED / SHARDS))
HI=$((TOTAL * (KILLED + 1) / SHARDS))
ROWS=$((HI - LO))
MINROWS=$(((ROWS + 4) / 5))

TRANSITIONS=""
LAST_STATE=""
track() { # appends the state changes of the killed task to TRANSITIONS
  local s
  s=$(squeue -h -j "${ARR}_$KILLED" -o '%T %r' 2>/dev/null | head -1 | sed 's/ None$//; s/ (null)$//')
  [[ -n $s ]] || s="gone($(job_field "${ARR}_$KILLED" JobState))"
  if [[ $s != "$LAST_STATE" ]]; then
    TRANSITIONS+="${TRANSITIONS:+ -> }$s"
    LAST_STATE=$s
  fi
  if [[ $s == PENDING*Held* ]]; then scontrol release "${ARR}_$KILLED" 2>/dev/null || true; fi
}
# The pid of the stopped (state T) cartsim that writes into $1/$2, if there is one.
stopped_trial() { # rundir outdir
  local d p
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [[ $(readlink "/proc/$p/cwd" 2>/dev/null) == "$1" ]] || continue
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "--out $2 " || continue
    [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) == T ]] && { echo "$p"; return 0; }
  done
  return 1
}
rows_in() { # file -> data rows in it
  if [[ -f $1 ]]; then echo $(($(wc -l <"$1") - 1)); else echo 0; fi
}

attempt=0
while :; do
  attempt=$((attempt + 1))
  ((attempt <= 3)) || die "run 3: shard $KILLED could not be caught mid-run in 3 attempts (use more --patients)"
  RUN3="$WORK/run3-$attempt"
  make_run "$RUN3"
  cd "$RUN3"
  t0=$SECONDS
  submit --requeue --open-mode=append
  say "run 3: array job $ARR with --requeue, merge job $MERGE (afterok:$ARR); will kill task $KILLED (rows $LO..<$HI)"
  TRANSITIONS=""
  LAST_STATE=""
  OUT="shards/$KILLED"
  LOG="logs/shard-$KILLED.out"
  caught=""
  deadline=$((SECONDS + 1800))
  while ((SECONDS < deadline)); do
    track
    if [[ $LAST_STATE == RUNNING ]] && (($(rows_in "$OUT/patients.csv.partial") >= MINROWS)); then
      if scontrol suspend "${ARR}_$KILLED" 2>/dev/null; then
        track
        # Frozen (its cartsim stopped by SIGSTOP): nothing more is written. Mid-run means no
        # final patients.csv and no "done" line yet.
        pid=""
        for _ in $(seq 1 50); do pid=$(stopped_trial "$RUN3" "$OUT") && break; sleep 0.1; done
        if [[ -n $pid && $LAST_STATE == SUSPENDED && ! -e $OUT/patients.csv ]] && ! grep -q ': done' "$LOG" 2>/dev/null; then
          caught=$(rows_in "$OUT/patients.csv.partial")
          FILES_AT_KILL=$(find "$OUT" -mindepth 1 -printf '%P (%s bytes)\n' | sort | paste -sd, - | sed 's/,/, /g')
          scontrol requeue Incomplete "${ARR}_$KILLED" || die "scontrol requeue of the frozen task failed"
          track
        else
          scontrol resume "${ARR}_$KILLED" 2>/dev/null || true
        fi
      fi
      break
    fi
    [[ $LAST_STATE == gone* ]] && break
    sleep 0.2
  done
  ((SECONDS < deadline)) || die "run 3: task $KILLED did not get going in 30 min"
  if [[ -z $caught ]]; then
    say "run 3: task $KILLED finished before it could be frozen mid-run ($TRANSITIONS); trying again"
    scancel "$ARR" "$MERGE" 2>/dev/null || true
    for _ in $(seq 1 100); do [[ -z $(squeue -h -j "$ARR,$MERGE" -o %i 2>/dev/null) ]] && break; sleep 0.2; done
    continue
  fi
  PCT=$((100 * caught / ROWS))
  say "run 3: task $KILLED frozen (its cartsim, pid $pid, stopped) with $caught of $ROWS rows written ($PCT%): $FILES_AT_KILL; requeued"
  wait_gone "$MERGE" track
  check_jobs "$ARR" "$MERGE"
  echo "  task $KILLED states: $TRANSITIONS"
  echo "  task $KILLED in the job completion log (the killed run is logged when requeued, as PENDING):"
  grep "^JobId=$(job_field "${ARR}_$KILLED" JobId) " "$LOGS/jobcomp.log" | tr ' ' '\n' \
    | grep -E '^(JobId|JobState|StartTime|EndTime|ExitCode)=' | paste -sd' ' - | sed 's/ JobId=/\nJobId=/g' | sed 's/^/    /'
  restarts=$(job_field "${ARR}_$KILLED" Restarts)
  echo "  task $KILLED log:"
  sed 's/^/    /' "$LOG"
  # Evidence that the first run was killed, not finished: it started but never said done, and
  # the rerun (restart 1) did.
  [[ $restarts == 1 ]] || die "run 3: task $KILLED has Restarts=$restarts, not 1"
  if ! grep -q ': start (restart 0)' "$LOG" || grep -q ': done (restart 0)' "$LOG" \
    || ! grep -q ': start (restart 1)' "$LOG" || ! grep -q ': done (restart 1)' "$LOG"; then
    die "run 3: task $KILLED's log does not show a killed first run and a completed rerun"
  fi
  grep -q 'DUE TO JOB REQUEUE' "$LOG" || die "run 3: task $KILLED's log does not show the requeue"
  compare "$RUN3/trial" "run 3"
  say "run 3: done in $((SECONDS - t0)) s"
  break
done
say "shard $KILLED killed at $PCT% and requeued; merged result byte-identical ($NCOMPARED files)"
say "all runs passed in $((SECONDS - START)) s"
