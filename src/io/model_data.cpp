// A saved model's "mlptune.data" metadata entry: the task, the feature columns and the scaling
// fitted on its training split, as JSON.
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "mlptune/error.hpp"
#include "mlptune/safetensors.hpp"
#include "nn/enum_names.hpp"

namespace mlptune {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw DataError(path.string() + ": " + problem);
}

// Thrown for an entry a reader of this version cannot take; read_model_data names the file.
struct MalformedEntry {
  std::string problem;
};

// A number of the entry that float32 holds (column maps), or that is finite (target maps).
double finite_number(const nlohmann::json& json, const char* key) {
  const nlohmann::json& value = json.at(key);
  if (!value.is_number() || !std::isfinite(value.get<double>()))
    throw MalformedEntry{std::string(key) + " is not a finite number"};
  return value.get<double>();
}

std::vector<float> float_list(const nlohmann::json& json, const char* key) {
  const nlohmann::json& values = json.at(key);
  if (!values.is_array()) throw MalformedEntry{std::string(key) + " is not a list"};
  std::vector<float> list;
  for (const nlohmann::json& value : values) {
    if (!value.is_number() || !(std::fabs(value.get<double>()) <= std::numeric_limits<float>::max()))
      throw MalformedEntry{std::string(key) + " holds " + value.dump() + ", not a float32 number"};
    list.push_back(static_cast<float>(value.get<double>()));
  }
  return list;
}

// The entry's fields, each read with its type and range checked.
ModelData model_data_from_json(const nlohmann::json& json) {
  ModelData data;
  data.task = detail::kTaskNames.parse(json.at("task").get<std::string>());
  data.label_column = json.at("label_column").get<std::string>();
  data.feature_names = json.at("feature_names").get<std::vector<std::string>>();
  data.column_scale = float_list(json, "column_scale");
  data.column_offset = float_list(json, "column_offset");
  const nlohmann::json& classes = json.at("classes");
  if (!classes.is_number_integer() || classes.get<std::int64_t>() < 0 ||
      classes.get<std::int64_t>() > std::numeric_limits<int>::max())
    throw MalformedEntry{"classes is not a count"};
  data.classes = int(classes.get<std::int64_t>());
  data.target_offset = finite_number(json, "target_offset");
  data.target_scale = finite_number(json, "target_scale");
  if (data.column_scale.size() != data.column_offset.size() ||
      (!data.feature_names.empty() && data.feature_names.size() != data.column_scale.size()))
    throw MalformedEntry{"its column lists differ in length"};
  if (!(data.target_scale > 0)) throw MalformedEntry{"target_scale is not positive"};
  return data;
}

}  // namespace

ModelData model_data_of(const Dataset& train, const std::string& label_column) {
  ModelData data;
  data.task = train.task;
  data.label_column = label_column;
  data.feature_names = train.feature_names;
  data.column_scale = train.column_scale;
  data.column_offset = train.column_offset;
  data.classes = train.task == Task::classification ? train.num_classes : 0;
  data.target_offset = train.target_offset;
  data.target_scale = train.target_scale;
  return data;
}

std::string model_data_text(const ModelData& data) {
  const nlohmann::json json = {{"task", std::string(detail::kTaskNames.name_of(data.task))},
                               {"label_column", data.label_column},
                               {"feature_names", data.feature_names},
                               {"column_scale", data.column_scale},
                               {"column_offset", data.column_offset},
                               {"classes", data.classes},
                               {"target_offset", data.target_offset},
                               {"target_scale", data.target_scale}};
  return json.dump();
}

ModelData read_model_data(const std::filesystem::path& path, const std::map<std::string, std::string>& metadata) {
  const auto entry = metadata.find(kModelDataKey);
  if (entry == metadata.end())
    fail(path, std::string("holds no '") + kModelDataKey +
                   "' metadata entry with the scaling of the data it was trained on (it was saved by an earlier "
                   "mlptune, or by another program); train it again with `mlptune train --save` to apply it to "
                   "new rows");
  const std::string fix = "; train and save the model again (`mlptune train --save`)";
  try {
    return model_data_from_json(nlohmann::json::parse(entry->second));
  } catch (const nlohmann::json::exception& error) {
    fail(path, std::string("its '") + kModelDataKey + "' metadata entry is damaged (" + error.what() + ")" + fix);
  } catch (const MalformedEntry& error) {
    fail(path, std::string("its '") + kModelDataKey + "' metadata entry is damaged: " + error.problem + fix);
  } catch (const ConfigError& error) {
    fail(path, std::string("its '") + kModelDataKey + "' metadata entry: " + error.what() + fix);
  }
}

void check_model_data(const std::filesystem::path& path, const ModelData& data, const ModelSpec& model) {
  const std::string fix =
      "; the file was changed after it was saved: train and save the model again "
      "(`mlptune train --save`)";
  if (data.column_scale.size() != std::size_t(model.input_width))
    fail(path, std::string("its '") + kModelDataKey + "' metadata entry scales " +
                   std::to_string(data.column_scale.size()) + " features but its model takes " +
                   std::to_string(model.input_width) + fix);
  if (data.task == Task::classification && data.classes != model.output_width)
    fail(path, std::string("its '") + kModelDataKey + "' metadata entry claims " + std::to_string(data.classes) +
                   " classes but its model has " + std::to_string(model.output_width) + " outputs" + fix);
  if (data.task == Task::regression && data.classes != 0)
    fail(path, std::string("its '") + kModelDataKey + "' metadata entry is for regression but claims " +
                   std::to_string(data.classes) + " classes" + fix);
}

}  // namespace mlptune
