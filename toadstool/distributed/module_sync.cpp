#include "toadstool/distributed/module_sync.h"

#include <algorithm>
#include <memory>
#include <sstream>

#include "toadstool/autograd/grad_mode.h"
#include "toadstool/tensor/factory.h"

namespace toadstool::distributed {

namespace {

// "'layers.0.weight' [4, 8] float32": what must agree across ranks. A
// frozen parameter (no requires_grad) says so: DDP buckets only the others,
// so the ranks' buckets would not pair up.
std::string describe_entry(const std::string& name, const Tensor& t, bool parameters) {
  const bool frozen = parameters && !t.requires_grad();
  return detail::concat("'", name, "' ", t.shape(), " ", t.dtype(), frozen ? " (frozen)" : "");
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every rank's text (the same on every rank): the lengths first, so that
// each rank pads its own to the longest for one all_gather of int64 codes.
// The tensors travel on the group's device and are read on the CPU.
std::vector<std::string> gather_texts(ProcessGroup& pg, const std::string& text) {
  const int64_t n = pg.size();
  const Device device = pg.device();
  Tensor length =
      full({1}, static_cast<int64_t>(text.size()), TensorOptions(kInt64).device(device));
  Tensor lengths = empty({n}, TensorOptions(kInt64).device(device));
  pg.all_gather(lengths, length)->wait();
  lengths = lengths.to(kCPU);
  const int64_t* len = lengths.data_ptr<int64_t>();
  const int64_t longest = *std::max_element(len, len + n);
  Tensor mine = zeros({longest}, kInt64);
  std::copy(text.begin(), text.end(), mine.data_ptr<int64_t>());
  mine = mine.to(device);
  Tensor all = empty({n * longest}, TensorOptions(kInt64).device(device));
  pg.all_gather(all, mine)->wait();
  all = all.to(kCPU);
  std::vector<std::string> texts(n);
  const int64_t* codes = all.data_ptr<int64_t>();
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < len[r]; ++i)
      texts[r].push_back(static_cast<char>(codes[r * longest + i]));
  }
  return texts;
}

}  // namespace

void check_same_tensors(ProcessGroup& pg, const NamedTensorList& tensors, const std::string& who,
                        const std::string& kind) {
  std::string text;
  for (const auto& [name, tensor] : tensors) {
    text += describe_entry(name, tensor, kind == "parameter") + "\n";
  }
  const std::vector<std::string> texts = gather_texts(pg, text);
  const std::vector<std::string> reference = split_lines(texts[0]);
  // Every rank scans the same texts in the same order, so every rank finds
  // the same first difference and throws the same Error.
  for (int r = 1; r < pg.size(); ++r) {
    const std::vector<std::string> lines = split_lines(texts[r]);
    const size_t common = std::min(lines.size(), reference.size());
    for (size_t i = 0; i < common; ++i) {
      TS_CHECK(lines[i] == reference[i], who, ": the ranks' models differ (seen on rank ",
               pg.rank(), "): ", kind, " #", i, " is ", reference[i], " on rank 0 but ", lines[i],
               " on rank ", r, "; every rank must build the same model");
    }
    TS_CHECK(lines.size() == reference.size(), who, ": the ranks' models differ (seen on rank ",
             pg.rank(), "): rank 0 has ", reference.size(), " ", kind, "s but rank ", r, " has ",
             lines.size(), lines.size() > reference.size() ? "; the first extra is " : "",
             lines.size() > reference.size() ? lines[common] : "",
             reference.size() > lines.size() ? "; the first missing is " : "",
             reference.size() > lines.size() ? reference[common] : "");
  }
}

void broadcast_from_rank0(ProcessGroup& pg, const std::vector<Tensor>& tensors) {
  NoGradGuard no_grad;
  // Contiguous buffers the broadcasts write: the tensors themselves, or
  // copies of the non-contiguous ones (copied back once received).
  std::vector<Tensor> buffers;
  std::vector<std::shared_ptr<Work>> works;
  buffers.reserve(tensors.size());
  for (const Tensor& t : tensors) {
    buffers.push_back(t.is_contiguous() ? t : t.contiguous());
    works.push_back(pg.broadcast(buffers.back(), 0));
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    works[i]->wait();
    if (!buffers[i].is_same(tensors[i])) tensors[i].detach().copy_(buffers[i]);
  }
}

}  // namespace toadstool::distributed
