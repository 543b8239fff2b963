// IMDB sentiment with the Toadstool trainer: a small Transformer trained from
// scratch to tell positive movie reviews from negative ones (the Large Movie
// Review Dataset, 25,000 labelled training reviews).
//
//   reviews (archive or folder) -> word tokens -> vocabulary ids (train split only)
//   -> length-bucketed batches, each padded to its own longest review
//   -> TransformerClassifier -> logits [B, 2] -> cross-entropy
//
// 2,500 of the training reviews (a fixed, seeded choice) are held out for
// validation: every decision (early stopping, the best checkpoint) uses them.
// With --test (or when the data has the official test split) the final
// model is scored on it, and the last line printed is
// "test: loss L, accuracy A".
//
//   scripts/imdb.sh                                      # set-up, data, build, train
//   build/release/examples/imdb/imdb --data aclImdb_v1.tar.gz --epochs 4
//   build/release/examples/imdb/imdb --predict "A wonderful, moving film."
//   cat reviews.txt | build/release/examples/imdb/imdb --predict -
//
// Everything a saved model needs to classify new text is in --out:
// vocabulary.json, model.json (the architecture) and checkpoints/.
//
// Exit codes: 0 done, 1 an error or --min-accuracy not reached, 2 bad flags,
// 77 no data found, 130 interrupted (the checkpoint is complete).
#include <algorithm>
#include <chrono>
#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "toadstool/tensor/atomic_file.h"
#include "toadstool/toadstool.h"

namespace {

using namespace toadstool;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The architecture and input options: saved as model.json, so that
// --predict rebuilds exactly the trained model.
struct ModelConfig {
  nn::TransformerClassifierOptions model;
  train::SequenceOptions sequence;
};

ModelConfig config_from(const cxxopts::ParseResult& args, int64_t vocab_size) {
  ModelConfig c;
  c.model.vocab_size = vocab_size;
  c.model.d_model = args["d-model"].as<int64_t>();
  c.model.nhead = args["heads"].as<int64_t>();
  c.model.num_layers = args["layers"].as<int64_t>();
  c.model.dim_feedforward = args["ff"].as<int64_t>();
  c.model.dropout = args["dropout"].as<double>();
  c.model.token_dropout = args["token-dropout"].as<double>();
  c.model.pooling = args["pooling"].as<std::string>();
  c.model.bigram_buckets = args["bigrams"].as<int64_t>();
  c.model.bigram_dim = args["bigram-dim"].as<int64_t>();
  c.sequence.max_len = args["max-len"].as<int64_t>();
  c.sequence.truncation = args["truncation"].as<std::string>();
  c.model.max_len = c.sequence.max_len;
  return c;
}

void save_config(const ModelConfig& c, const std::string& path) {
  const Json j = {{"vocab_size", c.model.vocab_size},
                  {"d_model", c.model.d_model},
                  {"nhead", c.model.nhead},
                  {"num_layers", c.model.num_layers},
                  {"dim_feedforward", c.model.dim_feedforward},
                  {"dropout", c.model.dropout},
                  {"pooling", c.model.pooling},
                  {"bigram_buckets", c.model.bigram_buckets},
                  {"bigram_dim", c.model.bigram_dim},
                  {"max_len", c.sequence.max_len},
                  {"truncation", c.sequence.truncation}};
  write_file_atomic(path, j.dump(2) + "\n");
}

ModelConfig load_config(const std::string& path) {
  std::ifstream in(path);
  TS_CHECK(in.good(), "cannot open ", path, " (train a model first, with the same --out)");
  try {
    const Json j = Json::parse(in);
    ModelConfig c;
    c.model.vocab_size = j.at("vocab_size").get<int64_t>();
    c.model.d_model = j.at("d_model").get<int64_t>();
    c.model.nhead = j.at("nhead").get<int64_t>();
    c.model.num_layers = j.at("num_layers").get<int64_t>();
    c.model.dim_feedforward = j.at("dim_feedforward").get<int64_t>();
    c.model.dropout = j.at("dropout").get<double>();
    c.model.pooling = j.at("pooling").get<std::string>();
    c.model.bigram_buckets = j.at("bigram_buckets").get<int64_t>();
    c.model.bigram_dim = j.value("bigram_dim", int64_t{0});  // absent before: full width
    c.sequence.max_len = j.at("max_len").get<int64_t>();
    c.sequence.truncation = j.at("truncation").get<std::string>();
    c.model.max_len = c.sequence.max_len;
    return c;
  } catch (const Json::exception& e) {
    throw Error(std::string(path) + ": not a model configuration: " + e.what());
  }
}

struct Encoded {
  std::vector<std::vector<int64_t>> ids;
  std::vector<int64_t> labels;
};

Encoded encode(const std::vector<train::ImdbReview>& reviews, const std::vector<int64_t>& rows,
               const train::Vocabulary& vocabulary) {
  Encoded out;
  for (int64_t r : rows) {
    const train::ImdbReview& review = reviews[static_cast<size_t>(r)];
    out.ids.push_back(vocabulary.encode(review.text));
    out.labels.push_back(review.label);
  }
  return out;
}

std::vector<int64_t> all_rows(size_t n) {
  std::vector<int64_t> rows(n);
  for (size_t i = 0; i < n; ++i) rows[i] = static_cast<int64_t>(i);
  return rows;
}

// Validation and test batches in length order: accuracy does not depend on
// the order, and sorted batches carry the least padding. Data parallel: each
// rank takes every N-th review of that order (a DistributedSampler without
// shuffling), batches of batch_size / N.
train::DataLoader sorted_loader(const Encoded& data, const train::SequenceOptions& options,
                                int64_t batch_size, const distributed::ProcessGroup* pg) {
  std::vector<size_t> order(data.ids.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return data.ids[a].size() < data.ids[b].size(); });
  Encoded sorted;
  for (size_t i : order) {
    sorted.ids.push_back(data.ids[i]);
    sorted.labels.push_back(data.labels[i]);
  }
  auto dataset = std::make_shared<train::SequenceDataset>(sorted.ids, sorted.labels, options);
  if (pg == nullptr) return train::DataLoader(dataset, {.batch_size = batch_size});
  return train::DataLoader(dataset, {.batch_size = std::max<int64_t>(1, batch_size / pg->size()),
                                     .sampler = std::make_shared<train::DistributedSampler>(
                                         dataset->size(), pg->size(), pg->rank(), false)});
}

