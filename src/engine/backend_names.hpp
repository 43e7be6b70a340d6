// The names of the backend kinds, one table: to_string, parse_backend_kind and the --backend flags'
// help and checks read it.
#pragma once

#include "mlptune/backend.hpp"
#include "nn/name_table.hpp"

namespace mlptune {

inline constexpr detail::NameTable<BackendKind, 3> kBackendNames{
    "backend", {{{BackendKind::cpu, "cpu"}, {BackendKind::cuda, "cuda"}, {BackendKind::automatic, "auto"}}}};

}  // namespace mlptune
