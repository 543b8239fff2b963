// A small causal language model trained on the IMDB reviews' text: the
// next word of a review from the words before it. It prints the next-word
// loss falling and text sampled from a prompt, and writes a model whose
// embedding and encoder the IMDB classifier can start from
// (`imdb --pretrained OUT`).
//
//   reviews (archive or folder) -> word tokens -> vocabulary ids (training reviews only)
//   -> every review's ids, end to end, cut into blocks of block + 1 tokens
//   -> x = block[0 .. block), y = block[1 .. block]  [B, block] int64 each
//   -> TransformerModel (causal encoder, tied output) -> logits [B, block, V]
//   -> cross-entropy of every position against the next token
//
//   build/release/examples/imdb_lm/imdb_lm --limit 5000 --epochs 1
//   build/release/examples/imdb_lm/imdb_lm --out out/imdb_lm --generate "this movie is"
//   build/release/examples/imdb/imdb --pretrained out/imdb_lm
//
// --out holds vocabulary.json, model.json (the architecture),
// language_model.safetensors (the weights, PyTorch's names) and log.csv.
//
// Exit codes: 0 done, 1 an error or --max-loss not reached, 2 bad flags,
// 77 no data found.
#include <algorithm>
#include <cmath>
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

// Cross-entropy of logits [B, L, V] against the next tokens [B, L].
class NextTokenLoss : public nn::Loss {
 public:
  NextTokenLoss() : nn::Loss("NextTokenLoss") {}
  Tensor forward(const Tensor& logits, const Tensor& next) override {
    return cross_entropy(logits.reshape({-1, logits.size(2)}), next.reshape({-1}));
  }
};

nn::TransformerModelOptions model_options(const cxxopts::ParseResult& args, int64_t vocab_size) {
  nn::TransformerModelOptions o;
  o.vocab_size = vocab_size;
  o.d_model = args["d-model"].as<int64_t>();
  o.nhead = args["heads"].as<int64_t>();
  o.num_encoder_layers = args["layers"].as<int64_t>();
  o.dim_feedforward = args["ff"].as<int64_t>();
  o.dropout = args["dropout"].as<double>();
  o.max_len = args["block"].as<int64_t>();
  o.causal = true;
  o.tie_weights = true;
  return o;
}

Json to_json(const nn::TransformerModelOptions& o) {
  return {{"vocab_size", o.vocab_size},
          {"d_model", o.d_model},
          {"nhead", o.nhead},
          {"num_layers", o.num_encoder_layers},
          {"dim_feedforward", o.dim_feedforward},
          {"max_len", o.max_len}};
}

nn::TransformerModelOptions load_model_options(const std::string& path) {
  std::ifstream in(path);
  TS_CHECK(in.good(), "cannot open ", path, " (train a model first, with the same --out)");
  try {
    const Json j = Json::parse(in);
    nn::TransformerModelOptions o;
    o.vocab_size = j.at("vocab_size").get<int64_t>();
    o.d_model = j.at("d_model").get<int64_t>();
    o.nhead = j.at("nhead").get<int64_t>();
    o.num_encoder_layers = j.at("num_layers").get<int64_t>();
    o.dim_feedforward = j.at("dim_feedforward").get<int64_t>();
    o.max_len = j.at("max_len").get<int64_t>();
    o.dropout = 0;
    o.causal = true;
    o.tie_weights = true;
    return o;
  } catch (const Json::exception& e) {
    throw Error(path + ": not a model configuration: " + e.what());
  }
}

// The reviews' ids end to end, cut into [N, block + 1] windows (the tail
// that does not fill one is dropped): x [N, block], y = x shifted by one.
std::shared_ptr<train::TensorDataset> blocks(const std::vector<std::vector<int64_t>>& reviews,
                                             int64_t block) {
  std::vector<int64_t> stream;
  for (const auto& ids : reviews) stream.insert(stream.end(), ids.begin(), ids.end());
  const int64_t n = static_cast<int64_t>(stream.size()) / (block + 1);
  TS_CHECK(n > 0, "imdb_lm: ", stream.size(), " tokens do not fill one block of ", block + 1);
  stream.resize(static_cast<size_t>(n * (block + 1)));
  const Tensor windows = from_vector<int64_t>(stream).view({n, block + 1});
  return std::make_shared<train::TensorDataset>(windows.narrow(1, 0, block).contiguous(),
                                                windows.narrow(1, 1, block).contiguous());
}

