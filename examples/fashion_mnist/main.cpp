// Fashion-MNIST with the Toadstool trainer: an MLP (784 -> 512 -> 256 -> 10,
// ReLU, dropout) trained with Adam on 55,000 of the 60,000 training images,
// validated on the other 5,000 after each epoch (accuracy is the score),
// with a progress bar, early stopping on the validation accuracy (the best
// weights restored at the end) and a checkpoint after each epoch that
// `--resume` continues from. Then the test split (10,000 images) is scored.
//
//   scripts/fashion_mnist.sh                      # set-up, data, build, run
//   build/release/examples/fashion_mnist/fashion_mnist --data DIR --epochs 20
//
// Exit codes: 0 done (and --min-accuracy reached), 1 accuracy below
// --min-accuracy or an error, 77 the data is not installed.
#include <cxxopts.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "toadstool/toadstool.h"

namespace {

using namespace toadstool;

struct Split {
  std::shared_ptr<train::TensorDataset> train, valid;
};

// images [N, 28, 28] in [0, 1] -> [N, 784], standardised with the training
// set's mean and standard deviation (0.2860, 0.3530).
Tensor flatten_and_standardise(const Tensor& images) {
  return (images.reshape({images.size(0), 28 * 28}) - 0.2860) / 0.3530;
}

// A fixed random `valid_size` of the training images for validation, the
// rest for training.
Split split_train(const train::FashionMnist& data, int64_t valid_size, uint64_t seed) {
  Generator generator(seed);
  const int64_t n = data.labels.size(0);
  const Tensor order = randperm(n, &generator);
  const Tensor valid_rows = order.slice(0, 0, valid_size);
  const Tensor train_rows = order.slice(0, valid_size, n);
  const Tensor x = flatten_and_standardise(data.images);
  return {std::make_shared<train::TensorDataset>(x.index_select(0, train_rows),
                                                 data.labels.index_select(0, train_rows)),
          std::make_shared<train::TensorDataset>(x.index_select(0, valid_rows),
                                                 data.labels.index_select(0, valid_rows))};
}

int run(const cxxopts::ParseResult& args) {
  const std::string data_dir =
      args.count("data") ? args["data"].as<std::string>() : train::fashion_mnist_dir();
  train::FashionMnist train_data, test_data;
  try {
    train_data = train::load_fashion_mnist(data_dir, /*train=*/true);
    test_data = train::load_fashion_mnist(data_dir, /*train=*/false);
  } catch (const Error& error) {
    std::cerr << error.what() << "\nInstall the data with scripts/get_fashion_mnist.sh, or pass "
              << "--data DIR (a folder holding the official IDX files).\n";
    return 77;
  }
  if (args.count("threads")) set_num_threads(args["threads"].as<int>());
  const auto seed = args["seed"].as<uint64_t>();
  manual_seed(seed);

  const Split split = split_train(train_data, args["valid-size"].as<int64_t>(), seed);
  const auto test_set = std::make_shared<train::TensorDataset>(
      flatten_and_standardise(test_data.images), test_data.labels);
  const auto batch_size = args["batch-size"].as<int64_t>();
  const int workers = args["workers"].as<int>();
  train::DataLoader train_loader(
      split.train,
      {.batch_size = batch_size, .shuffle = true, .seed = seed, .num_workers = workers});
  train::DataLoader valid_loader(split.valid, {.batch_size = 1000, .num_workers = workers});
  train::DataLoader test_loader(test_set, {.batch_size = 1000, .num_workers = workers});

  auto model = std::make_shared<nn::MLP>(std::vector<int64_t>{784, 512, 256, 10}, "relu",
                                         args["dropout"].as<double>());
  // The model moves before the optimizer is built; DeviceCallback moves each batch.
  const Device device(args["device"].as<std::string>());
  model->to(device);
  auto optimizer = std::make_shared<optim::Adam>(model->parameters(),
                                                 optim::AdamOptions{.lr = args["lr"].as<double>()});
  auto loss_fn = std::make_shared<nn::CrossEntropyLoss>();

  const std::string out_dir = args["out"].as<std::string>();
  train::CheckpointOptions checkpoint_options;
  checkpoint_options.resume = args.count("resume") > 0;
  std::vector<std::shared_ptr<train::Callback>> callbacks = {
      std::make_shared<train::AccuracyScorerCallback>(),
      std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions{
          .patience = args["patience"].as<int64_t>(), .restore_best_weights = true}),
  };
  // --profile: a table of each epoch's stage and op-kind times and MFU
  // (first, so that TensorBoard's events get the epoch's profile).
  if (args.count("profile"))
    callbacks.insert(callbacks.begin(), std::make_shared<train::ProfileCallback>());
  // --log-dir: a CSV log, TensorBoard events and charts there.
  if (args.count("log-dir")) {
    for (auto& callback : train::log_dir_callbacks(args["log-dir"].as<std::string>()))
      callbacks.push_back(std::move(callback));
  }
  callbacks.push_back(
      std::make_shared<train::CheckpointCallback>(out_dir + "/checkpoints", checkpoint_options));
  callbacks.push_back(std::make_shared<train::MonitorCallback>());
  if (!device.is_cpu())
    callbacks.insert(callbacks.begin(), std::make_shared<train::DeviceCallback>(device));
  train::Trainer trainer(model, optimizer, loss_fn, callbacks,
                         {.precision = args["precision"].as<std::string>()});
  std::cout << model->summary() << "\n" << trainer.describe() << "\n";