// --pretrained DIR: the embedding, positions and encoder layers of the
// language model examples/imdb_lm wrote to DIR (same names; its output layer
// is not ours and stays out). A width or shape that differs is an Error
// naming the tensor; the classifier's head and bigram tables start fresh.
std::string start_from_language_model(nn::TransformerClassifier& model, const std::string& dir) {
  const TensorDict language_model = load_safetensors(dir + "/language_model.safetensors");
  const TensorDict ours = model.state_dict();
  TensorDict shared;
  for (const std::string& name : language_model.keys()) {
    if (ours.contains(name)) shared.insert(name, language_model.at(name));
  }
  TS_CHECK(ours.contains("encoder.layers.0.linear1.weight") &&
               shared.contains("encoder.layers.0.linear1.weight"),
           "--pretrained ", dir, ": its model has no encoder this classifier can use");
  model.load_state_dict(shared, /*strict=*/false);
  return detail::concat("started from ", shared.size(), " of the ", ours.size(),
                        " tensors of the classifier from the language model in ", dir);
}

// --precision auto: bf16-mixed where this CPU's bfloat16 GEMM path (chosen
// at run time, docs/mixed_precision.md) is AMX or AVX512-BF16, i.e. faster
// than float32, which it then is for the whole step (an AMD Zen 4: 125
// against 200 ms at 2 threads) at the same validation accuracy
// (docs/benchmarks.md, "IMDB"); float32 elsewhere (a CPU without them, and
// on a GPU, where neither is measured yet).
std::string precision_of(const cxxopts::ParseResult& args, const Device& device) {
  std::string precision = args["precision"].as<std::string>();
  if (precision != "auto") return precision;
  return device.is_cpu() && std::string(cpu_bf16_gemm()) != "fp32" ? "bf16-mixed" : "32";
}

