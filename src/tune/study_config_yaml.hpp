// Reading typed YAML values for the study config, with errors that name the file, line and key.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "mlptune/tune/search_space.hpp"

namespace mlptune::tune::config_yaml {

// What a YAML scalar holds. Plain scalars are numbers when they look like one (YAML 1.2 core
// schema, so `1e-4` is a real like `1.0e-4`); quoted scalars are always text.
enum class ScalarType { integer, real, text };
ScalarType classify(const YAML::Node& scalar);

// Checks and converts nodes; every failure throws ConfigError "source:line: key: problem and fix".
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const YAML::Node& node, std::string_view key, std::string_view message) const;
  // The 1-based line of a node (0 when the node has no position, e.g. a missing key).
  static int line(const YAML::Node& node);

  void require_map(const YAML::Node& node, std::string_view key) const;
  // Every key of `map` must be in `allowed`; the message lists them.
  void check_keys(const YAML::Node& map, std::string_view path, std::initializer_list<std::string_view> allowed) const;

  double real(const YAML::Node& node, std::string_view key) const;
  std::int64_t integer(const YAML::Node& node, std::string_view key) const;
  std::string text(const YAML::Node& node, std::string_view key) const;
  bool boolean(const YAML::Node& node, std::string_view key) const;
  // A scalar as the type it is written in.
  ParamValue scalar_value(const YAML::Node& node, std::string_view key) const;

  // Every key and scalar under `node` must be UTF-8 text: names and values are stored and exported
  // as JSON, and messages quote them. `path` is the node's key ("" for the root).
  void require_utf8(const YAML::Node& node, const std::string& path) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

// The offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
// surrogates and code points past U+10FFFF included); nullopt for valid text.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);
// The text with each such byte written as \xHH, for messages.
std::string printable(std::string_view text);

}  // namespace mlptune::tune::config_yaml
