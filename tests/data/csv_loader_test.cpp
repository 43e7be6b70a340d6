// load_csv: round trips on small files (headers, label columns, gzip, whitespace) and one test per bad input.
#include <gtest/gtest.h>

#include "data_test_support.hpp"
#include "mlptune/data.hpp"

namespace mlptune {
namespace {

using test::contains;
using test::data_error_message;
using test::starts_with_path;
using test::TempFolder;

LoadOptions label_column(const std::string& column) {
  LoadOptions options;
  options.label_column = column;
  return options;
}

TEST(CsvLoader, ReadsAFileWithoutHeaderWithTheLastColumnAsLabel) {
  TempFolder folder;
  const auto path = folder.write("plain.csv", "1.5,2,0\n-3,4e-1,2\n5,+6,1\n");
  const Dataset data = load_csv(path);
  EXPECT_EQ(data.name, "plain");
  EXPECT_EQ(data.task, Task::classification);
  ASSERT_EQ(data.rows, 3u);
  ASSERT_EQ(data.cols, 2u);
  EXPECT_EQ(data.features, (std::vector<float>{1.5f, 2.0f, -3.0f, 0.4f, 5.0f, 6.0f}));
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{0, 2, 1}));
  EXPECT_EQ(data.num_classes, 3);
  EXPECT_EQ(data.column_scale, (std::vector<float>{1.0f, 1.0f}));
  EXPECT_EQ(data.column_offset, (std::vector<float>{0.0f, 0.0f}));
  EXPECT_TRUE(data.raw_bytes.empty());
}

TEST(CsvLoader, DetectsAHeaderOfNamesAndFindsTheLabelColumnByName) {
  TempFolder folder;
  const auto path = folder.write("named.csv", "width,kind,height\n1,0,2\n3,1,4\n");
  const Dataset data = load_csv(path, label_column("kind"));
  ASSERT_EQ(data.rows, 2u);
  EXPECT_EQ(data.features, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{0, 1}));
}

TEST(CsvLoader, FindsTheLabelColumnByIndexFromEitherEnd) {
  TempFolder folder;
  const auto path = folder.write("indexed.csv", "0,10,20\n1,30,40\n");
  const Dataset first = load_csv(path, label_column("0"));
  EXPECT_EQ(first.labels, (std::vector<std::int32_t>{0, 1}));
  EXPECT_EQ(first.features, (std::vector<float>{10, 20, 30, 40}));
  const Dataset from_end = load_csv(path, label_column("-3"));
  EXPECT_EQ(from_end.labels, first.labels);
  EXPECT_EQ(from_end.features, first.features);
}

TEST(CsvLoader, ReadsScikitLearnMetadataHeaderAndItsClassNames) {
  TempFolder folder;
  // Three declared classes although only 0 and 1 occur: the header, not the data, sets the count.
  const auto path = folder.write("meta.csv", "3,2,setosa,versicolor,virginica\n1,2,0\n3,4,1\n5,6,1\n");
  const Dataset data = load_csv(path);
  ASSERT_EQ(data.rows, 3u);
  EXPECT_EQ(data.cols, 2u);
  EXPECT_EQ(data.num_classes, 3);
}

TEST(CsvLoader, ReadsAMetadataHeaderWhoseCellCountDiffersFromTheData) {
  TempFolder folder;
  const auto path = folder.write("counts.csv", "2,3\n1,2,3,0\n4,5,6,1\n");
  const Dataset data = load_csv(path);
  EXPECT_EQ(data.rows, 2u);
  EXPECT_EQ(data.cols, 3u);
}

TEST(CsvLoader, ObeysAnExplicitNoHeaderOption) {
  TempFolder folder;
  const auto path = folder.write("numbers.csv", "2,1,0\n4,5,1\n");
  LoadOptions options;
  options.has_header = false;
  EXPECT_EQ(load_csv(path, options).rows, 2u);
  options.has_header = true;
  EXPECT_EQ(load_csv(path, options).rows, 1u);
}

TEST(CsvLoader, ReadsGzipCompressedFiles) {
  TempFolder folder;
  const auto path = folder.write_gz("packed.csv.gz", "a,b,label\n1,2,1\n3,4,0\n");
  const Dataset data = load_csv(path);
  EXPECT_EQ(data.name, "packed");
  EXPECT_EQ(data.features, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{1, 0}));
}

