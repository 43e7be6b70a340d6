// load_csv: a delimited text file (gzip or plain) with one label or target column.
#include "data/numeric_table.hpp"
#include "data/text_table.hpp"
#include "mlptune/data.hpp"

namespace mlptune {

Dataset load_csv(const std::filesystem::path& path, const LoadOptions& options) {
  const data::NumericTable table = data::read_text_table(path, options.delimiter, options.has_header);
  Dataset dataset = data::table_to_dataset(table, options);
  dataset.name = data::dataset_name_from_path(path);
  return dataset;
}

}  // namespace mlptune
