#!/usr/bin/env bash
# A one-node SLURM cluster with accounting on this machine, to run the workflow through the SLURM profile
# (docs/cluster.md):
#
#   scripts/slurm-local.sh start    install the Debian packages when missing, write the configuration for this host
#                                   (its CPUs and memory; GRES on the gpu partition when nvidia-smi finds GPUs),
#                                   start munge, MariaDB + slurmdbd, slurmctld and slurmd, wait until the node is idle
#   scripts/slurm-local.sh status   the daemons, the node (a drained or down node by name, with its reason) and
#                                   whether accounting answers; exit status 1 when anything is not usable
#   scripts/slurm-local.sh check    only the node and accounting checks (the local sbatch runs it first)
#   scripts/slurm-local.sh stop     cancel the cluster's jobs, stop the daemons it started (by PID)
#   scripts/slurm-local.sh env      the line to eval before sbatch/sacct/snakemake: SLURM_CONF and PATH (wrappers
#                                   of the client commands that point at this cluster, also inside jobs)
#
# Then:  eval "$(scripts/slurm-local.sh env)"
#        .venv/bin/snakemake TARGET --profile workflow/profiles/slurm --profile .slurm-local/profile --configfile ...
# (.slurm-local/profile is written by `start`: the repository's profile fitted to this node, see docs/cluster.md.)
#
# Everything lives in one folder, $TALKINNERF_SLURM_DIR (default: .slurm-local/ in the repository): configuration,
# munge key and socket, MariaDB data, spool, logs, PID files. Nothing outside it is written (apt-get aside) and no
# system service is used: every daemon and client reads this folder's slurm.conf through SLURM_CONF and flags. The
# daemons listen on 127.0.0.1, ports $TALKINNERF_SLURM_PORT (default 16817: slurmctld) to +3 (slurmd, slurmdbd,
# MariaDB). Runs as root (slurmd starts jobs as their user); no systemd needed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${TALKINNERF_SLURM_DIR:-$ROOT/.slurm-local}
PORT=${TALKINNERF_SLURM_PORT:-16817}
CLUSTER=${TALKINNERF_SLURM_CLUSTER:-talkinnerf}
WAIT_S=${TALKINNERF_SLURM_WAIT:-90}
NODE=$(hostname -s)
CTLD_PORT=$PORT
SLURMD_PORT=$((PORT + 1))
DBD_PORT=$((PORT + 2))
DB_PORT=$((PORT + 3))
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)       # start order; stopped in reverse

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: error: $*" >&2; exit 1; }

paths() {
  mkdir -p "$STATE"
  STATE=$(cd "$STATE" && pwd)
  ETC=$STATE/etc RUN=$STATE/run LOG=$STATE/log DB=$STATE/mysql SPOOL=$STATE/spool
  export SLURM_CONF=$ETC/slurm.conf
}

