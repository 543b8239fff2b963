#pragma once
// Kernel profiling: while it records, every call through a device's kernel
// table (kernels/backend.h, reached through tensor/dispatch.h) is timed and
// its matrix FLOPs counted, per table entry: "gemm", "attention_backward",
// "elementwise", ... These are the op kinds a profile reports
// (train/callbacks/profile.h):
//
//   start_kernel_profile();
//   model->forward(x).sum().backward();
//   stop_kernel_profile();
//   for (const KernelProfileEntry& e : kernel_profile()) ...   // slowest first
//
// FLOPs are counted for the matrix products only, as model FLOPs
// utilisation counts them (2 per multiply-add): gemm's batch x 2MNK, and
// attention's two products forward (q k^T and p v) and four backward (of
// q, k, v and the scores), over the query-key pairs it keeps (about half
// with a causal mask), not counting the scores the backward recomputes.
// Element-wise kernels, norms, softmax, losses and optimizer steps count 0:
// their time is listed, their arithmetic is not model FLOPs.
//
// Times are wall times of the calls. A CUDA kernel runs asynchronously, so
// while recording every call on a GPU waits for the device to finish
// (cuda_synchronize), which makes the times true and the run slower.
// Calls from every thread are recorded (a DataLoader's workers too). Off,
// the cost is one relaxed atomic load per kernel call.
#include <cstdint>
#include <string>
#include <vector>

namespace toadstool {

struct KernelProfileEntry {
  std::string kernel;  // the table entry's name
  int64_t calls = 0;
  double seconds = 0;
  double flops = 0;  // matrix FLOPs (0 for the other kernels)
};

void start_kernel_profile();
void stop_kernel_profile();
bool kernel_profile_recording();
// What was recorded since the last reset, slowest kernel first.
std::vector<KernelProfileEntry> kernel_profile();
void reset_kernel_profile();

namespace detail {
bool kernel_profile_on();
// Adds one call of `kernel` (a string literal: the table entry's name).
void record_kernel_call(const char* kernel, double seconds, double flops);
}  // namespace detail

}  // namespace toadstool