// --find-lr: the learning-rate range test (LRFinderCallback) instead of
// training, with the run's gradient clipping. It prints the suggestion;
// with --log-dir the curve (lr_finder.csv) and its chart (lr_finder.png,
// the suggestion marked) land there.
int find_lr(const cxxopts::ParseResult& args, const std::shared_ptr<nn::UnaryModule>& model,
            const std::shared_ptr<optim::Optimizer>& optimizer,
            const std::shared_ptr<nn::Loss>& loss_fn, train::DataLoader& train_loader,
            const Device& device) {
  TS_CHECK(!args.count("distributed"), "--find-lr runs in one process (not with --distributed)");
  train::LRFinderOptions options;
  std::vector<std::shared_ptr<train::Callback>> callbacks;
  if (args.count("log-dir")) {
    const std::string log_dir = args["log-dir"].as<std::string>();
    std::filesystem::create_directories(log_dir);
    options.csv_path = log_dir + "/lr_finder.csv";
    if (train::plot::plots_available()) {
      callbacks.push_back(std::make_shared<train::PlotCallback>(log_dir));
    }
  }
  callbacks.insert(callbacks.begin(),
                   {std::make_shared<train::LRFinderCallback>(options),
                    std::make_shared<train::GradClipCallback>(args["clip"].as<double>())});
  if (!device.is_cpu()) {
    callbacks.insert(callbacks.begin(), std::make_shared<train::DeviceCallback>(device));
  }
  train::TrainerOptions trainer_options;
  trainer_options.precision = precision_of(args, device);
  train::Trainer trainer(model, optimizer, loss_fn, callbacks, trainer_options);
  trainer.fit(options.max_iter / train_loader.size() + 1, train_loader);
  return 0;
}

