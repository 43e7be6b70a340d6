#!/usr/bin/env bash
# The GPU scripts' logic that needs no GPU: scripts/gpu-check's judges on recorded outputs
# (fixtures/), its time budget, and scripts/gpu-bundle's choice of the libraries it packs.
# Run by CTest (gpu_scripts); prints one line per check and exits 1 when any fails.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fixtures=$root/tests/gpu_scripts/fixtures
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# shellcheck source=scripts/gpu-check-judges
source "$root/scripts/gpu-check-judges"

failures=0
check() {  # check WANT NAME COMMAND...: WANT pass or fail; the command's detail line is printed
  local want=$1 name=$2 detail got=pass
  shift 2
  detail=$("$@") || got=fail
  if [[ $got == "$want" ]]; then
    printf 'ok    %-44s %s: %s\n' "$name" "$got" "$detail"
  else
    printf 'WRONG %-44s %s, expected %s: %s\n' "$name" "$got" "$want" "$detail"
    failures=$((failures + 1))
  fi
}
expect_detail() {  # expect_detail TEXT COMMAND...: the command's detail line holds TEXT
  local text=$1 detail
  shift
  detail=$("$@")
  if [[ $detail == *"$text"* ]]; then echo "says '$text'"; else echo "no '$text' in: $detail" && false; fi
}
variant() {  # variant NAME SED_SCRIPT: the digits fixture edited, as a file
  sed "$2" "$fixtures/tune_digits.txt" >"$scratch/$1.txt" && echo "$scratch/$1.txt"
}

# test_cuda under MLPTUNE_REQUIRE_GPU=1: only a skip for a second device passes.
check pass gtest/passed judge_gtest "$fixtures/gtest_passed.txt" 0
check pass gtest/skipped-two-devices judge_gtest "$fixtures/gtest_skipped_two_devices.txt" 0
check pass gtest/skip-reason-printed expect_detail "1 skipped (1: needs two CUDA devices)" \
  judge_gtest "$fixtures/gtest_skipped_two_devices.txt" 0
check fail gtest/skipped-other judge_gtest "$fixtures/gtest_skipped_other.txt" 0
check pass gtest/other-reason-printed expect_detail "1 skipped for another reason: 1x no CUDA device" \
  judge_gtest "$fixtures/gtest_skipped_other.txt" 0
check fail gtest/failed judge_gtest "$fixtures/gtest_failed.txt" 1
check fail gtest/failed-exit-0 judge_gtest "$fixtures/gtest_failed.txt" 0
check fail gtest/no-output judge_gtest /dev/null 0

# The digits study: run_cap finished, failures only by divergence, best within the margin.
check pass digits/two-diverged judge_tune_digits "$fixtures/tune_digits.txt" 0
check fail digits/failed-otherwise judge_tune_digits \
  "$(variant other 's/"diverged at epoch 3, step 69"/"out of GPU memory: trial needs 12 MiB"/')" 0
check pass digits/names-the-failure expect_detail "failed without diverging: trial 7: out of GPU memory" \
  judge_tune_digits "$scratch/other.txt" 0
check fail digits/short-of-run-cap judge_tune_digits "$(variant short 's/38 complete/30 complete/')" 0
check fail digits/still-running judge_tune_digits "$(variant running 's/38 complete, 0 pruned, 2 failed, 0 running/37 complete, 0 pruned, 2 failed, 1 running/')" 0
check fail digits/best-below-margin judge_tune_digits "$(variant low 's/value 0.979167/value 0.954861/')" 0
check pass digits/best-at-margin judge_tune_digits "$(variant edge 's/value 0.979167/value 0.961111/')" 0
check fail digits/on-the-cpu judge_tune_digits "$(variant cpu 's/ on cuda:0 (NVIDIA H100 80GB HBM3)/ on cpu/')" 0
check fail digits/exit-status judge_tune_digits "$fixtures/tune_digits.txt" 1

# The limits of `all` fit the recommended device-tool limit (480 s), and --help says so.
check pass budget/fits bash "$root/scripts/gpu-check" --budget
check pass budget/in-help expect_detail "(call \`all\` with timeout_s 480)" bash "$root/scripts/gpu-check" --help
check fail budget/scaled-twice env GPU_CHECK_TIME_SCALE=2 bash "$root/scripts/gpu-check" --budget

# The bundle leaves out the whole glibc family and the CUDA libraries, and packs the rest.
classify() { bash "$root/scripts/gpu-bundle" --classify "$@" | awk '{ print $2 }' | sort -u | paste -sd,; }
is() {  # is KIND NAME...: every name is of KIND
  local got
  got=$(classify "${@:2}")
  echo "${*:2} -> $got"
  [[ $got == "$1" ]]
}
check pass bundle/glibc is glibc linux-vdso.so.1 ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 \
  librt.so.1 libresolv.so.2 libnsl.so.1 libanl.so.1 libutil.so.1 libmvec.so.1 libnss_dns.so.2 libthread_db.so.1
check pass bundle/cuda is cuda libcuda.so.1 libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnvToolsExt.so.1
check pass bundle/packed is packed libstdc++.so.6 libgcc_s.so.1 libpq.so.5 libkrb5.so.3 libgssapi_krb5.so.2 \
  libopenblas.so.0 libyaml-cpp.so.0.8 libsqlite3.so.0 libz.so.1 libgfortran.so.5 libmpfr.so.6 libmagic.so.1 \
  libutils.so.1 libcrypt.so.1

echo "gpu_scripts: $failures wrong"
((failures == 0))
