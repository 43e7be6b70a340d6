// Trains a small MLP on the bundled iris set for one epoch on the CPU through mlptune's public API,
// and checks what it reports. Exit status 0 when every check holds.
#include <cmath>
#include <cstdio>
#include <mlptune/backend.hpp>
#include <mlptune/data.hpp>
#include <mlptune/trial.hpp>

int main() {
  const mlptune::DataSplits data = mlptune::load_bundled("iris", {});
  mlptune::TrialSpec spec;
  spec.model.input_width = int(data.train.cols);
  spec.model.hidden = {16};
  spec.model.output_width = data.train.output_width();
  spec.train.learning_rate = 0.05;
  spec.train.batch_size = 16;
  spec.train.epochs = 1;
  mlptune::BackendOptions options;
  options.kind = mlptune::BackendKind::cpu;
  auto backend = mlptune::make_backend(options);
  auto trainer = backend->make_trainer(spec, std::make_shared<const mlptune::DataSplits>(data));
  const double loss_before = trainer->evaluate(data.validation).loss;
  const mlptune::EpochReport report = trainer->train_epoch();
  std::printf("epoch %d: status %s, train loss %.4f, validation loss %.4f (%.4f before), accuracy %.3f\n", report.epoch,
              mlptune::to_string(report.status).c_str(), report.train_loss, report.validation.loss, loss_before,
              report.validation.accuracy);
  const bool fine = report.epoch == 1 && report.status == mlptune::TrialStatus::completed &&
                    std::isfinite(report.train_loss) && report.validation.loss < loss_before &&
                    report.validation.accuracy >= 0.0 && report.validation.accuracy <= 1.0 &&
                    trainer->state().parameters.size() == 4;
  if (!fine) std::printf("unexpected result\n");
  return fine ? 0 : 1;
}
