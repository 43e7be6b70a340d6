// Per-epoch metrics files (CSV or JSON) and the JSON form of specs and reports.
#include "cli/metrics_file.hpp"

#include <cmath>
#include <sstream>

#include "cli/text.hpp"
#include "io/output_file.hpp"
#include "mlptune/error.hpp"
#include "nn/settings.hpp"

namespace mlptune::cli {
namespace {

// NaN and Inf have no JSON form: they become null.
nlohmann::json number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

std::string csv_number(double value) {
  return std::isnan(value) ? "" : format("%.9g", value);
}

std::string csv_text(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

nlohmann::json to_json(const TrialSpec& spec) {
  // Keys sorted (nlohmann::json), as these files have always had them.
  nlohmann::json model = to_json(spec.model);
  model["parameter_count"] = spec.model.parameter_count();
  return {{"model", model}, {"train", nlohmann::json(to_json(spec.train))}};
}

nlohmann::json to_json(const Metrics& metrics) {
  return {{"loss", number(metrics.loss)},
          {"accuracy", number(metrics.accuracy)},
          {"rmse", number(metrics.rmse)},
          {"samples", metrics.samples}};
}

nlohmann::json to_json(const EpochReport& report) {
  return {{"epoch", report.epoch},
          {"step", report.step},
          {"train_loss", number(report.train_loss)},
          {"validation_loss", number(report.validation.loss)},
          {"validation_accuracy", number(report.validation.accuracy)},
          {"validation_rmse", number(report.validation.rmse)},
          {"learning_rate", report.learning_rate},
          {"samples_per_second", report.samples_per_second},
          {"seconds", report.seconds},
          {"status", to_string(report.status)},
          {"message", report.message}};
}

void write_metrics(const std::string& path, const TrialSpec& spec, const std::string& data_name,
                   const std::vector<EpochReport>& epochs, const nlohmann::json& result) {
  std::ostringstream out;
  if (path.ends_with(".json")) {
    nlohmann::json document{
        {"spec", to_json(spec)}, {"data", data_name}, {"epochs", nlohmann::json::array()}, {"result", result}};
    for (const EpochReport& report : epochs) document["epochs"].push_back(to_json(report));
    out << document.dump(2) << "\n";
  } else {
    out << "epoch,step,train_loss,validation_loss,validation_accuracy,validation_rmse,learning_rate,"
           "samples_per_second,seconds,status,message\n";
    for (const EpochReport& r : epochs) {
      out << r.epoch << ',' << r.step << ',' << csv_number(r.train_loss) << ',' << csv_number(r.validation.loss) << ','
          << csv_number(r.validation.accuracy) << ',' << csv_number(r.validation.rmse) << ','
          << csv_number(r.learning_rate) << ',' << csv_number(r.samples_per_second) << ',' << csv_number(r.seconds)
          << ',' << to_string(r.status) << ',' << csv_text(r.message) << '\n';
    }
  }
  io::write_file_atomically(path, out.str(), "--metrics");
}

}  // namespace mlptune::cli