int train_and_test(const cxxopts::ParseResult& args) {
  const std::string data_path =
      train::find_imdb(args.count("data") ? args["data"].as<std::string>() : "");
  if (data_path.empty()) {
    std::cerr << "imdb: no IMDB data found. Pass --data PATH (aclImdb_v1.tar.gz, the train-only "
                 "archive, or an aclImdb/ folder), set $TOADSTOOL_IMDB, or run "
                 "scripts/get_imdb.sh to download the official archive. Looked in:\n";
    for (const std::string& p : train::imdb_search_paths()) std::cerr << "  " << p << "\n";
    return 77;
  }
  if (args.count("threads")) set_num_threads(args["threads"].as<int>());
  const auto seed = args["seed"].as<uint64_t>();
  manual_seed(seed);
  // --distributed (under mpirun): every rank reads the data, builds the same
  // vocabulary and model, and trains on its share of each global batch;
  // rank 0 alone prints and writes files. On GPUs the ranks talk over NCCL,
  // each on the GPU of its local rank; on CPUs over MPI.
  Device device(args["device"].as<std::string>());
  std::shared_ptr<distributed::ProcessGroup> pg;
  if (args.count("distributed")) {
    TS_CHECK(device.is_cpu() || device.index == 0,
             "--distributed gives each rank the GPU of its local rank: pass --device cuda, not ",
             args["device"].as<std::string>());
    pg = distributed::init_process_group(device.is_cpu() ? "mpi" : "nccl");
    device = pg->device();
  }
  TS_CHECK(!args.count("zero") || pg,
           "--zero shards the optimizer across ranks: it needs --distributed");
  const bool main_rank = pg == nullptr || pg->rank() == 0;
  std::ostream quiet(nullptr);  // no buffer: what the other ranks print goes nowhere
  std::ostream& out = main_rank ? std::cout : quiet;
  if (pg) {
    out << "data parallel: " << pg->size() << " ranks, " << get_num_threads() << " threads each\n";
  }

  auto start = Clock::now();
  const std::vector<train::ImdbReview> reviews = train::read_imdb(data_path, "train");
  out << "read " << reviews.size() << " training reviews from " << data_path << " in " << std::fixed
      << std::setprecision(2) << seconds_since(start) << " s\n";

  // The fixed validation split: the first valid_size of a seeded permutation.
  const auto valid_size = args["valid-size"].as<int64_t>();
  TS_CHECK(valid_size > 0 && valid_size < static_cast<int64_t>(reviews.size()),
           "--valid-size must be in [1, ", reviews.size() - 1, "], got ", valid_size);
  Generator split_generator(seed);
  const Tensor order = randperm(static_cast<int64_t>(reviews.size()), &split_generator);
  const int64_t* o = order.data_ptr<int64_t>();
  const std::vector<int64_t> valid_rows(o, o + valid_size);
  std::vector<int64_t> train_rows(o + valid_size, o + order.numel());
  if (args.count("limit")) {
    train_rows.resize(std::min(train_rows.size(), args["limit"].as<size_t>()));
  }

  const std::string out_dir = args["out"].as<std::string>();
  std::filesystem::create_directories(out_dir);
  // Which reviews validate, as (label, id) pairs: what a comparison run (the
  // PyTorch twin, examples/imdb/pytorch_twin.py) needs to use the same split.
  Json split = Json::array();
  for (int64_t r : valid_rows) {
    split.push_back({reviews[static_cast<size_t>(r)].label, reviews[static_cast<size_t>(r)].id});
  }
  if (main_rank) write_file_atomic(out_dir + "/validation_split.json", split.dump() + "\n");
  const std::string vocabulary_path = out_dir + "/vocabulary.json";
  start = Clock::now();
  std::vector<std::string> train_texts;
  train_texts.reserve(train_rows.size());
  for (int64_t r : train_rows) train_texts.push_back(reviews[static_cast<size_t>(r)].text);
  // --pretrained: the language model's vocabulary, so that its embedding
  // rows mean the same words here.
  const std::string pretrained =
      args.count("pretrained") ? args["pretrained"].as<std::string>() : "";
  const train::Vocabulary vocabulary =
      !pretrained.empty()
          ? train::Vocabulary::load(pretrained + "/vocabulary.json")
          : train::Vocabulary::build(train_texts, {.max_size = args["vocab-size"].as<int64_t>(),
                                                   .min_count = args["min-count"].as<int64_t>()});
  if (main_rank) vocabulary.save(vocabulary_path);
  const Encoded train_data = encode(reviews, train_rows, vocabulary);
  const Encoded valid_data = encode(reviews, valid_rows, vocabulary);
  out << "vocabulary of " << vocabulary.size() << " tokens (" << vocabulary_path
      << "); tokenised and encoded in " << seconds_since(start) << " s\n";

  const ModelConfig config = config_from(args, vocabulary.size());
  if (main_rank) save_config(config, out_dir + "/model.json");
  const auto batch_size = args["batch-size"].as<int64_t>();
  auto train_set =
      std::make_shared<train::SequenceDataset>(train_data.ids, train_data.labels, config.sequence);
  // Length-bucketed global batches of batch_size; with N ranks each takes
  // batch_size / N reviews of every one (the same batches as one process).
  const int64_t ranks = pg ? pg->size() : 1;
  TS_CHECK(batch_size % ranks == 0, "--batch-size ", batch_size, " must divide by the ", ranks,
           " ranks");
  std::shared_ptr<train::Sampler> sampler =
      std::make_shared<train::BucketSampler>(train_set->lengths(), batch_size, seed);
  if (pg) {
    sampler = std::make_shared<train::ShardedBatchSampler>(sampler, batch_size, ranks, pg->rank());
  }
  train::DataLoader train_loader(train_set, {.batch_size = batch_size / ranks, .sampler = sampler});
  train::DataLoader valid_loader = sorted_loader(valid_data, config.sequence, 128, pg.get());

  auto model = std::make_shared<nn::TransformerClassifier>(config.model);
  if (!pretrained.empty()) out << start_from_language_model(*model, pretrained) << "\n";
  // The model moves before the optimizer is built; DeviceCallback moves each batch.
  model->to(device);
  // What the trainer runs: the model, or its data-parallel wrapper (rank 0's
  // weights everywhere, gradients averaged during backward); with --zero the
  // model itself and ZeRO-1 (gradients averaged at the step, the AdamW state
  // sharded across the ranks).
  const bool zero = args.count("zero") != 0;
  std::shared_ptr<nn::UnaryModule> trained = model;
  if (pg && !zero) trained = std::make_shared<distributed::DistributedDataParallel>(model, pg);
  optim::AdamWOptions adam;
  adam.lr = args["lr"].as<double>();
  adam.weight_decay = args["weight-decay"].as<double>();
  std::shared_ptr<optim::Optimizer> optimizer;
  if (zero) {
    optimizer = std::make_shared<distributed::ZeroRedundancyOptimizer>(
        model->parameters(), pg, [adam](std::vector<optim::ParamGroup> groups) {
          return std::make_unique<optim::AdamW>(std::move(groups), adam);
        });
  } else {
    optimizer = std::make_shared<optim::AdamW>(model->parameters(), adam);
  }
  const auto epochs = args["epochs"].as<int64_t>();
  auto schedule = std::make_shared<optim::OneCycleLR>(
      *optimizer, optim::OneCycleLROptions{.max_lr = {adam.lr},
                                           .epochs = epochs,
                                           .steps_per_epoch = train_loader.size(),
                                           .pct_start = args["warmup"].as<double>()});
  CrossEntropyOptions loss_options;
  loss_options.label_smoothing = args["label-smoothing"].as<double>();
  auto loss_fn = std::make_shared<nn::CrossEntropyLoss>(loss_options);
  if (args.count("find-lr"))
    return find_lr(args, trained, optimizer, loss_fn, train_loader, device);

  train::CheckpointOptions checkpoint_options;
  checkpoint_options.resume = args.count("resume") > 0;
  std::vector<std::shared_ptr<train::Callback>> callbacks = {
      std::make_shared<train::AccuracyScorerCallback>(),
      std::make_shared<train::GradClipCallback>(args["clip"].as<double>()),
      std::make_shared<train::LRSchedulerCallback>(schedule, "step"),
      std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions{
          .patience = args["patience"].as<int64_t>(), .restore_best_weights = true}),
  };
  // --profile: a table of each epoch's stage and op-kind times and MFU
  // (first, so that TensorBoard's events get the epoch's profile).
  if (args.count("profile"))
    callbacks.insert(callbacks.begin(), std::make_shared<train::ProfileCallback>());
  // --log-dir: the CSV log, TensorBoard events and charts there; without
  // it, the CSV log in --out as before.
  if (args.count("log-dir")) {
    for (auto& callback : train::log_dir_callbacks(args["log-dir"].as<std::string>()))
      callbacks.push_back(std::move(callback));
  } else {
    callbacks.push_back(std::make_shared<train::CSVLogger>(out_dir + "/log.csv"));
  }
  callbacks.push_back(
      std::make_shared<train::CheckpointCallback>(out_dir + "/checkpoints", checkpoint_options));
  callbacks.push_back(std::make_shared<train::MonitorCallback>());
  if (!device.is_cpu())
    callbacks.insert(callbacks.begin(), std::make_shared<train::DeviceCallback>(device));
  train::Trainer trainer(trained, optimizer, loss_fn, callbacks,
                         {.precision = precision_of(args, device), .process_group = pg});
  out << model->summary() << "\n" << trainer.describe() << "\n";
  out << "precision " << trainer.options.precision << " on " << device << " (--precision "
      << args["precision"].as<std::string>();
  if (device.is_cpu()) out << "; this CPU's bfloat16 GEMM path: " << cpu_bf16_gemm();
  out << ")\n";

  start = Clock::now();
  trainer.fit(epochs, train_loader, &valid_loader);
  if (trainer.interrupted()) {
    out << "interrupted: the checkpoint in " << out_dir
        << "/checkpoints is complete; --resume continues from it\n";
    return 130;
  }
  // The validation logits, for temperature scaling (added after the fit:
  // the checkpoints' list of callbacks stays as it was).
  auto eval_logits = std::make_shared<train::BatchAccumulator>(train::Stage::eval);
  trainer.callbacks.push_back(eval_logits);
  const double valid_loss = trainer.eval(valid_loader);
  const double valid_accuracy = trainer.score;
  out << "trained in " << seconds_since(start) << " s; best weights: validation loss "
      << std::setprecision(4) << valid_loss << ", accuracy " << valid_accuracy << "\n";
  if (!pg) {  // data parallel: each rank holds only its share of the logits
    const train::TemperatureFit fit =
        train::fit_temperature(eval_logits->predictions(), eval_logits->targets());
    out << "calibration (validation): temperature " << fit.temperature << ", ECE " << fit.ece_before
        << " -> " << fit.ece_after << ", NLL " << fit.nll_before << " -> " << fit.nll_after << "\n";
  }

  const std::string test_path = args.count("test") ? args["test"].as<std::string>()
                                : train::imdb_has_split(data_path, "test") ? data_path
                                                                           : "";
  if (test_path.empty()) {
    out << "no test split in " << data_path << " (pass --test PATH to score one)\n";
  } else {
    const auto test = train::read_imdb(test_path, "test");
    train::DataLoader test_loader = sorted_loader(encode(test, all_rows(test.size()), vocabulary),
                                                  config.sequence, 128, pg.get());
    const double test_loss = trainer.eval(test_loader);
    out << "test: loss " << test_loss << ", accuracy " << trainer.score << "\n";
  }
  const auto min_accuracy = args["min-accuracy"].as<double>();
  if (valid_accuracy < min_accuracy) {
    if (main_rank)
      std::cerr << "validation accuracy " << valid_accuracy << " is below --min-accuracy "
                << min_accuracy << "\n";
    return 1;
  }
  return 0;
}