TEST(CsvLoader, SpaceDelimiterMeansRunsOfWhitespaceForRegression) {
  TempFolder folder;
  const auto path = folder.write("spaced.txt", "  59 2\t32.1   151.5\r\n48  1 21.6 75\n");
  LoadOptions options;
  options.delimiter = ' ';
  options.task = Task::regression;
  const Dataset data = load_csv(path, options);
  EXPECT_EQ(data.task, Task::regression);
  EXPECT_EQ(data.target_width, 1);
  EXPECT_EQ(data.features, (std::vector<float>{59, 2, 32.1f, 48, 1, 21.6f}));
  EXPECT_EQ(data.targets, (std::vector<float>{151.5f, 75}));
  EXPECT_TRUE(data.labels.empty());
}

TEST(CsvLoader, SkipsBlankLinesAndKeepsTheirNumbersInMessages) {
  TempFolder folder;
  const auto path = folder.write("gaps.csv", "1,0\r\n\r\n2,1\n   \n3,x\n\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(contains, message, "line 5, column 2: 'x' is not a number");
}

// Excel's "CSV UTF-8" starts the file with a byte-order mark: it is no part of the first name, nor
// of the first number of a file without a header.
TEST(CsvLoader, AByteOrderMarkIsNoPartOfTheFirstCell) {
  TempFolder folder;
  const auto named = folder.write("bom.csv", "\xEF\xBB\xBFsepal,petal,label\n5.1,3.5,0\n4.9,3,1\n");
  const Dataset data = load_csv(named, label_column("label"));
  EXPECT_EQ(data.feature_names, (std::vector<std::string>{"sepal", "petal"}));
  const auto plain = folder.write("bom-plain.csv",
                                  "\xEF\xBB\xBF"
                                  "1.5,2,0\n3,4,1\n");
  const Dataset rows = load_csv(plain);
  ASSERT_EQ(rows.rows, 2u) << "the first line is data, not a header";
  EXPECT_EQ(rows.features, (std::vector<float>{1.5f, 2, 3, 4}));
}

// RFC 4180: a quoted cell may hold the delimiter, doubled quotes and line breaks; quoted numbers
// are numbers; spaces around an unquoted cell are dropped; CRLF ends lines as LF does.
TEST(CsvLoader, ReadsQuotedCellsAsRfc4180Says) {
  TempFolder folder;
  const auto path = folder.write("quoted.csv",
                                 "\"a,b\",\"say \"\"hi\"\"\",label\r\n"
                                 "\"0.13\", 2 ,\"1\"\r\n"
                                 "4,\"5e-1\",0\r\n");
  const Dataset data = load_csv(path, label_column("label"));
  EXPECT_EQ(data.feature_names, (std::vector<std::string>{"a,b", "say \"hi\""}));
  ASSERT_EQ(data.rows, 2u);
  EXPECT_EQ(data.features, (std::vector<float>{0.13f, 2, 4, 0.5f}));
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{1, 0}));
}

