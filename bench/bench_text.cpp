// The IMDB text pipeline (issue 13: "tokenising all 25,000 training reviews
// takes under 3 s on one core"): the reviews read once from the data
// find_imdb() finds, then, timed, each review tokenised and encoded with a
// vocabulary built beforehand, on one thread (the argument; the text
// pipeline does not use the OpenMP team). Counter: reviews/s. Skipped (with
// a message) where no IMDB data is found.
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "toadstool/toadstool.h"

namespace toadstool::bench {

namespace {

void BM_imdb_tokenize_encode(benchmark::State& state) {
  const std::string path = train::find_imdb();
  if (path.empty()) {
    state.SkipWithError("no IMDB data (scripts/get_imdb.sh, or $TOADSTOOL_IMDB)");
    return;
  }
  std::vector<std::string> texts;
  for (train::ImdbReview& review : train::read_imdb(path, "train")) {
    texts.push_back(std::move(review.text));
  }
  const train::Vocabulary vocabulary = train::Vocabulary::build(texts);
  set_num_threads(threads_of(state, 0));
  int64_t tokens = 0;
  for (auto _ : state) {
    for (const std::string& text : texts) {
      tokens += static_cast<int64_t>(vocabulary.encode(text).size());
    }
  }
  benchmark::DoNotOptimize(tokens);
  state.counters["reviews_per_s"] = benchmark::Counter(
      static_cast<double>(texts.size() * state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

void register_text_benchmarks() {
  timed(benchmark::RegisterBenchmark("imdb_tokenize_encode", BM_imdb_tokenize_encode))->Arg(1);
}

}  // namespace toadstool::bench