// --predict: each text (the flag's value, or each line of standard input
// for "-") with its probability of being a positive review.
int predict(const cxxopts::ParseResult& args) {
  const std::string out_dir = args["out"].as<std::string>();
  const train::Vocabulary vocabulary = train::Vocabulary::load(out_dir + "/vocabulary.json");
  ModelConfig config = load_config(out_dir + "/model.json");
  config.model.dropout = 0;
  nn::TransformerClassifier model(config.model);
  const std::string checkpoints = out_dir + "/checkpoints";
  std::string folder = train::best_checkpoint(checkpoints);
  if (folder.empty()) folder = train::latest_checkpoint(checkpoints);
  TS_CHECK(!folder.empty(), "no checkpoint in ", checkpoints, " (train a model first)");
  train::load_checkpoint_weights(folder, model);
  const Device device(args["device"].as<std::string>());
  model.to(device);
  model.eval();

  std::vector<std::string> texts;
  const std::string text = args["predict"].as<std::string>();
  if (text == "-") {
    for (std::string line; std::getline(std::cin, line);) texts.push_back(line);
  } else {
    texts.push_back(text);
  }
  NoGradGuard no_grad;
  for (const std::string& t : texts) {
    std::vector<int64_t> ids = vocabulary.encode(t);
    if (ids.empty()) {
      std::cout << "nan\t" << t << "\n";  // nothing to classify
      continue;
    }
    const train::SequenceDataset one({ids}, {}, config.sequence);
    const Tensor logits = model.forward(one.get_batch({0}).x.to(device));  // [1, 2]
    const double positive = softmax(logits, 1).select(1, 1).item<double>();
    std::cout << std::fixed << std::setprecision(4) << positive << "\t" << t << "\n";
  }
  return 0;
}