TEST(CsvLoader, AQuotedLineBreakKeepsTheLineNumbersOfWhatFollows) {
  TempFolder folder;
  const auto path = folder.write("multiline.csv", "\"width\r\n(cm)\",b,label\r\n1,2,0\r\n\r\n3,x,1\r\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(contains, message, "line 5, column 2: 'x' is not a number");
  const auto named = folder.write("multiline-ok.csv", "\"width\n(cm)\",b,label\n1,2,0\n3,4,1\n");
  EXPECT_EQ(load_csv(named).feature_names, (std::vector<std::string>{"width\n(cm)", "b"}));
}

// A fault in a data line is blamed on that line, not on the first line read as a header.
TEST(CsvLoaderErrors, ARaggedFirstDataLineIsNotBlamedOnTheFirstLine) {
  TempFolder folder;
  const auto path = folder.write("ragged-second.csv", "1,2,0\n1,2,3,0\n1,2,0\n4,5,1\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(contains, message, "line 2 has 4 cells, expected 3");
}

TEST(CsvLoaderErrors, AStrayOrUnclosedQuoteIsRefusedWithItsLine) {
  TempFolder folder;
  const auto stray = folder.write("stray.csv", "a,b,label\n1,2,0\n1,2\"5,0\n");
  const std::string stray_message = data_error_message([&] { load_csv(stray); });
  EXPECT_PRED_FORMAT2(contains, stray_message, "line 3, byte 4 of the line: a quote (\") inside a cell");
  EXPECT_PRED_FORMAT2(contains, stray_message, "(near '1,2\"5,0');");
  const auto unclosed = folder.write("unclosed.csv", "a,b,label\n1,2,0\n1,\"2,0\n3,4,1\n");
  const std::string unclosed_message = data_error_message([&] { load_csv(unclosed); });
  EXPECT_PRED_FORMAT2(contains, unclosed_message,
                      "line 3: the quoted cell that starts here never closes (the file ends inside it)");
}

// A CSV has the row and column limits of every data file (NPY, IDX), not a lower one of its own.
TEST(CsvLoader, ReadsRowsWiderThanAMillionCells) {
  TempFolder folder;
  constexpr std::size_t kColumns = (std::size_t(1) << 20) + 2;
  std::string row;
  for (std::size_t cell = 1; cell < kColumns; ++cell) row += "0.5,";
  const auto path = folder.write("wide.csv", row + "0\n" + row + "1\n");
  const Dataset data = load_csv(path);
  EXPECT_EQ(data.rows, 2u);
  EXPECT_EQ(data.cols, kColumns - 1);
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{0, 1}));
}

TEST(CsvLoaderErrors, ARaggedRowOfAMillionCellsIsNamed) {
  TempFolder folder;
  std::string row;
  for (int cell = 0; cell < (1 << 20); ++cell) row += "0,";
  const auto path = folder.write("ragged.csv", "0.5,2,0\n" + row + "0\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(contains, message, "line 2 has 1048577 cells, expected 3");
}

// scikit-learn's header line declares the counts: past the limits, refused with the words NPY and
// IDX headers get.
TEST(CsvLoaderErrors, AHeaderDeclaringMoreRowsOrColumnsThanTheLimitsIsRefusedWithTheLimit) {
  TempFolder folder;
  const auto rows = folder.write("rows.csv", "4294967296,2,a,b\n1,2,0\n3,4,1\n");
  EXPECT_PRED_FORMAT2(contains, data_error_message([&] { load_csv(rows); }),
                      "line 1: the header declares 4294967296 samples of 2 features: 4294967296 rows; at most "
                      "4294967295 are supported (rows are numbered with 32-bit indices): split the file");
  const auto columns = folder.write("columns.csv", "2,3000000000,a,b\n1,2,0\n3,4,1\n");
  EXPECT_PRED_FORMAT2(contains, data_error_message([&] { load_csv(columns); }),
                      "line 1: the header declares 2 samples of 3000000000 features: 3000000001 columns; at most "
                      "2147483646 are supported");
}

TEST(CsvLoaderErrors, MissingFile) {
  TempFolder folder;
  const auto path = folder.file("absent.csv");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "file not found");
}

TEST(CsvLoaderErrors, EmptyFile) {
  TempFolder folder;
  const auto path = folder.write("empty.csv", "");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "file is empty (0 bytes)");
}

TEST(CsvLoaderErrors, HeaderWithoutData) {
  TempFolder folder;
  const auto path = folder.write("header_only.csv", "a,b,label\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 1 is a header and no data lines follow");
}

TEST(CsvLoaderErrors, RaggedRow) {
  TempFolder folder;
  std::string text;
  for (int line = 1; line <= 20; ++line) {
    text += line == 17 ? "1,2,3,4,0\n" : "1,2,3,0\n";
  }
  const auto path = folder.write("ragged.csv", text);
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 17 has 5 cells, expected 4");
}

TEST(CsvLoaderErrors, NonNumericCell) {
  TempFolder folder;
  const auto path = folder.write("words.csv", "1,2,0\n3,4,1\n5,abc,0\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 3, column 2: 'abc' is not a number");
}

TEST(CsvLoaderErrors, NumberBeyondDoubleRange) {
  TempFolder folder;
  const auto path = folder.write("huge.csv", "1,2,0\n1e999,4,1\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 2, column 1: '1e999' is out of range");
}

