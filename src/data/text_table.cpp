// Delimited text parsing: blank-line skipping, header detection, cell splitting and number parsing.
#include "data/text_table.hpp"

#include <csv.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/input_file.hpp"
#include "data/numeric_table.hpp"
#include "mlptune/error.hpp"

namespace mlptune::data {

namespace {

// How far a reader goes before it calls a file absurd: one cell longer than any number or name (a
// quote that never closes swallows the rest of the file into one cell). Checked as the file is
// read, before memory grows. Rows and columns have the limits of every data file (check_table_size).
constexpr std::size_t kMostCellBytes = std::size_t(1) << 20;

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

enum class HeaderKind { none, column_names, sklearn_metadata };

// Spaces, tabs and the line end: nothing but these is blank.
bool is_blank(std::string_view line) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  return trim(line).empty();
}

std::string line_text(std::size_t line) {
  return "line " + std::to_string(line);
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

// One cell's text and the line it starts on (a quoted cell may span lines).
struct Cell {
  std::string text;
  std::size_t line;
};

// A row kept as text: one of the first ones, which may be a header.
struct TextRow {
  std::size_t line;  // where the row starts
  std::vector<Cell> cells;
};

// The rows as a reader produces them, cell by cell. The first kTextRows stay text until the header
// is known; later rows are data and become numbers at once (so a large file is never held as
// text). The first fault in those rows is kept and reported after the first rows' faults, in the
// order of the file.
class RowCollector {
 public:
  static constexpr std::size_t kTextRows = 3;  // a header, the first data row and the one after it

  explicit RowCollector(const std::filesystem::path& path) : path_(path) {}

  void add_cell(std::string_view text, std::size_t line) {
    if (cells_in_row_ == 0) row_line_ = line;
    ++cells_in_row_;
    if (rows_ < kTextRows) {
      // Kept as text, so checked cell by cell; a later row's cells beyond its first ones are dropped.
      check_table_size(path_, line_text(row_line_), rows_ + 1, cells_in_row_);
      if (cells_in_row_ == 1) text_rows_.push_back({line, {}});
      text_rows_.back().cells.push_back({std::string(text), line});
    } else if (!fault_) {
      add_number(trim(text), line);
    }
  }

  void end_row() {
    if (cells_in_row_ == 0) return;
    // The rows so far, a header line among them if there is one.
    check_table_size(path_, line_text(row_line_), rows_ + 1, cells_in_row_);
    // A row's cell count is its first fault, as a cell of a ragged row may hold another column's value.
    if (rows_ >= kTextRows && (!fault_ || fault_row_ == rows_) && cells_in_row_ != data_cells()) {
      fault_ = line_text(row_line_) + " has " + std::to_string(cells_in_row_) + " cells, expected " +
               std::to_string(data_cells());
      fault_row_ = rows_;
    }
    if (rows_ >= kTextRows) line_numbers_.push_back(row_line_);
    ++rows_;
    cells_in_row_ = 0;
  }

  std::size_t rows() const { return rows_; }
  const std::vector<TextRow>& text_rows() const { return text_rows_; }
  // The cell count of the first row after a possible header, which every data row must have.
  std::size_t data_cells() const { return text_rows_[text_rows_.size() > 1 ? 1 : 0].cells.size(); }

  // The table's rows from `first_row` (0, or 1 after a header) with `cols` cells each: the text
  // rows checked and converted, then the rest; throws DataError at the first fault.
  void fill(NumericTable& table, std::size_t first_row, std::size_t cols) {
    std::vector<double> head_values;
    std::vector<std::size_t> head_lines;
    for (std::size_t row = first_row; row < text_rows_.size(); ++row) {
      const TextRow& text = text_rows_[row];
      if (text.cells.size() != cols)
        throw_data_error(path_, line_text(text.line) + " has " + std::to_string(text.cells.size()) +
                                    " cells, expected " + std::to_string(cols));
      for (std::size_t col = 0; col < cols; ++col) {
        double value = 0;
        const std::string_view cell = trim(text.cells[col].text);
        const CellStatus status = parse_number(cell, value);
        if (status != CellStatus::number) throw_data_error(path_, cell_fault(text.cells[col].line, col, cell, status));
        head_values.push_back(value);
      }
      head_lines.push_back(text.line);
    }
    if (fault_) throw_data_error(path_, *fault_);
    table.cols = cols;
    table.values = std::move(values_);
    table.values.insert(table.values.begin(), head_values.begin(), head_values.end());
    line_numbers_.insert(line_numbers_.begin(), head_lines.begin(), head_lines.end());
    table.rows = line_numbers_.size();
    table.describe_cell = [source = table.source, line_numbers = std::move(line_numbers_)](std::size_t row,
                                                                                           std::size_t col) {
      return source + ": " + line_text(line_numbers[row]) + ", column " + std::to_string(col + 1);
    };
  }

 private:
  static std::string cell_fault(std::size_t line, std::size_t col, std::string_view cell, CellStatus status) {
    return line_text(line) + ", column " + std::to_string(col + 1) + ": '" + std::string(cell) + "' is " +
           (status == CellStatus::out_of_range ? "out of range for a number" : "not a number");
  }

  void add_number(std::string_view cell, std::size_t line) {
    if (cells_in_row_ > data_cells()) return;  // the row's cell count is reported at its end
    double value = 0;
    const CellStatus status = parse_number(cell, value);
    if (status != CellStatus::number) {
      fault_ = cell_fault(line, cells_in_row_ - 1, cell, status);
      fault_row_ = rows_;
    }
    values_.push_back(value);
  }

  const std::filesystem::path& path_;
  std::vector<TextRow> text_rows_;
  std::vector<double> values_;             // the rows after the text rows
  std::vector<std::size_t> line_numbers_;  // of those rows
  std::optional<std::string> fault_;       // the first in those rows
  std::size_t fault_row_ = 0;
  std::size_t rows_ = 0;
  std::size_t cells_in_row_ = 0;
  std::size_t row_line_ = 0;
};

// Whitespace-separated text: every nonblank line a row, runs of spaces and tabs between cells.
void read_whitespace_rows(std::string_view content, RowCollector& rows) {
  std::size_t line = 1;
  while (!content.empty()) {
    const std::size_t end = content.find('\n');
    std::string_view text = content.substr(0, end);
    for (;;) {
      const std::size_t start = text.find_first_not_of(" \t\r");
      if (start == std::string_view::npos) break;
      text.remove_prefix(start);
      const std::size_t stop = std::min(text.find_first_of(" \t\r"), text.size());
      rows.add_cell(text.substr(0, stop), line);
      text.remove_prefix(stop);
    }
    rows.end_row();
    content.remove_prefix(end == std::string_view::npos ? content.size() : end + 1);
    ++line;
  }
}

// RFC 4180 CSV through libcsv: quoted cells (holding delimiters, doubled quotes or line breaks),
// CRLF or LF line ends, blank lines skipped, spaces around unquoted cells dropped. The file is fed
// one line at a time, so each cell's line is known for messages.
class CsvReader {
 public:
  CsvReader(const std::filesystem::path& path, char delimiter, RowCollector& rows) : path_(path), rows_(rows) {
    if (csv_init(&parser_, CSV_STRICT | CSV_STRICT_FINI) != 0) throw std::bad_alloc();
    csv_set_delim(&parser_, static_cast<unsigned char>(delimiter));
    csv_set_space_func(&parser_, delimiter == '\t' ? is_space : is_space_or_tab);
  }
  ~CsvReader() { csv_free(&parser_); }
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  void read(std::string_view content) {
    while (!content.empty()) {
      const std::size_t end = content.find('\n');
      const std::string_view text = content.substr(0, end == std::string_view::npos ? content.size() : end + 1);
      if (between_rows_ && !is_blank(text)) {
        field_line_ = line_;
        between_rows_ = false;
      }
      const std::size_t parsed = csv_parse(&parser_, text.data(), text.size(), on_cell, on_row_end, this);
      rethrow_callback_error();
      if (parsed != text.size()) fail_parse(text, parsed);
      if (csv_get_buffer_size(&parser_) > kMostCellBytes)
        throw_data_error(path_,
                         line_text(field_line_) + ": a cell that starts here is longer than " +
                             std::to_string(kMostCellBytes >> 20) +
                             " MiB; is a quote (\") never closed? Close it, or double a quote inside a cell (\"\")");
      content.remove_prefix(text.size());
      ++line_;
    }
    const int finished = csv_fini(&parser_, on_cell, on_row_end, this);
    rethrow_callback_error();
    if (finished != 0)
      throw_data_error(path_, line_text(field_line_) +
                                  ": the quoted cell that starts here never closes (the file "
                                  "ends inside it); add the closing quote (\")");
  }

 private:
  static int is_space_or_tab(unsigned char c) { return c == ' ' || c == '\t'; }
  static int is_space(unsigned char c) { return c == ' '; }

  // libcsv is C: an exception must not pass through it. A callback's is kept and rethrown once
  // csv_parse returns; the rest of that line is parsed with the callbacks idle.
  static void on_cell(void* bytes, std::size_t size, void* reader) {
    auto& self = *static_cast<CsvReader*>(reader);
    if (self.error_) return;
    try {
      self.rows_.add_cell(std::string_view(static_cast<const char*>(bytes), bytes ? size : 0), self.field_line_);
    } catch (...) {
      self.error_ = std::current_exception();
    }
    self.field_line_ = self.line_;  // the next cell of the row starts on the line this one ended
  }

  static void on_row_end(int, void* reader) {
    auto& self = *static_cast<CsvReader*>(reader);
    if (self.error_) return;
    try {
      self.rows_.end_row();
    } catch (...) {
      self.error_ = std::current_exception();
    }
    self.between_rows_ = true;
  }

  void rethrow_callback_error() const {
    if (error_) std::rethrow_exception(error_);
  }

  [[noreturn]] void fail_parse(std::string_view text, std::size_t parsed) {
    if (csv_error(&parser_) == CSV_ENOMEM) throw std::bad_alloc();
    if (text.ends_with('\n')) text.remove_suffix(1);
    throw_data_error(path_, line_text(line_) + ", byte " + std::to_string(parsed + 1) + " of the line: a quote (\") " +
                                "inside a cell that does not start with one, or text after a cell's closing quote "
                                "(near '" +
                                std::string(trim(text.substr(parsed > 10 ? parsed - 10 : 0, 20))) +
                                "'); a cell with quotes is quoted whole, its quotes doubled: \"say \"\"hi\"\"\"");
  }

  const std::filesystem::path& path_;
  RowCollector& rows_;
  csv_parser parser_ = {};
  std::size_t line_ = 1;        // the line being fed
  std::size_t field_line_ = 1;  // where the cell being read starts
  bool between_rows_ = true;
  std::exception_ptr error_;  // thrown in a callback
};

// scikit-learn's bundled CSVs start with "n_samples,n_features,class names...". The line is that
// header when its first two cells are counts that match the file, or when its cell count differs
// from the data lines' (then the counts are checked later and a mismatch is reported). Data lines
// agree on their count: a first data line that differs from the next is a ragged data line, not a
// sign of a header.
bool looks_like_sklearn_metadata(const std::vector<Cell>& first, std::size_t data_cells, std::size_t data_rows,
                                 bool data_lines_agree) {
  if (first.size() < 2) {
    return false;
  }
  const auto samples = parse_count(trim(first[0].text));
  const auto features = parse_count(trim(first[1].text));
  if (!samples || !features) {
    return false;
  }
  return (*samples == data_rows && *features + 1 == data_cells) || (first.size() != data_cells && data_lines_agree);
}

HeaderKind detect_header(const RowCollector& rows, std::optional<bool> has_header) {
  if (has_header == false) {
    return HeaderKind::none;
  }
  const std::vector<TextRow>& text = rows.text_rows();
  const std::size_t data_rows = rows.rows() - 1;
  const bool data_lines_agree = text.size() < 3 || text[2].cells.size() == text[1].cells.size();
  if (data_rows > 0 && looks_like_sklearn_metadata(text[0].cells, rows.data_cells(), data_rows, data_lines_agree)) {
    return HeaderKind::sklearn_metadata;
  }
  if (has_header == true) {
    return HeaderKind::column_names;
  }
  for (const Cell& cell : text[0].cells) {
    if (!is_number(trim(cell.text))) {
      return HeaderKind::column_names;
    }
  }
  return HeaderKind::none;
}

// A name in single quotes ('setosa') loses them; CSV's own double quotes are gone already.
std::string unquote(std::string_view name) {
  name = trim(name);
  if (name.size() >= 2 && name.front() == '\'' && name.back() == '\'') {
    name = name.substr(1, name.size() - 2);
  }
  return std::string(name);
}

void read_sklearn_metadata(const std::filesystem::path& path, const TextRow& header, std::size_t data_rows,
                           std::size_t data_cells, NumericTable& table) {
  const std::size_t samples = *parse_count(trim(header.cells[0].text));
  const std::size_t features = *parse_count(trim(header.cells[1].text));
  // The features and a label column; a count at the type's end stays there, still past the limit.
  const std::uint64_t columns = features < std::numeric_limits<std::uint64_t>::max() ? features + 1 : features;
  check_table_size(path,
                   line_text(header.line) + ": the header declares " + std::to_string(samples) + " samples of " +
                       std::to_string(features) + " features",
                   samples, columns);
  if (samples != data_rows || features + 1 != data_cells) {
    throw_data_error(path, line_text(header.line) + ": the header declares " + std::to_string(samples) +
                               " samples of " + std::to_string(features) + " features, but the file has " +
                               std::to_string(data_rows) + " data lines of " + std::to_string(data_cells) +
                               " cells (features and a label); is it truncated?");
  }
  for (std::size_t cell = 2; cell < header.cells.size(); ++cell) {
    table.class_names.push_back(unquote(header.cells[cell].text));
  }
}

void read_column_names(const std::filesystem::path& path, const TextRow& header, std::size_t data_cells,
                       NumericTable& table) {
  if (header.cells.size() != data_cells) {
    throw_data_error(path, line_text(header.line) + ": the header has " + std::to_string(header.cells.size()) +
                               " names but the data lines have " + std::to_string(data_cells) + " cells");
  }
  for (const Cell& name : header.cells) {
    table.column_names.push_back(unquote(name.text));
  }
}

// A UTF-8 byte-order mark, which some writers (Excel's "CSV UTF-8") put first, is no part of the text.
std::string_view without_byte_order_mark(std::string_view content) {
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  if (content.starts_with(kByteOrderMark)) content.remove_prefix(kByteOrderMark.size());
  return content;
}

}  // namespace

NumericTable read_text_table(const std::filesystem::path& path, char delimiter, std::optional<bool> has_header) {
  InputFile file(path);
  const std::string content = file.read_rest();
  if (content.empty()) {
    throw_data_error(path, "file is empty (0 bytes)");
  }
  RowCollector rows(path);
  if (delimiter == ' ') {
    read_whitespace_rows(without_byte_order_mark(content), rows);
  } else {
    CsvReader(path, delimiter, rows).read(without_byte_order_mark(content));
  }
  if (rows.rows() == 0) {
    throw_data_error(path, "holds only blank lines (" + std::to_string(content.size()) + " bytes), no data");
  }
  const HeaderKind header = detect_header(rows, has_header);
  const TextRow& first = rows.text_rows()[0];

  NumericTable table;
  table.source = path.string();
  if (header == HeaderKind::sklearn_metadata) {
    read_sklearn_metadata(path, first, rows.rows() - 1, rows.data_cells(), table);
  } else if (header == HeaderKind::column_names) {
    if (rows.rows() == 1) {
      throw_data_error(path, line_text(first.line) + " is a header and no data lines follow");
    }
    read_column_names(path, first, rows.data_cells(), table);
  }
  if (header == HeaderKind::none) {
    rows.fill(table, 0, first.cells.size());
  } else {
    rows.fill(table, 1, rows.data_cells());
  }
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
