// "Did you mean": the known name closest to a mistyped one, by edit distance. Subcommands, flags
// and YAML keys all suggest through it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlptune {

// The Damerau-Levenshtein (optimal string alignment) distance: insertions, deletions,
// substitutions and swaps of two neighbours each count 1 ("hiden" -> "hidden" is 1, "trian" ->
// "train" is 1).
inline std::size_t edit_distance(std::string_view from, std::string_view to) {
  // rows[r][j]: the distance between from's first (i - 2 + r) characters and to's first j.
  std::vector<std::vector<std::size_t>> rows(3, std::vector<std::size_t>(to.size() + 1));
  for (std::size_t j = 0; j <= to.size(); ++j) rows[2][j] = j;
  for (std::size_t i = 1; i <= from.size(); ++i) {
    std::rotate(rows.begin(), rows.begin() + 1, rows.end());
    auto &two_back = rows[0], &previous = rows[1], &current = rows[2];
    current[0] = i;
    for (std::size_t j = 1; j <= to.size(); ++j) {
      const std::size_t substitution = from[i - 1] == to[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + substitution});
      if (i > 1 && j > 1 && from[i - 1] == to[j - 2] && from[i - 2] == to[j - 1])
        current[j] = std::min(current[j], two_back[j - 2] + 1);
    }
  }
  return rows[2][to.size()];
}

// The known name nearest `typed`, when it is near enough to be what was meant: at most a third of
// the typed length away (at least 1, at most 3 edits), so "hiden" finds "hidden" but "x" finds
// nothing. Ties go to the first name in `known`.
template <class Names>
std::optional<std::string> closest_name(std::string_view typed, const Names& known) {
  const std::size_t allowed = std::clamp<std::size_t>(typed.size() / 3, 1, 3);
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const auto& name : known) {
    const std::string_view candidate(name);
    const std::size_t distance = edit_distance(typed, candidate);
    if (distance < best_distance) best = std::string(candidate), best_distance = distance;
  }
  return best;
}

// " (did you mean 'hidden'?)" for a near name, else "": it follows what the message calls unknown.
template <class Names>
std::string did_you_mean(std::string_view typed, const Names& known) {
  const auto name = closest_name(typed, known);
  return name ? " (did you mean '" + *name + "'?)" : "";
}

}  // namespace mlptune