TEST(CsvLoaderErrors, NumberBeyondFloatRange) {
  TempFolder folder;
  const auto path = folder.write("wide.csv", "1,2,0\n3,1e300,1\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 2, column 2: 1e+300 is outside the float32 range");
}

TEST(CsvLoaderErrors, NaNCell) {
  TempFolder folder;
  const auto path = folder.write("nan.csv", "1,2,0\n3,4,1\nnan,6,0\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 3, column 1: NaN is not allowed");
}

TEST(CsvLoaderErrors, InfCell) {
  TempFolder folder;
  const auto path = folder.write("inf.csv", "1,2,0\n3,-inf,1\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 2, column 2: Inf is not allowed");
}

TEST(CsvLoaderErrors, LabelOutOfDeclaredRange) {
  TempFolder folder;
  const auto path = folder.write("classes.csv", "3,2,a,b,c\n1,2,0\n3,4,2\n5,6,3\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 4, column 3: label 3 is out of range");
  EXPECT_PRED_FORMAT2(contains, message, "3 classes (a, b, c)");
}

TEST(CsvLoaderErrors, LabelNotAnInteger) {
  TempFolder folder;
  const auto path = folder.write("fraction.csv", "1,2,0\n3,4,1.5\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 2, column 3: label 1.5");
  EXPECT_PRED_FORMAT2(contains, message, "is not a non-negative integer");
}

TEST(CsvLoaderErrors, LabelTooLargeForAClassSaysSoWithTheLimit) {
  // 2^32: a whole number, once reported as "not a non-negative integer".
  TempFolder folder;
  const auto path = folder.write("huge.csv", "0.5,2,0\n3,4,4294967296\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message,
                      "line 2, column 3: label 4294967296 is too large for a class label: labels go from 0 to 65535 "
                      "(one output per class, at most 65536 classes); pick the class column with --label-column, or "
                      "load the file with --task regression");
  EXPECT_EQ(message.find("not a non-negative integer"), std::string::npos) << message;
  const auto largest = folder.write("largest.csv", "0.5,2,0\n3,4,65535\n");
  EXPECT_EQ(load_csv(largest).num_classes, 65536);
}

TEST(CsvLoaderErrors, NegativeLabel) {
  TempFolder folder;
  const auto path = folder.write("negative.csv", "1,2,-1\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 1, column 3: label -1");
}

TEST(CsvLoaderErrors, MetadataHeaderDisagreesWithTheRows) {
  TempFolder folder;
  const auto path = folder.write("short.csv", "4,2,a,b\n1,2,0\n3,4,1\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 1: the header declares 4 samples of 2 features");
  EXPECT_PRED_FORMAT2(contains, message, "2 data lines");
}

TEST(CsvLoaderErrors, HeaderNamesDisagreeWithTheColumns) {
  TempFolder folder;
  const auto path = folder.write("names.csv", "a,b\n1,2,0\n");
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "line 1: the header has 2 names but the data lines have 3 cells");
}

TEST(CsvLoaderErrors, UnknownLabelColumnName) {
  TempFolder folder;
  const auto path = folder.write("named.csv", "a,b,label\n1,2,0\n");
  const std::string message = data_error_message([&] { load_csv(path, label_column("target")); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "no column named 'target' (columns: a, b, label)");
}

TEST(CsvLoaderErrors, LabelColumnIndexOutOfRange) {
  TempFolder folder;
  const auto path = folder.write("three.csv", "1,2,0\n");
  const std::string message = data_error_message([&] { load_csv(path, label_column("3")); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "label column 3 is out of range for 3 columns");
}

TEST(CsvLoaderErrors, TruncatedGzipStream) {
  TempFolder folder;
  std::string text;
  for (int row = 0; row < 2000; ++row) {
    text += std::to_string(row) + "," + std::to_string(row * 7 % 13) + ",1\n";
  }
  const auto whole = folder.write_gz("whole.csv.gz", text);
  std::ifstream in(whole, std::ios::binary);
  const std::string compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto path = folder.write("cut.csv.gz", compressed.substr(0, compressed.size() / 2));
  const std::string message = data_error_message([&] { load_csv(path); });
  EXPECT_PRED_FORMAT2(starts_with_path, message, path);
  EXPECT_PRED_FORMAT2(contains, message, "truncated: the compressed stream ends at byte");
}

}  // namespace
}  // namespace mlptune
