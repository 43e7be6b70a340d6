#!/usr/bin/env bash
# A Slurm job array of 8 mlptune workers, one GPU each, that share one study in PostgreSQL.
#
# Set these in the environment, then submit with `sbatch deploy/slurm-workers.sh` (sbatch passes
# the environment on to the tasks):
#   MLPTUNE_STORAGE  the study's database, without the password:
#                    postgresql://mlptune@db-host:5432/studies
#   PGPASSFILE       a libpq password file on a path every node reads (default ~/.pgpass, mode 600),
#                    with the line  db-host:5432:studies:mlptune:PASSWORD
#   or PGPASSWORD    the password itself (Slurm then keeps it with the job's environment, which the
#                    password file avoids)
#   STUDY_CONFIG     the study YAML, on a path every node reads (the same file for every worker)
#   MLPTUNE          optional: the mlptune program (default: mlptune from PATH)
#   CONCURRENCY      optional: trials at once in each worker (default: one per 8 SMs of its GPU)
#   WORKER_TIMEOUT   optional: each worker's time budget (default 3h50m, under --time below)
#
# Each worker stops at its time budget (exit status 0) and saves its running trials at their next
# epoch end. If an epoch runs past the budget, the TERM that --signal sends 120 s before the time
# limit stops it the same way, with exit status 143. That status is normal: the trials wait, saved,
# and the next worker continues them. --requeue lets Slurm run a task again after a node failure or
# a preemption that requeues.
#
# A round ends with the time budget or with the study. To queue the next round at once:
#   sbatch --dependency=afterany:JOBID deploy/slurm-workers.sh
# A worker of a study that is done (its run_cap reached, nothing running) exits at once.
#
# Watch the study from any machine:  mlptune report "$MLPTUNE_STORAGE" --study-name NAME
#
#SBATCH --job-name=mlptune-workers
#SBATCH --array=0-7
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --time=04:00:00
# B: sends the TERM to the batch shell, which exec below makes mlptune itself. Without B:, Slurm
# signals only srun steps.
#SBATCH --signal=B:TERM@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=mlptune-worker-%A_%a.out

set -euo pipefail

: "${MLPTUNE_STORAGE:?set MLPTUNE_STORAGE to the study database, e.g. postgresql://mlptune@db-host:5432/studies}"
: "${STUDY_CONFIG:?set STUDY_CONFIG to the study YAML, on a path every node reads}"
MLPTUNE=${MLPTUNE:-mlptune}
WORKER_TIMEOUT=${WORKER_TIMEOUT:-3h50m}

# The tasks run on many nodes: an SQLite file is for one machine (and not over NFS).
if [[ ! $MLPTUNE_STORAGE =~ ^postgres(ql)?:// ]]; then
  echo "MLPTUNE_STORAGE is not a postgresql:// URL: workers on several nodes share a PostgreSQL study," \
    "e.g. postgresql://mlptune@db-host:5432/studies (an SQLite file is for one machine)" >&2
  exit 2
fi
# A password in the URL would show in ps and in Slurm's records of the job.
password_in_url='^postgres(ql)?://[^/@]*:[^/@]*@|[?&]password='
if [[ $MLPTUNE_STORAGE =~ $password_in_url ]]; then
  echo "MLPTUNE_STORAGE holds a password: leave it out (postgresql://user@host:port/dbname) and give it in" \
    "PGPASSWORD or a password file (PGPASSFILE, default ~/.pgpass)" >&2
  exit 2
fi

args=(tune "$STUDY_CONFIG" --storage "$MLPTUNE_STORAGE" --timeout "$WORKER_TIMEOUT")
if [[ -n ${CONCURRENCY:-} ]]; then
  args+=(--concurrency "$CONCURRENCY")
fi

echo "mlptune worker ${SLURM_ARRAY_TASK_ID:-?} of job ${SLURM_ARRAY_JOB_ID:-?} on $(hostname)," \
  "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset}, run $((${SLURM_RESTART_COUNT:-0} + 1))"
# exec: mlptune replaces this shell, so the TERM from --signal, scancel or a preemption reaches it.
exec "$MLPTUNE" "${args[@]}"