// The command line; each flag's default is the tuned recipe (docs/imdb.md).
cxxopts::Options make_options() {
  cxxopts::Options options("imdb",
                           "Trains a Transformer on IMDB reviews with the Toadstool "
                           "trainer, or classifies text with a trained one");
  auto add = options.add_options();
  add("data",
      "the IMDB data: aclImdb_v1.tar.gz, the train-only archive or an aclImdb/ folder (default: "
      "$TOADSTOOL_IMDB, then the usual places)",
      cxxopts::value<std::string>());
  add("test",
      "an archive or folder with test/pos and test/neg to score the final model on "
      "(default: the data's own test split, if it has one)",
      cxxopts::value<std::string>());
  add("out", "folder for the vocabulary, model.json, checkpoints and log.csv",
      cxxopts::value<std::string>()->default_value("out/imdb"));
  add("log-dir",
      "folder for log.csv, TensorBoard events and charts (loss.png...; default: log.csv in "
      "--out)",
      cxxopts::value<std::string>());
  add("profile", "print where each epoch's training time goes (stages, op kinds) and the MFU");
  add("resume", "continue from the newest checkpoint in --out");
  add("pretrained",
      "start the embedding and encoder from the language model examples/imdb_lm wrote to this "
      "folder (its vocabulary too: --vocab-size and --min-count are not used)",
      cxxopts::value<std::string>());
  add("find-lr",
      "run the learning-rate range test instead of training and print its suggestion (with "
      "--log-dir: lr_finder.csv and lr_finder.png there)");
  add("predict", "classify this text (\"-\": each line of standard input) with the model in --out",
      cxxopts::value<std::string>());
  add("epochs", "maximum epochs (early stopping may end sooner)",
      cxxopts::value<int64_t>()->default_value("2"));
  add("batch-size", "training batch size", cxxopts::value<int64_t>()->default_value("32"));
  add("lr", "AdamW peak learning rate (one-cycle schedule)",
      cxxopts::value<double>()->default_value("1e-3"));
  add("warmup", "fraction of the steps spent warming the learning rate up",
      cxxopts::value<double>()->default_value("0.1"));
  add("weight-decay", "AdamW weight decay", cxxopts::value<double>()->default_value("0.05"));
  add("label-smoothing", "cross-entropy label smoothing",
      cxxopts::value<double>()->default_value("0"));
  add("clip", "gradient norm clipping threshold", cxxopts::value<double>()->default_value("1.0"));
  add("dropout", "dropout in the model", cxxopts::value<double>()->default_value("0.2"));
  add("token-dropout", "probability that training replaces a word by <unk>",
      cxxopts::value<double>()->default_value("0.1"));
  add("patience", "epochs without a better validation accuracy before stopping",
      cxxopts::value<int64_t>()->default_value("2"));
  add("vocab-size", "vocabulary size, <pad> and <unk> included",
      cxxopts::value<int64_t>()->default_value("20000"));
  add("min-count", "fewest occurrences for a token to get an id",
      cxxopts::value<int64_t>()->default_value("2"));
  add("max-len", "tokens kept per review", cxxopts::value<int64_t>()->default_value("400"));
  add("truncation", "which tokens a long review keeps: head or head_tail",
      cxxopts::value<std::string>()->default_value("head"));
  add("d-model", "model width", cxxopts::value<int64_t>()->default_value("128"));
  add("heads", "attention heads", cxxopts::value<int64_t>()->default_value("4"));
  add("layers", "encoder layers", cxxopts::value<int64_t>()->default_value("2"));
  add("ff", "feed-forward width", cxxopts::value<int64_t>()->default_value("512"));
  add("pooling", "mean or cls", cxxopts::value<std::string>()->default_value("mean"));
  add("bigrams", "hashed bigram embedding buckets beside the token embedding (0: none)",
      cxxopts::value<int64_t>()->default_value("1048576"));
  add("bigram-dim",
      "width of the bigram vectors, projected to --d-model when narrower (0: d-model)",
      cxxopts::value<int64_t>()->default_value("16"));
  add("valid-size", "training reviews held out for validation",
      cxxopts::value<int64_t>()->default_value("2500"));
  add("limit", "train on at most this many reviews (quick runs, tests)", cxxopts::value<size_t>());
  add("threads", "compute threads (default: all cores; per rank with --distributed)",
      cxxopts::value<int>());
  add("distributed",
      "data parallel under mpirun: each rank trains on batch-size / N reviews of every batch "
      "(scripts/imdb_distributed.sh)");
  add("zero",
      "with --distributed: ZeRO-1, the AdamW state sharded across the ranks "
      "(ZeroRedundancyOptimizer), instead of DistributedDataParallel");
  add("device",
      "train (or --predict) on cpu or cuda[:N] (with --distributed: cuda, each rank on the GPU "
      "of its local rank, over NCCL)",
      cxxopts::value<std::string>()->default_value("cpu"));
  add("precision",
      "auto, 32, bf16-mixed or 16-mixed (docs/mixed_precision.md); auto: bf16-mixed where this "
      "CPU multiplies bfloat16 faster than float32 (AMX or AVX512-BF16), else 32",
      cxxopts::value<std::string>()->default_value("auto"));
  add("seed", "seed of the split, the shuffling, init and dropout",
      cxxopts::value<uint64_t>()->default_value("0"));
  add("min-accuracy", "exit with 1 when the validation accuracy is lower",
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
      std::cerr << "imdb: " << error.what() << "\n" << options.help() << "\n";
      return 2;
    }
    if (args.count("help")) {
      std::cout << options.help() << "\n";
      return 0;
    }
    return args.count("predict") ? predict(args) : train_and_test(args);
  } catch (const std::exception& error) {
    std::cerr << "imdb: " << error.what() << "\n";
    return 1;
  } catch (...) {
    return 1;
  }
}
