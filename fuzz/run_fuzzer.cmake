# Runs one libFuzzer harness for SECONDS from a fresh copy of its committed corpus (so the run adds
# nothing to fuzz/corpus/), with crash files under WORK. Fails on any finding.
# cmake -DFUZZER=... -DCORPUS=... -DDICTIONARY=... -DWORK=... -DSECONDS=... -P run_fuzzer.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/crashes ${WORK}/tmp)
file(GLOB seeds ${CORPUS}/*)
if(NOT seeds)
  message(FATAL_ERROR "${CORPUS}: no seed inputs; the harness would start from nothing")
endif()
file(COPY ${seeds} DESTINATION ${WORK}/corpus)

set(arguments -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix=${WORK}/crashes/)
if(EXISTS ${DICTIONARY})
  list(APPEND arguments -dict=${DICTIONARY})
endif()
# Where the harness writes the files the loaders read: a tmpfs where there is one (every input is
# written there, so the disk would slow the run several times over), removed after the run.
get_filename_component(harness ${WORK} NAME)
set(scratch ${WORK}/tmp)
if(IS_DIRECTORY /dev/shm)
  set(scratch /dev/shm/mlptune-fuzz-${harness})
  file(REMOVE_RECURSE ${scratch})
  file(MAKE_DIRECTORY ${scratch})
endif()
set(ENV{TMPDIR} ${scratch})
execute_process(COMMAND ${FUZZER} ${arguments} ${WORK}/corpus RESULT_VARIABLE status)
file(REMOVE_RECURSE ${scratch})
if(NOT status EQUAL 0)
  file(GLOB findings ${WORK}/crashes/*)
  message(FATAL_ERROR "${FUZZER} exited with ${status}; the input that failed: ${findings}\n"
                      "Replay it with: ${FUZZER} <that file>")
endif()