// Continues `prompt` by `count` words, each drawn from the model's next-word
// distribution at `temperature`, among the top_k most likely (never <pad>
// or <unk>).
std::string generate(nn::TransformerModel& model, const train::Vocabulary& vocabulary,
                     const std::string& prompt, int64_t count, double temperature, int64_t top_k,
                     Generator& generator) {
  const Device device = model.parameters().front().device();
  std::vector<int64_t> ids = vocabulary.encode(prompt);
  TS_CHECK(!ids.empty(), "imdb_lm: the prompt '", prompt, "' has no words");
  NoGradGuard no_grad;
  std::string text = prompt;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t context =
        std::min<int64_t>(static_cast<int64_t>(ids.size()), model.options.max_len);
    const Tensor input = from_vector<int64_t>(std::vector<int64_t>(ids.end() - context, ids.end()))
                             .view({1, context})
                             .to(device);
    const Tensor last = model(input).select(1, context - 1).squeeze(0);  // [V]
    const Tensor host = last.to(kFloat64).to(kCPU).contiguous();
    std::vector<double> logits(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
    logits[0] = logits[1] = -INFINITY;  // <pad>, <unk>
    std::vector<size_t> order(logits.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    const size_t keep = std::min<size_t>(static_cast<size_t>(top_k), order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(),
                      [&](size_t a, size_t b) { return logits[a] > logits[b]; });
    std::vector<double> weights(keep);
    double total = 0;
    for (size_t k = 0; k < keep; ++k) {
      weights[k] = std::exp((logits[order[k]] - logits[order[0]]) / temperature);
      total += weights[k];
    }
    double draw = rand({1}, kFloat64, &generator).item<double>() * total;
    size_t pick = 0;
    while (pick + 1 < keep && (draw -= weights[pick]) > 0) ++pick;
    ids.push_back(static_cast<int64_t>(order[pick]));
    text += " " + vocabulary.token(ids.back());
  }
  return text;
}

// The mean next-word loss over `loader` (dropout off), on the model's device.
double evaluate(nn::TransformerModel& model, NextTokenLoss& loss_fn, train::DataLoader& loader) {
  NoGradGuard no_grad;
  model.eval();
  const Device device = model.parameters().front().device();
  double total = 0;
  int64_t batches = 0;
  for (const train::Batch& batch : loader) {
    total += loss_fn(model(batch.x.to(device)), batch.y.to(device)).item<double>();
    ++batches;
  }
  model.train();
  return total / static_cast<double>(std::max<int64_t>(batches, 1));
}

int train_language_model(const cxxopts::ParseResult& args) {
  const std::string data_path =
      train::find_imdb(args.count("data") ? args["data"].as<std::string>() : "");
  if (data_path.empty()) {
    std::cerr << "imdb_lm: no IMDB data found. Pass --data PATH (aclImdb_v1.tar.gz, the "
                 "train-only archive, or an aclImdb/ folder) or set $TOADSTOOL_IMDB.\n";
    return 77;
  }
  if (args.count("threads")) set_num_threads(args["threads"].as<int>());
  const auto seed = args["seed"].as<uint64_t>();
  manual_seed(seed);
  const std::vector<train::ImdbReview> reviews = train::read_imdb(data_path, "train");

  // A seeded split of the reviews: the first valid_size validate.
  const auto valid_size = args["valid-size"].as<int64_t>();
  TS_CHECK(valid_size > 0 && valid_size < static_cast<int64_t>(reviews.size()),
           "--valid-size must be in [1, ", reviews.size() - 1, "], got ", valid_size);
  Generator split_generator(seed);
  const Tensor order = randperm(static_cast<int64_t>(reviews.size()), &split_generator);
  const int64_t* o = order.data_ptr<int64_t>();
  std::vector<int64_t> train_rows(o + valid_size, o + order.numel());
  if (args.count("limit")) {
    train_rows.resize(std::min(train_rows.size(), args["limit"].as<size_t>()));
  }
  std::vector<std::string> train_texts, valid_texts;
  for (int64_t r : train_rows) train_texts.push_back(reviews[static_cast<size_t>(r)].text);
  for (int64_t i = 0; i < valid_size; ++i)
    valid_texts.push_back(reviews[static_cast<size_t>(o[i])].text);
  const train::Vocabulary vocabulary = train::Vocabulary::build(
      train_texts,
      {.max_size = args["vocab-size"].as<int64_t>(), .min_count = args["min-count"].as<int64_t>()});
  auto encode_all = [&vocabulary](const std::vector<std::string>& texts) {
    std::vector<std::vector<int64_t>> ids;
    ids.reserve(texts.size());
    for (const std::string& text : texts) ids.push_back(vocabulary.encode(text));
    return ids;
  };
  const auto block = args["block"].as<int64_t>();
  const auto train_set = blocks(encode_all(train_texts), block);
  const auto valid_set = blocks(encode_all(valid_texts), block);
  std::cout << train_texts.size() << " training reviews: " << train_set->size() << " blocks of "
            << block << " tokens; " << valid_size << " validation reviews: " << valid_set->size()
            << " blocks; vocabulary of " << vocabulary.size() << " tokens\n";

  const std::string out_dir = args["out"].as<std::string>();
  std::filesystem::create_directories(out_dir);
  const nn::TransformerModelOptions options = model_options(args, vocabulary.size());
  vocabulary.save(out_dir + "/vocabulary.json");
  write_file_atomic(out_dir + "/model.json", to_json(options).dump(2) + "\n");

  // The model moves before the optimizer is built; DeviceCallback moves each batch.
  const Device device(args["device"].as<std::string>());
  auto model = std::make_shared<nn::TransformerModel>(options);
  model->to(device);
  optim::AdamWOptions adam;
  adam.lr = args["lr"].as<double>();
  adam.weight_decay = args["weight-decay"].as<double>();
  auto optimizer = std::make_shared<optim::AdamW>(model->parameters(), adam);
  const auto batch_size = args["batch-size"].as<int64_t>();
  train::DataLoader train_loader(train_set,
                                 {.batch_size = batch_size, .shuffle = true, .seed = seed});
  train::DataLoader valid_loader(valid_set, {.batch_size = batch_size});
  const auto epochs = args["epochs"].as<int64_t>();
  auto schedule = std::make_shared<optim::OneCycleLR>(
      *optimizer, optim::OneCycleLROptions{.max_lr = {adam.lr},
                                           .epochs = epochs,
                                           .steps_per_epoch = train_loader.size(),
                                           .pct_start = 0.1});
  auto loss_fn = std::make_shared<NextTokenLoss>();
  std::vector<std::shared_ptr<train::Callback>> callbacks = {
      std::make_shared<train::GradClipCallback>(1.0),
      std::make_shared<train::LRSchedulerCallback>(schedule, "step"),
      std::make_shared<train::MonitorCallback>(),
  };
  if (args.count("log-dir")) {
    for (auto& callback : train::log_dir_callbacks(args["log-dir"].as<std::string>()))
      callbacks.push_back(std::move(callback));
  } else {
    callbacks.push_back(std::make_shared<train::CSVLogger>(out_dir + "/log.csv"));
  }
  if (!device.is_cpu()) {
    callbacks.insert(callbacks.begin(), std::make_shared<train::DeviceCallback>(device));
  }
  train::Trainer trainer(model, optimizer, loss_fn, callbacks);

  Generator sampler(seed);
  const std::string prompt = args["prompt"].as<std::string>();
  const auto words = args["words"].as<int64_t>();
  const auto temperature = args["temperature"].as<double>();
  const auto top_k = args["top-k"].as<int64_t>();
  const double loss_before = evaluate(*model, *loss_fn, valid_loader);
  std::cout << std::fixed << std::setprecision(3) << "validation next-word loss before training "
            << loss_before << " (perplexity " << std::exp(loss_before) << ")\n";
  trainer.fit(epochs, train_loader, &valid_loader);
  const double loss_after = evaluate(*model, *loss_fn, valid_loader);
  std::cout << "validation next-word loss after " << epochs << " epochs " << loss_after
            << " (perplexity " << std::exp(loss_after) << ")\n";
  model->eval();
  for (int i = 0; i < 3; ++i) {
    std::cout << "sample: "
              << generate(*model, vocabulary, prompt, words, temperature, top_k, sampler) << "\n";
  }
  TensorDict on_cpu;
  for (const auto& [name, tensor] : model->state_dict()) on_cpu.insert(name, tensor.to(kCPU));
  save_safetensors(out_dir + "/language_model.safetensors", on_cpu);
  std::cout << "wrote " << out_dir << "/language_model.safetensors (imdb --pretrained " << out_dir
            << " starts the classifier from its embedding and encoder)\n";
  const auto max_loss = args["max-loss"].as<double>();
  if (loss_after > max_loss) {
    std::cerr << "validation loss " << loss_after << " is above --max-loss " << max_loss << "\n";
    return 1;
  }
  return 0;
}

// --generate: continue a prompt with the model in --out.
int generate_only(const cxxopts::ParseResult& args) {
  const std::string out_dir = args["out"].as<std::string>();
  const train::Vocabulary vocabulary = train::Vocabulary::load(out_dir + "/vocabulary.json");
  nn::TransformerModel model(load_model_options(out_dir + "/model.json"));
  model.load_state_dict(load_safetensors(out_dir + "/language_model.safetensors"));
  model.eval();
  Generator sampler(args["seed"].as<uint64_t>());
  std::cout << generate(model, vocabulary, args["generate"].as<std::string>(),
                        args["words"].as<int64_t>(), args["temperature"].as<double>(),
                        args["top-k"].as<int64_t>(), sampler)
            << "\n";
  return 0;
}

cxxopts::Options make_options() {
  cxxopts::Options options("imdb_lm",
                           "Trains a small causal language model on the IMDB reviews, or "
                           "continues a prompt with a trained one");
  auto add = options.add_options();
  add("data",
      "the IMDB data: aclImdb_v1.tar.gz, the train-only archive or an aclImdb/ folder (default: "
      "$TOADSTOOL_IMDB, then the usual places)",
      cxxopts::value<std::string>());
  add("out", "folder for vocabulary.json, model.json, language_model.safetensors and log.csv",
      cxxopts::value<std::string>()->default_value("out/imdb_lm"));
  add("log-dir", "folder for log.csv, TensorBoard events and charts (default: log.csv in --out)",
      cxxopts::value<std::string>());
  add("generate", "continue this prompt with the model in --out instead of training",
      cxxopts::value<std::string>());
  add("epochs", "training epochs", cxxopts::value<int64_t>()->default_value("1"));
  add("batch-size", "blocks per batch", cxxopts::value<int64_t>()->default_value("32"));
  add("block", "tokens per training block (the context)",
      cxxopts::value<int64_t>()->default_value("128"));
  add("lr", "AdamW peak learning rate (one-cycle schedule)",
      cxxopts::value<double>()->default_value("1e-3"));
  add("weight-decay", "AdamW weight decay", cxxopts::value<double>()->default_value("0.01"));
  add("dropout", "dropout in the model", cxxopts::value<double>()->default_value("0.1"));
  add("vocab-size", "vocabulary size, <pad> and <unk> included",
      cxxopts::value<int64_t>()->default_value("20000"));
  add("min-count", "fewest occurrences for a token to get an id",
      cxxopts::value<int64_t>()->default_value("2"));
  add("d-model", "model width (the classifier's, to start it from this model)",
      cxxopts::value<int64_t>()->default_value("128"));
  add("heads", "attention heads", cxxopts::value<int64_t>()->default_value("4"));
  add("layers", "encoder layers", cxxopts::value<int64_t>()->default_value("2"));
  add("ff", "feed-forward width", cxxopts::value<int64_t>()->default_value("512"));
  add("valid-size",
      "reviews held out for validation (with imdb's --seed and --valid-size, the same reviews: "
      "the classifier's validation text is never read)",
      cxxopts::value<int64_t>()->default_value("2500"));
  add("limit", "train on at most this many reviews", cxxopts::value<size_t>());
  add("prompt", "the start of the sampled text after training",
      cxxopts::value<std::string>()->default_value("this movie is"));
  add("words", "words sampled after the prompt", cxxopts::value<int64_t>()->default_value("30"));
  add("temperature", "sampling temperature", cxxopts::value<double>()->default_value("0.8"));
  add("top-k", "sample among this many most likely words",
      cxxopts::value<int64_t>()->default_value("40"));
  add("device", "train on cpu or cuda[:N]", cxxopts::value<std::string>()->default_value("cpu"));
  add("threads", "compute threads (default: all cores)", cxxopts::value<int>());
  add("seed", "seed of the split, the shuffling, init, dropout and sampling",
      cxxopts::value<uint64_t>()->default_value("0"));
  add("max-loss", "exit with 1 when the final validation loss is higher",
      cxxopts::value<double>()->default_value("1e9"));
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
      std::cerr << "imdb_lm: " << error.what() << "\n" << options.help() << "\n";
      return 2;
    }
    if (args.count("help")) {
      std::cout << options.help() << "\n";
      return 0;
    }
    return args.count("generate") ? generate_only(args) : train_language_model(args);
  } catch (const std::exception& error) {
    std::cerr << "imdb_lm: " << error.what() << "\n";
    return 1;
  }
}