  trainer.fit(args["epochs"].as<int64_t>(), train_loader, &valid_loader);
  if (trainer.interrupted()) {
    std::cout << "interrupted: the checkpoint in " << out_dir
              << "/checkpoints is complete; --resume continues from it\n";
    return 130;
  }

  // The test split, scored by the same accuracy callback.
  const double test_loss = trainer.eval(test_loader);
  const double accuracy = trainer.score;
  std::cout << "test: loss " << test_loss << ", accuracy " << accuracy << "\n";
  const auto min_accuracy = args["min-accuracy"].as<double>();
  if (accuracy < min_accuracy) {
    std::cerr << "test accuracy " << accuracy << " is below --min-accuracy " << min_accuracy
              << "\n";
    return 1;
  }
  return 0;
}

// The command line; each flag's default is in its help text.
cxxopts::Options make_options() {
  cxxopts::Options options("fashion_mnist",
                           "Trains an MLP on Fashion-MNIST with the Toadstool trainer");
  auto add = options.add_options();
  add("data",
      "folder with the Fashion-MNIST IDX files (default: $TOADSTOOL_FASHION_MNIST or "
      "/usr/share/datasets/fashion-mnist)",
      cxxopts::value<std::string>());
  add("epochs", "maximum epochs (early stopping may end sooner)",
      cxxopts::value<int64_t>()->default_value("20"));
  add("batch-size", "training batch size", cxxopts::value<int64_t>()->default_value("128"));
  add("lr", "Adam learning rate", cxxopts::value<double>()->default_value("1e-3"));
  add("dropout", "dropout after each hidden layer", cxxopts::value<double>()->default_value("0.2"));
  add("patience", "epochs without a better validation accuracy before stopping",
      cxxopts::value<int64_t>()->default_value("3"));
  add("valid-size", "training images held out for validation",
      cxxopts::value<int64_t>()->default_value("5000"));
  // The data is in memory and a batch is one index_select: worker threads
  // would only compete with the compute threads for the cores.
  add("workers", "data loader worker threads", cxxopts::value<int>()->default_value("0"));
  add("threads", "compute threads (default: all cores)", cxxopts::value<int>());
  add("device", "train on cpu or cuda[:N]", cxxopts::value<std::string>()->default_value("cpu"));
  add("precision", "32, bf16-mixed or 16-mixed (mixed precision: docs/mixed_precision.md)",
      cxxopts::value<std::string>()->default_value("32"));
  add("seed", "seed of the split, the shuffling, init and dropout",
      cxxopts::value<uint64_t>()->default_value("0"));
  add("out", "folder for checkpoints",
      cxxopts::value<std::string>()->default_value("out/fashion_mnist"));
  add("log-dir", "folder for log.csv, TensorBoard events and charts (loss.png...; default: none)",
      cxxopts::value<std::string>());
  add("profile", "print where each epoch's training time goes (stages, op kinds) and the MFU");
  add("resume", "continue from the newest checkpoint in --out");
  add("min-accuracy", "exit with 1 when the test accuracy is lower",
      cxxopts::value<double>()->default_value("0"));
  add("h,help", "this help");
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    cxxopts::Options options = make_options();
    cxxopts::ParseResult args;
    try {
      args = options.parse(argc, argv);
    } catch (const cxxopts::exceptions::exception& error) {
      std::cerr << "fashion_mnist: " << error.what() << "\n" << options.help() << "\n";
      return 2;
    }
    if (args.count("help")) {
      std::cout << options.help() << "\n";
      return 0;
    }
    return run(args);
  } catch (const std::exception& error) {
    std::cerr << "fashion_mnist: " << error.what() << "\n";
    return 1;
  } catch (...) {
    return 1;
  }
}