install_packages() {
  local need=() deb
  for deb in slurm-wlm slurmdbd munge mariadb-server; do
    dpkg -s "$deb" >/dev/null 2>&1 || need+=("$deb")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${need[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# --- PIDs: each daemon runs in the foreground under setsid; its PID file is ours, not the daemon's ---------------
pid_of() {  # prints the PID when the daemon we started is alive (same binary, same state folder)
  local f=$RUN/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$1" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$STATE" || grep -qz "^SLURM_CONF=$SLURM_CONF\$" "/proc/$pid/environ" \
    2>/dev/null || return 1
  echo "$pid"
}

launch() {  # name command...: start detached from this shell and its terminal, record the PID
  local name=$1
  shift
  setsid "$@" >>"$LOG/$name.out" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

wait_for() {  # what seconds command...: poll until the command succeeds
  local what=$1 secs=$2 t=0
  shift 2
  until "$@" >/dev/null 2>&1; do
    sleep 1
    t=$((t + 1))
    [ $t -lt "$secs" ] || return 1
  done
  say "$what up (${t}s)"
}

# --- configuration for this host --------------------------------------------------------------------------------
host_facts() {
  # slurmd -C prints this machine's real layout: CPUs, sockets, cores, threads, RealMemory (MB)
  local line
  line=$(slurmd -C 2>/dev/null | head -1) || die "slurmd -C failed"
  NODE_HW=$(echo "$line" | tr ' ' '\n' | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=' \
    | tr '\n' ' ')
  CPUS=$(echo "$NODE_HW" | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p')
  MEM=$(echo "$NODE_HW" | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  GPUS=0
  if command -v nvidia-smi >/dev/null 2>&1; then
    GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
  fi
}

write_config() {
  mkdir -p "$ETC" "$RUN" "$LOG" "$SPOOL/ctld" "$SPOOL/d" "$STATE/munge" "$STATE/profile"
  chmod 700 "$STATE/munge" "$ETC"
  host_facts
  local gres_node="" gres_types=""
  if [ "$GPUS" -gt 0 ]; then
    gres_types="GresTypes=gpu"
    gres_node="Gres=gpu:$GPUS"
    {
      echo "# written by scripts/slurm-local.sh: the GPUs nvidia-smi found"
      echo "NodeName=$NODE Name=gpu File=/dev/nvidia[0-$((GPUS - 1))]"
    } >"$ETC/gres.conf"
  else
    rm -f "$ETC/gres.conf"
  fi
  cat >"$ETC/slurm.conf" <<EOF
# written by scripts/slurm-local.sh for $NODE: $CPUS CPUs, $MEM MB, $GPUS GPUs; do not edit (rewritten on start)
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$RUN/munge.socket
CredType=cred/munge
CommunicationParameters=NoInAddrAny
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=$RUN/slurmctld.own.pid
SlurmdPidFile=$RUN/slurmd.own.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
# no cgroups: the job's processes are tracked by parent PID, nothing is confined (one trusted user)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=10
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# clients reach slurmdbd through this munge socket (AuthInfo above is for slurmctld/slurmd)
AccountingStoragePass=$RUN/munge.socket
# the executor plugin writes the rule name into the job comment: keep it in accounting (sacct -o Comment)
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=60
SlurmdTimeout=120
KillWait=10
MinJobAge=300
InactiveLimit=0
MailProg=/bin/true
$gres_types
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE $NODE_HW $gres_node State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF
  [ -f "$ETC/db.pass" ] || { head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$ETC/db.pass"; chmod 600 "$ETC/db.pass"; }
  (
    umask 077
    cat >"$ETC/slurmdbd.conf" <<EOF
# written by scripts/slurm-local.sh
AuthType=auth/munge
AuthInfo=socket=$RUN/munge.socket
DbdHost=$NODE
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$RUN/slurmdbd.own.pid
LogFile=$LOG/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(cat "$ETC/db.pass")
StorageLoc=slurm_acct_db
EOF
  )
  write_wrappers
  write_profile
}

write_wrappers() {
  # Client commands that find this cluster wherever they run: the executor plugin's job step clears every SLURM_*
  # variable (SLURM_CONF included) before it calls srun inside the job, and a real cluster's nodes find their
  # slurm.conf in /etc/slurm, which this script leaves alone. `env` puts this folder first on PATH.
  # sbatch first runs `check`: on a drained or down node, or without accounting, a submission would wait (or be
  # polled) forever; it is refused with the reason instead, which the executor plugin prints as the job's error.
  mkdir -p "$STATE/bin"
  local cmd real pre
  for cmd in sbatch srun salloc sacct sacctmgr squeue scancel sinfo scontrol sstat sprio sshare; do
    real=$(PATH=${PATH//$STATE\/bin:/} command -v "$cmd") || continue
    pre=""
    [ "$cmd" = sbatch ] && pre="TALKINNERF_SLURM_DIR='$STATE' bash '$ROOT/scripts/slurm-local.sh' check >&2 || exit 1"
    printf '#!/bin/sh\n# written by scripts/slurm-local.sh\nSLURM_CONF=%s\nexport SLURM_CONF\n%s\nexec %s "$@"\n' \
      "$SLURM_CONF" "$pre" "$real" >"$STATE/bin/.$cmd.tmp"
    chmod 755 "$STATE/bin/.$cmd.tmp"
    mv -f "$STATE/bin/.$cmd.tmp" "$STATE/bin/$cmd"
  done
}

write_profile() {
  # The repository's SLURM profile fitted to this node: requests it cannot hold (GPUs on a CPU-only node, more
  # CPUs or memory than it has) are lowered; everything else (partitions, runtimes, executor) stays as it is.
  # Used as a second --profile after workflow/profiles/slurm, so it restates the keys it changes.
  local py=$ROOT/.venv/bin/python
  [ -x "$py" ] || py=python3
  "$py" - "$ROOT/workflow/profiles/slurm/config.yaml" "$STATE/profile/config.yaml" "$CPUS" "$MEM" "$GPUS" <<'EOF'
import sys
import yaml

src, dst, cpus, mem, gpus = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
base = yaml.safe_load(open(src))
mem_cap = int(mem * 0.9)          # what one job may ask for on this node


def fit(res):
    res = dict(res)
    if "mem_mb" in res:
        res["mem_mb"] = min(int(res["mem_mb"]), mem_cap)
    if "cpus_per_task" in res:
        res["cpus_per_task"] = min(int(res["cpus_per_task"]), cpus)
    if "gpu" in res:
        res["gpu"] = min(int(res["gpu"]), gpus)
    return res


out = {
    "default-resources": fit(base.get("default-resources") or {}),
    "set-resources": {rule: fit(res) for rule, res in (base.get("set-resources") or {}).items()},
    "set-threads": {rule: min(int(n), cpus) for rule, n in (base.get("set-threads") or {}).items()},
    # a local slurmdbd answers at once: poll sooner than the plugin's 40 s default
    "slurm-init-seconds-before-status-checks": 5,
    "seconds-between-status-checks": 5,
}
# the account start() registers for this user (a real cluster's is yours: docs/cluster.md)
out["default-resources"]["slurm_account"] = "local"
if gpus == 0:
    # the rules of the gpu partition ask for no GPU on a node without any (the training rules request train_gpus
    # themselves); train_gpus: N still runs N ranks under torchrun, gloo on CPU
    for res in out["set-resources"].values():
        if res.get("slurm_partition") == "gpu":
            res["gpu"] = 0
header = (f"# written by scripts/slurm-local.sh: workflow/profiles/slurm fitted to this node ({cpus} CPUs, {mem} MB,"
          f" {gpus} GPUs).\n# Use after it: snakemake TARGET --profile workflow/profiles/slurm --profile <this folder> ...\n")
with open(dst, "w") as f:
    f.write(header + yaml.safe_dump(out, sort_keys=False))
EOF
}

# --- daemons ----------------------------------------------------------------------------------------------------
start_munge() {
  pid_of munged >/dev/null && return 0
  if [ ! -f "$STATE/munge/munge.key" ]; then
    if command -v mungekey >/dev/null 2>&1; then
      mungekey --create --keyfile="$STATE/munge/munge.key"
    else
      dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1 count=1024 status=none
    fi
  fi
  chmod 600 "$STATE/munge/munge.key"
  rm -f "$RUN/munge.socket" "$RUN/munge.socket.lock"
  # --force: the state folder may sit below a folder only its owner can enter (a test's temporary folder); munged
  # would refuse a socket that other users cannot reach, and here only this user submits jobs
  launch munged munged --foreground --force --key-file="$STATE/munge/munge.key" --socket="$RUN/munge.socket" \
    --pid-file="$RUN/munged.own.pid" --log-file="$LOG/munged.log" --seed-file="$STATE/munge/munge.seed"
  wait_for munge 30 sh -c "munge -S '$RUN/munge.socket' -n | unmunge -S '$RUN/munge.socket'" \
    || die "munged did not start; see $LOG/munged.out and $LOG/munged.log"
}

db_sql() { mariadb --no-defaults -S "$RUN/mysqld.sock" -u root "$@"; }

start_mariadb() {
  if ! pid_of mariadbd >/dev/null; then
    if [ ! -d "$DB/mysql" ]; then
      say "initialising MariaDB in $DB"
      mariadb-install-db --no-defaults --datadir="$DB" --user=root --auth-root-authentication-method=socket \
        --skip-test-db >"$LOG/mariadb-install.out" 2>&1 || die "mariadb-install-db failed; see $LOG/mariadb-install.out"
    fi
    launch mariadbd mariadbd --no-defaults --datadir="$DB" --socket="$RUN/mysqld.sock" --port="$DB_PORT" \
      --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$RUN/mariadbd.own.pid" --log-error="$LOG/mariadb.log" \
      --user=root --innodb-buffer-pool-size=64M
    wait_for MariaDB 60 db_sql -e "select 1" || die "MariaDB did not start; see $LOG/mariadb.log"
  fi
  local pass
  pass=$(cat "$ETC/db.pass")
  db_sql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
             CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
             ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
             GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
}

start_slurmdbd() {
  if ! pid_of slurmdbd >/dev/null; then
    launch slurmdbd slurmdbd -D
    wait_for slurmdbd 60 sacctmgr -n list cluster || die "slurmdbd did not start; see $LOG/slurmdbd.log"
  fi
  # the cluster, an account and this user (the executor plugin reads the user's default account)
  sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
  sacctmgr -n -P list account format=account | grep -qx local \
    || sacctmgr -i add account local Description="local cluster" Organization=talkinnerf >/dev/null
  sacctmgr -n -P list user format=user | grep -qx "$(id -un)" \
    || sacctmgr -i add user "$(id -un)" Account=local DefaultAccount=local >/dev/null
  sacctmgr -n -P list assoc where user="$(id -un)" account=local format=account | grep -qx local \
    || sacctmgr -i add user "$(id -un)" Account=local >/dev/null
}

node_state() { sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -1; }

node_problem() {  # prints "node NAME is STATE: REASON" when the node cannot take jobs
  local state reason
  state=$(node_state)
  case "$state" in
    idle | mixed | allocated | completing | "") return 1 ;;
  esac
  reason=$(scontrol show node "$NODE" 2>/dev/null | sed -n 's/^ *Reason=\(.*\)$/\1/p' | head -1 \
    | sed 's/ *\[[^]]*@[^]]*\]$//')   # without scontrol's " [user@time]"
  echo "node $NODE is $state${reason:+: $reason}"
}

start_slurm() {
  pid_of slurmctld >/dev/null || launch slurmctld slurmctld -D
  wait_for slurmctld 60 scontrol ping || die "slurmctld did not start; see $LOG/slurmctld.log"
  pid_of slurmd >/dev/null || launch slurmd slurmd -D -N "$NODE"
  local t=0 state problem
  while :; do
    state=$(node_state)
    case "$state" in
      idle | mixed | allocated) say "node $NODE $state (${t}s): $(sinfo -h -o '%P' | tr '\n' ' ')"; return 0 ;;
    esac
    if problem=$(node_problem) && [[ "$state" == drain* || "$state" == *fail* ]]; then
      die "$problem (resume it with: SLURM_CONF=$SLURM_CONF scontrol update nodename=$NODE state=resume)"
    fi
    pid_of slurmd >/dev/null || die "slurmd exited; see $LOG/slurmd.log and $LOG/slurmd.out"
    sleep 1
    t=$((t + 1))
    [ $t -lt "$WAIT_S" ] || die "node $NODE is ${state:-unknown} after ${WAIT_S}s; see $LOG/slurmd.log, $LOG/slurmctld.log"
  done
}

accounting_check() {  # sacct answers (slurmdbd + MariaDB), or says why not
  local err
  if err=$(sacct -n -X -S now-1hours -o JobID 2>&1 >/dev/null) && [ -z "$err" ]; then
    return 0
  fi
  echo "${err:-sacct failed}"
  return 1
}

cmd_start() {
  command -v apt-get >/dev/null 2>&1 || command -v slurmctld >/dev/null 2>&1 \
    || die "no apt-get and no SLURM on this machine: install slurm-wlm, slurmdbd, munge and mariadb-server"
  install_packages
  paths
  write_config
  say "state folder $STATE; SLURM_CONF=$SLURM_CONF"
  start_munge
  start_mariadb
  start_slurmdbd
  start_slurm
  local err
  err=$(accounting_check) || die "accounting does not answer: $err"
  say "ready: eval \"\$($0 env)\"; snakemake TARGET --profile workflow/profiles/slurm --profile $STATE/profile ... (the target first)"
}

cmd_check() {  # can a job submitted now start, and can its state be followed? (each problem on one line)
  paths
  local ok=0 err problem
  if ! err=$(scontrol ping 2>&1) || ! echo "$err" | grep -q UP; then
    say "slurmctld does not answer (${err//$'\n'/ }): scripts/slurm-local.sh start"
    return 1
  fi
  local t=0
  while problem=$(node_problem); do
    # "idle*": slurmctld has not heard from slurmd yet. After a start that is seconds; a node marked not responding
    # on a busy machine is cleared only by slurmctld's next ping (every SlurmdTimeout/3 = 40 s): 15 s of waiting
    # failed a test run here (the test suite saturating both cores), so wait as long as start does
    if [[ "$(node_state)" == *"*" ]] && [ $t -lt "$WAIT_S" ]; then sleep 1; t=$((t + 1)); continue; fi
    say "$problem: no job can start until it is resumed (scontrol update nodename=$NODE state=resume)"
    ok=1
    break
  done
  if ! err=$(accounting_check); then
    say "accounting is not available (${err//$'\n'/ }): sacct, the executor's account check (sacctmgr) and the" \
      "job records need slurmdbd; scripts/slurm-local.sh start starts it"
    ok=1
  fi
  return $ok
}

cmd_status() {
  paths
  local ok=0 name pid
  for name in "${DAEMONS[@]}"; do
    if pid=$(pid_of "$name"); then say "$name running (pid $pid)"; else say "$name not running"; ok=1; fi
  done
  if pid_of slurmctld >/dev/null; then
    sinfo -o '%P %a %l %D %T %N %C %m %G' || true
  fi
  if cmd_check; then
    say "node $NODE $(node_state); accounting: sacct answers (slurmdbd 127.0.0.1:$DBD_PORT, MariaDB 127.0.0.1:$DB_PORT)"
  else
    ok=1
  fi
  return $ok
}

stop_pid() {  # name: TERM, wait, then KILL
  local name=$1 pid t=0
  pid=$(pid_of "$name") || { rm -f "$RUN/$name.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    t=$((t + 1))
    if [ $t -ge 30 ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
  done
  rm -f "$RUN/$name.pid"
  say "stopped $name (pid $pid)"
}

cmd_stop() {
  paths
  if pid_of slurmctld >/dev/null; then
    # jobs of this cluster: cancel them and let slurmd's step daemons end before slurmd goes
    local jobs t=0
    jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
      say "cancelling jobs: $jobs"
      # shellcheck disable=SC2086
      scancel $jobs 2>/dev/null || true
      while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $t -lt 30 ]; do sleep 1; t=$((t + 1)); done
    fi
  fi
  local i
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do stop_pid "${DAEMONS[$i]}"; done
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  check) cmd_check ;;
  env) paths; echo "export SLURM_CONF=$SLURM_CONF PATH=$STATE/bin:\$PATH" ;;
  *) echo "usage: $0 start|stop|status|check|env   (state: \$TALKINNERF_SLURM_DIR, default $ROOT/.slurm-local)" >&2; exit 2 ;;
esac
