# Runs one libFuzzer harness from a fresh copy of its committed corpus (so the run adds nothing to
# fuzz/corpus/), with its findings under WORK/findings. Fails on any finding, saying how to commit it.
#   the fuzz test:  RUNS inputs from SEED: the same inputs, so the same result, on every machine;
#   exploration:    SECONDS of fuzzing from SEED (scripts/fuzz-explore picks a random one).
# cmake -DFUZZER=... -DNAME=... -DCORPUS=... -DDICTIONARY=... -DWORK=... -DSEED=... -DTIMEOUT=...
#       (-DRUNS=... | -DSECONDS=...) -P run_fuzzer.cmake
if(RUNS MATCHES "^[1-9][0-9]*$")
  # -use_cmp=0: mutations would otherwise take bytes from the comparisons the code made, and some
  # of those hold this process's id, addresses or the time, so the inputs would differ per run.
  set(budget -runs=${RUNS} -use_cmp=0)
elseif(SECONDS MATCHES "^[1-9][0-9]*$")
  set(budget -max_total_time=${SECONDS})
else()
  message(FATAL_ERROR "run_fuzzer.cmake: give -DRUNS=<inputs> (a fixed run) or -DSECONDS=<seconds> (exploration), "
                      "a positive whole number")
endif()

if(NOT SEED MATCHES "^[1-9][0-9]*$")  # libFuzzer takes -seed=0 as "pick one at random"
  message(FATAL_ERROR "run_fuzzer.cmake: -DSEED=${SEED}: give a positive whole number")
endif()

foreach(path FUZZER CORPUS DICTIONARY WORK)  # the harness runs in its scratch folder, below
  get_filename_component(${path} ${${path}} ABSOLUTE)
endforeach()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/findings ${WORK}/tmp)
file(GLOB seeds ${CORPUS}/*)
if(NOT seeds)
  message(FATAL_ERROR "${CORPUS}: no seed inputs; the harness would start from nothing")
endif()
file(COPY ${seeds} DESTINATION ${WORK}/corpus)

# -timeout and -rss_limit_mb only guard against a hang or a runaway allocation: one input that
# takes longer or grows larger is a finding. -reload=0: libFuzzer rereads the corpus folder every
# second by default (for other processes' finds), and where that falls in the run would change
# which inputs follow the seed.
set(arguments ${budget} -seed=${SEED} -reload=0 -timeout=${TIMEOUT} -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix=${WORK}/findings/)
if(EXISTS ${DICTIONARY})
  list(APPEND arguments -dict=${DICTIONARY})
endif()
# Where the harness writes the files the loaders read: a tmpfs where there is one (every input is
# written there, so the disk would slow the run several times over), removed after the run.
set(scratch ${WORK}/tmp)
if(IS_DIRECTORY /dev/shm)
  string(MD5 work_hash ${WORK})  # one folder per run, so that runs of one harness do not share it
  set(scratch /dev/shm/mlptune-fuzz-${NAME}-${work_hash})
  file(REMOVE_RECURSE ${scratch})
  file(MAKE_DIRECTORY ${scratch})
endif()
# The harness runs in it with TMPDIR=., so the paths it hands the loaders are the same in every run
# and on every machine (a loader's path handling would otherwise steer a fixed run differently).
set(ENV{TMPDIR} .)
list(JOIN arguments " " shown)
message(STATUS "${FUZZER} ${shown} ${WORK}/corpus")
# Without address space randomisation where setarch can turn it off: a few paths of the library
# depend on where objects lie in memory, and would change which inputs a fixed run goes on to.
set(launcher "")
find_program(setarch setarch)
if(DEFINED RUNS AND setarch)
  execute_process(COMMAND ${setarch} -R true RESULT_VARIABLE no_randomisation)
  if(no_randomisation EQUAL 0)
    set(launcher ${setarch} -R)
  endif()
endif()
if(DEFINED RUNS AND NOT launcher)
  message(WARNING "setarch -R is not available here: this fixed run may take other inputs than on another machine")
endif()
execute_process(COMMAND ${launcher} ${FUZZER} ${arguments} ${WORK}/corpus WORKING_DIRECTORY ${scratch}
                RESULT_VARIABLE status)
file(REMOVE_RECURSE ${scratch})
if(NOT status EQUAL 0)
  file(GLOB findings ${WORK}/findings/*)
  if(NOT findings)
    message(FATAL_ERROR "${FUZZER} exited with ${status} and left no input behind; its output above says why")
  endif()
  list(GET findings 0 finding)
  get_filename_component(kind ${finding} NAME)
  string(REGEX REPLACE "-.*" "" kind ${kind})  # crash, leak, timeout, oom, slow-unit
  message(NOTICE  # not FATAL_ERROR's text, which CMake wraps: these lines are for copying
    "${FUZZER} exited with ${status}: ${kind} on the input ${finding}\n"
    "Replay it with:\n"
    "  ${FUZZER} ${finding}\n"
    "Once fixed, commit it so that every fuzz test replays it:\n"
    "  cp ${finding} fuzz/corpus/${NAME}/regression-<what it is>")
  message(FATAL_ERROR "${NAME}: libFuzzer found a failing input (${kind}); see above")
endif()
