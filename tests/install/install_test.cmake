# Installs a built mlptune into a fresh prefix, builds tests/install/consumer against that prefix
# alone, and runs it and the installed program. Run by CTest (install_consumer) with -D BUILD_DIR,
# CONFIG, WORK_DIR, GENERATOR, CXX_COMPILER, CONSUMER_DIR, and the build's GNUInstallDirs folders
# BINDIR, INCLUDEDIR, LIBDIR and DATADIR.
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${what} failed (${status}):\n${output}")
  endif()
  message(STATUS "${what}: ok")
  set(last_output "${output}" PARENT_SCOPE)
endfunction()

set(config_args)
if(CONFIG)
  set(config_args --config ${CONFIG})
endif()
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} ${config_args})

foreach(file IN ITEMS ${BINDIR}/mlptune ${INCLUDEDIR}/mlptune/backend.hpp ${INCLUDEDIR}/mlptune/tune/study.hpp
                      ${LIBDIR}/libmlptune.a ${LIBDIR}/cmake/mlptune/mlptuneConfig.cmake
                      ${DATADIR}/mlptune/datasets/SHA256SUMS)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "cmake --install left no ${file} in ${prefix}")
  endif()
endforeach()

# Only the prefix: no package registry, so a build tree cannot stand in for the install.
run("configuring the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run("building the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build --config Release)
find_program(consumer consumer PATHS ${WORK_DIR}/build ${WORK_DIR}/build/Release NO_DEFAULT_PATH REQUIRED)
run("training one epoch through the installed library" ${CMAKE_COMMAND} -E env
    MLPTUNE_DATA_DIR=${prefix}/${DATADIR}/mlptune/datasets ${consumer})
message(STATUS "${last_output}")
# The installed program finds the installed data beside it.
run("the installed program" ${CMAKE_COMMAND} -E env --unset=MLPTUNE_DATA_DIR
    ${prefix}/${BINDIR}/mlptune summary --dataset iris --hidden 8)
