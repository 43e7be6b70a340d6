// A saved model's "mlptune.data" entry: written and read back whole, and a missing or damaged one
// refused naming the file and the fix.
#include <gtest/gtest.h>

#include <string>

#include "mlptune/error.hpp"
#include "mlptune/safetensors.hpp"

namespace mlptune {
namespace {

ModelData sample_data() {
  Dataset train;
  train.task = Task::regression;
  train.cols = 3;
  train.feature_names = {"a", "b", "c"};
  train.column_scale = {0.5f, 1.0f / 3.0f, 1e-30f};
  train.column_offset = {-1.25f, 0.1f, 7.0f};
  train.target_offset = 151.25;
  train.target_scale = 77.0000001;
  return model_data_of(train, "price");
}

TEST(ModelData, ReadsBackWhatItWrote) {
  const ModelData data = sample_data();
  const ModelData read = read_model_data("m.safetensors", {{kModelDataKey, model_data_text(data)}});
  EXPECT_EQ(read.task, Task::regression);
  EXPECT_EQ(read.label_column, "price");
  EXPECT_EQ(read.feature_names, data.feature_names);
  EXPECT_EQ(read.column_scale, data.column_scale) << "float32 values come back exactly";
  EXPECT_EQ(read.column_offset, data.column_offset);
  EXPECT_EQ(read.target_offset, data.target_offset);
  EXPECT_EQ(read.target_scale, data.target_scale);
  EXPECT_EQ(read.classes, 0);
}

std::string refusal(const std::map<std::string, std::string>& metadata) {
  try {
    read_model_data("m.safetensors", metadata);
  } catch (const DataError& error) {
    return error.what();
  }
  return "(accepted)";
}

TEST(ModelData, AMissingOrDamagedEntryIsRefusedWithTheFix) {
  EXPECT_NE(refusal({}).find("m.safetensors: holds no 'mlptune.data' metadata entry"), std::string::npos);
  EXPECT_NE(refusal({}).find("train it again with `mlptune train --save`"), std::string::npos);
  std::string text = model_data_text(sample_data());
  const auto damaged = [&text](const std::string& from, const std::string& to) {
    std::string copy = text;
    copy.replace(copy.find(from), from.size(), to);
    return refusal({{kModelDataKey, copy}});
  };
  EXPECT_NE(damaged("\"task\":\"regression\"", "\"task\":\"ranking\"").find("unknown task 'ranking'"),
            std::string::npos);
  EXPECT_NE(damaged("[0.5,", "[1e300,").find("column_scale holds 1e+300, not a float32 number"), std::string::npos);
  EXPECT_NE(damaged("\"classes\":0", "\"classes\":1e20").find("classes is not a count"), std::string::npos);
  EXPECT_NE(damaged("\"a\",", "").find("its column lists differ in length"), std::string::npos);
  EXPECT_NE(refusal({{kModelDataKey, "{\"task\":"}}).find("is damaged"), std::string::npos);
  EXPECT_NE(refusal({{kModelDataKey, "[]"}}).find("train and save the model again"), std::string::npos);
}

std::string mismatch(const ModelData& data, int input_width, int output_width) {
  ModelSpec model;
  model.input_width = input_width;
  model.output_width = output_width;
  try {
    check_model_data("m.safetensors", data, model);
  } catch (const DataError& error) {
    return error.what();
  }
  return "(accepted)";
}

TEST(ModelData, AnEntryThatDoesNotFitTheModelIsRefusedNamingTheFileAndTheMismatch) {
  ModelData classes = sample_data();
  classes.task = Task::classification;
  classes.classes = 3;
  EXPECT_EQ(mismatch(classes, 3, 3), "(accepted)");
  classes.classes = 2147483647;
  EXPECT_EQ(mismatch(classes, 3, 3),
            "m.safetensors: its 'mlptune.data' metadata entry claims 2147483647 classes but its model has 3 outputs; "
            "the file was changed after it was saved: train and save the model again (`mlptune train --save`)");
  EXPECT_NE(mismatch(sample_data(), 4, 1)
                .find("m.safetensors: its 'mlptune.data' metadata entry scales 3 features "
                      "but its model takes 4"),
            std::string::npos);
  ModelData regression = sample_data();
  EXPECT_EQ(mismatch(regression, 3, 2), "(accepted)") << "a regression model's outputs are its targets";
  regression.classes = 5;
  EXPECT_NE(mismatch(regression, 3, 2).find("is for regression but claims 5 classes"), std::string::npos);
}

}  // namespace
}  // namespace mlptune
