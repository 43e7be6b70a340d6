// Delimited text parsing: blank-line skipping, header detection, cell splitting and number parsing.
#include "data/text_table.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "data/input_file.hpp"
#include "mlptune/error.hpp"

namespace mlptune::data {

namespace {

struct Line {
  std::size_t number;  // 1-based, counting blank lines too, as an editor shows it
  std::string_view text;
};

enum class HeaderKind { none, column_names, sklearn_metadata };

bool is_blank_char(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank_char(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_blank_char(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

std::vector<Line> nonblank_lines(std::string_view content) {
  std::vector<Line> lines;
  std::size_t number = 1;
  while (!content.empty()) {
    const std::size_t end = content.find('\n');
    const std::string_view text = trim(content.substr(0, end));
    if (!text.empty()) {
      lines.push_back({number, text});
    }
    content.remove_prefix(end == std::string_view::npos ? content.size() : end + 1);
    ++number;
  }
  return lines;
}

void split_on_whitespace(std::string_view text, std::vector<std::string_view>& cells) {
  while (!text.empty()) {
    const std::size_t start = text.find_first_not_of(" \t\r");
    if (start == std::string_view::npos) {
      return;
    }
    text.remove_prefix(start);
    const std::size_t end = std::min(text.find_first_of(" \t\r"), text.size());
    cells.push_back(text.substr(0, end));
    text.remove_prefix(end);
  }
}

void split_on_delimiter(std::string_view text, char delimiter, std::vector<std::string_view>& cells) {
  for (;;) {
    const std::size_t end = text.find(delimiter);
    cells.push_back(trim(text.substr(0, end)));
    if (end == std::string_view::npos) {
      return;
    }
    text.remove_prefix(end + 1);
  }
}

std::vector<std::string_view> split_cells(std::string_view text, char delimiter) {
  std::vector<std::string_view> cells;
  if (delimiter == ' ') {
    split_on_whitespace(text, cells);
  } else {
    split_on_delimiter(text, delimiter, cells);
  }
  return cells;
}

enum class CellStatus { number, not_a_number, out_of_range };

// std::from_chars rejects a leading '+', which other writers emit; everything else it parses as
// strtod would, including "nan" and "inf" (rejected later with their place).
CellStatus parse_number(std::string_view cell, double& value) {
  if (cell.size() > 1 && cell.front() == '+') {
    cell.remove_prefix(1);
  }
  const char* end = cell.data() + cell.size();
  const auto [stop, error] = std::from_chars(cell.data(), end, value);
  if (error == std::errc::result_out_of_range && stop == end) {
    return CellStatus::out_of_range;
  }
  return error == std::errc() && stop == end && !cell.empty() ? CellStatus::number : CellStatus::not_a_number;
}

bool is_number(std::string_view cell) {
  double ignored = 0;
  return parse_number(cell, ignored) == CellStatus::number;
}

std::optional<std::size_t> parse_count(std::string_view cell) {
  std::size_t count = 0;
  const char* end = cell.data() + cell.size();
  const auto [stop, error] = std::from_chars(cell.data(), end, count);
  return error == std::errc() && stop == end ? std::optional(count) : std::nullopt;
}

// scikit-learn's bundled CSVs start with "n_samples,n_features,class names...". The line is that
// header when its first two cells are counts that match the file, or when its cell count differs
// from the data lines' (then the counts are checked later and a mismatch is reported).
bool looks_like_sklearn_metadata(const std::vector<std::string_view>& first, std::size_t data_cells,
                                 std::size_t data_rows) {
  if (first.size() < 2) {
    return false;
  }
  const auto samples = parse_count(first[0]);
  const auto features = parse_count(first[1]);
  if (!samples || !features) {
    return false;
  }
  return (*samples == data_rows && *features + 1 == data_cells) || first.size() != data_cells;
}

HeaderKind detect_header(const std::vector<std::string_view>& first, std::size_t data_cells, std::size_t data_rows,
                         std::optional<bool> has_header) {
  if (has_header == false) {
    return HeaderKind::none;
  }
  if (data_rows > 0 && looks_like_sklearn_metadata(first, data_cells, data_rows)) {
    return HeaderKind::sklearn_metadata;
  }
  if (has_header == true) {
    return HeaderKind::column_names;
  }
  for (const auto cell : first) {
    if (!is_number(cell)) {
      return HeaderKind::column_names;
    }
  }
  return HeaderKind::none;
}

std::string unquote(std::string_view name) {
  if (name.size() >= 2 && (name.front() == '"' || name.front() == '\'') && name.back() == name.front()) {
    name = name.substr(1, name.size() - 2);
  }
  return std::string(name);
}

void read_sklearn_metadata(const std::filesystem::path& path, const Line& line,
                           const std::vector<std::string_view>& header, std::size_t data_rows, std::size_t data_cells,
                           NumericTable& table) {
  const std::size_t samples = *parse_count(header[0]);
  const std::size_t features = *parse_count(header[1]);
  if (samples != data_rows || features + 1 != data_cells) {
    throw_data_error(path, "line " + std::to_string(line.number) + ": the header declares " + std::to_string(samples) +
                               " samples of " + std::to_string(features) + " features, but the file has " +
                               std::to_string(data_rows) + " data lines of " + std::to_string(data_cells) +
                               " cells (features and a label); is it truncated?");
  }
  for (std::size_t cell = 2; cell < header.size(); ++cell) {
    table.class_names.push_back(unquote(header[cell]));
  }
}

void read_column_names(const std::filesystem::path& path, const Line& line, const std::vector<std::string_view>& header,
                       std::size_t data_cells, NumericTable& table) {
  if (header.size() != data_cells) {
    throw_data_error(path, "line " + std::to_string(line.number) + ": the header has " + std::to_string(header.size()) +
                               " names but the data lines have " + std::to_string(data_cells) + " cells");
  }
  for (const auto name : header) {
    table.column_names.push_back(unquote(name));
  }
}

void parse_row(const std::filesystem::path& path, const Line& line, char delimiter, NumericTable& table) {
  const auto cells = split_cells(line.text, delimiter);
  if (cells.size() != table.cols) {
    throw_data_error(path, "line " + std::to_string(line.number) + " has " + std::to_string(cells.size()) +
                               " cells, expected " + std::to_string(table.cols));
  }
  for (std::size_t col = 0; col < cells.size(); ++col) {
    double value = 0;
    const CellStatus status = parse_number(cells[col], value);
    if (status != CellStatus::number) {
      throw_data_error(path, "line " + std::to_string(line.number) + ", column " + std::to_string(col + 1) + ": '" +
                                 std::string(cells[col]) + "' is " +
                                 (status == CellStatus::out_of_range ? "out of range for a number" : "not a number"));
    }
    table.values.push_back(value);
  }
}

void parse_rows(const std::filesystem::path& path, const std::vector<Line>& lines, std::size_t first_data_line,
                char delimiter, NumericTable& table) {
  std::vector<std::size_t> line_numbers;
  for (std::size_t index = first_data_line; index < lines.size(); ++index) {
    parse_row(path, lines[index], delimiter, table);
    line_numbers.push_back(lines[index].number);
  }
  table.rows = line_numbers.size();
  table.describe_cell = [source = table.source, line_numbers = std::move(line_numbers)](std::size_t row,
                                                                                        std::size_t col) {
    return source + ": line " + std::to_string(line_numbers[row]) + ", column " + std::to_string(col + 1);
  };
}

}  // namespace

NumericTable read_text_table(const std::filesystem::path& path, char delimiter, std::optional<bool> has_header) {
  InputFile file(path);
  const std::string content = file.read_rest();
  if (content.empty()) {
    throw_data_error(path, "file is empty (0 bytes)");
  }
  const std::vector<Line> lines = nonblank_lines(content);
  if (lines.empty()) {
    throw_data_error(path, "holds only blank lines (" + std::to_string(content.size()) + " bytes), no data");
  }
  const auto first = split_cells(lines[0].text, delimiter);
  const std::size_t data_cells = lines.size() > 1 ? split_cells(lines[1].text, delimiter).size() : first.size();
  const HeaderKind header = detect_header(first, data_cells, lines.size() - 1, has_header);

  NumericTable table;
  table.source = path.string();
  if (header == HeaderKind::sklearn_metadata) {
    read_sklearn_metadata(path, lines[0], first, lines.size() - 1, data_cells, table);
  } else if (header == HeaderKind::column_names) {
    if (lines.size() == 1) {
      throw_data_error(path, "line " + std::to_string(lines[0].number) + " is a header and no data lines follow");
    }
    read_column_names(path, lines[0], first, data_cells, table);
  }
  const std::size_t first_data_line = header == HeaderKind::none ? 0 : 1;
  table.cols = header == HeaderKind::none ? first.size() : data_cells;
  parse_rows(path, lines, first_data_line, delimiter, table);
  return table;
}

std::string dataset_name_from_path(const std::filesystem::path& path) {
  std::filesystem::path name = path.filename();
  if (name.extension() == ".gz") {
    name = name.stem();
  }
  return name.stem().string();
}

}  // namespace mlptune::data
