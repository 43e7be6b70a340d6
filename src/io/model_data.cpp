// A saved model's "mlptune.data" metadata entry: the task, the feature columns and the scaling
// fitted on its training split, as JSON.
#include <cmath>
#include <nlohmann/json.hpp>

#include "mlptune/error.hpp"
#include "mlptune/safetensors.hpp"
#include "nn/enum_names.hpp"

namespace mlptune {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw DataError(path.string() + ": " + problem);
}

// The entry's fields, each read with its type checked.
ModelData model_data_from_json(const nlohmann::json& json) {
  ModelData data;
  data.task = detail::kTaskNames.parse(json.at("task").get<std::string>());
  data.label_column = json.at("label_column").get<std::string>();
  data.feature_names = json.at("feature_names").get<std::vector<std::string>>();
  data.column_scale = json.at("column_scale").get<std::vector<float>>();
  data.column_offset = json.at("column_offset").get<std::vector<float>>();
  data.classes = json.at("classes").get<int>();
  data.target_offset = json.at("target_offset").get<double>();
  data.target_scale = json.at("target_scale").get<double>();
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
  ModelData data;
  try {
    data = model_data_from_json(nlohmann::json::parse(entry->second));
  } catch (const nlohmann::json::exception& error) {
    fail(path, std::string("its '") + kModelDataKey + "' metadata entry is damaged (" + error.what() +
                   "); save the model again with `mlptune train --save`");
  } catch (const ConfigError& error) {
    fail(path, std::string("its '") + kModelDataKey + "' metadata entry: " + error.what());
  }
  if (data.column_scale.size() != data.column_offset.size() ||
      (!data.feature_names.empty() && data.feature_names.size() != data.column_scale.size()) ||
      !(data.target_scale > 0) || !std::isfinite(data.target_scale) || !std::isfinite(data.target_offset))
    fail(path, std::string("its '") + kModelDataKey +
                   "' metadata entry is inconsistent (column counts or target scaling); save the model again with "
                   "`mlptune train --save`");
  return data;
}

}  // namespace mlptune
