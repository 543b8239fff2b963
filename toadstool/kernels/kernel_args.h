#pragma once
// The argument types of the kernel table (kernels/backend.h): raw pointers,
// sizes and strides, no Tensor. Front-ends in tensor/ fill them; every
// backend reads them.
#include <array>
#include <cstdint>
#include <type_traits>

#include "toadstool/kernels/dtype.h"
#include "toadstool/kernels/half.h"
#include "toadstool/kernels/host_device.h"

namespace toadstool::kernels {

// ---- element-wise -------------------------------------------------------------

// The functors of kernels/elementwise_list.h, by name.
enum class ElementwiseOp : uint8_t {
#define TOADSTOOL_ELEMENTWISE(name, Functor, signature, types) name,
#include "toadstool/kernels/elementwise_list.h"
#undef TOADSTOOL_ELEMENTWISE
};

// A functor's operand layout (T its compute type; operand 0 is the output).
enum class Signature : uint8_t {
  Nullary,       // T f()                      fill
  Unary,         // T f(T x)
  UnaryToBool,   // bool f(T x)
  Binary,        // T f(T a, T b), or with a or b a bound scalar (Bind)
  BinaryToBool,  // bool f(T a, T b), likewise
  Where,         // T f(bool condition, T a, T b)
  MaskedFill,    // T f(T x, bool mask)
};

// The compute dtypes a functor is built for.
enum class TypeSet : uint8_t {
  Float,     // float32, float64
  Floating,  // float16, bfloat16, float32, float64
  Numeric,   // int64, float32, float64
  Compute,   // bool, int64, float32, float64
  All,       // every dtype (fill)
};

inline constexpr int kMaxLoopDims = 16;
inline constexpr int kMaxOperands = 4;

// The geometry of an element-wise op over operands that all have the
// output's shape (broadcast dims have stride 0): sizes innermost first,
// size-1 dims dropped, dims merged where every operand is contiguous across
// them, and strides[k][d] in elements for operand k (0 is the output).
struct StridedPlan {
  // Only the first ndim sizes and strides of the first `operands` operands
  // are set: not zeroing the 640 bytes of arrays saves a visible share of a
  // small op's time.
  StridedPlan() {}  // NOLINT(modernize-use-equals-default): default-init the arrays

  int ndim = 0;      // at least 1 (a scalar is one dim of size 1)
  int operands = 0;  // the output and the tensor inputs
  int64_t numel = 0;
  std::array<int64_t, kMaxLoopDims> sizes;
  std::array<std::array<int64_t, kMaxLoopDims>, kMaxOperands> strides;

  bool inner_contiguous() const {
    for (int k = 0; k < operands; ++k) {
      if (strides[k][0] != 1) return false;
    }
    return true;
  }
};

// One scalar for a kernel, already checked and converted by the front-end
// for the compute dtype: floats read f, int64 and bool read i.
struct KernelScalar {
  double f = 0;
  int64_t i = 0;

  template <class T>
  T as() const {
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
      return T(static_cast<float>(f));
    else if constexpr (std::is_floating_point_v<T>)
      return static_cast<T>(f);
    else if constexpr (std::is_same_v<T, bool>)
      return i != 0;
    else
      return static_cast<T>(i);
  }
};

// A binary functor run over one tensor operand, the other a bound scalar:
// the scalar forms (t * 2, 2 - t) run as unary loops, which vectorize,
// instead of broadcasting a 0-d tensor.
enum class Bind : uint8_t { None, First, Second };

struct ElementwiseCall {
  ElementwiseOp op{};
  DType dtype = DType::Float32;  // the compute dtype T (bool operands aside)
  KernelScalar a{}, b{};         // the functor's OpScalars<T> p
  Bind bind = Bind::None;
  KernelScalar bound{};  // the bound operand, with bind
  void* out = nullptr;
  std::array<const void*, kMaxOperands - 1> in{};
};

// ---- reductions ------------------------------------------------------------------

inline constexpr int kMaxReduceDims = 16;

// The input's dims split into kept dims (one output element per index) and
// reduced dims, each listed innermost first with sizes and element strides,
// in the tensor's logical order, so that the reduced linear index is the
// row-major index over the reduced dims (argmax needs it).
struct ReduceGeometry {
  int kept_ndim = 0;
  std::array<int64_t, kMaxReduceDims> kept_sizes{};
  std::array<int64_t, kMaxReduceDims> kept_strides{};
  int reduced_ndim = 0;
  std::array<int64_t, kMaxReduceDims> reduced_sizes{};
  std::array<int64_t, kMaxReduceDims> reduced_strides{};
  int64_t outputs = 1;       // product of kept sizes
  int64_t reduce_numel = 1;  // product of reduced sizes
};

enum class ReduceKind : uint8_t {
  Sum,         // out: the input's type for floats, int64 otherwise; times `scale`
  Prod,        // likewise
  Max,         // out: the input's type
  Min,         // likewise
  Var,         // floats: with `correction`, its square root when take_sqrt
  ArgMax,      // values (the input's type) and indices (int64); ties: first
  ArgMin,      // likewise
  SumSquares,  // floats: the sum of x * x (a squared 2-norm); out: the input's type
};

struct ReduceCall {
  ReduceKind kind = ReduceKind::Sum;
  DType dtype = DType::Float32;  // the input's compute dtype; Sum: any (16-bit -> float32 out)
  ReduceGeometry geometry{};
  const void* in = nullptr;
  void* out = nullptr;
  int64_t* indices = nullptr;  // ArgMax / ArgMin only
  double scale = 1.0;          // Sum (mean passes 1 / count)
  double correction = 1.0;     // Var
  bool take_sqrt = false;      // Var
};

// ---- GEMM -------------------------------------------------------------------------

// The activation a fused Linear applies in the GEMM's epilogue
// (kernels/math.h's functors, so the values equal the separate ops').
enum class GemmActivation : uint8_t { None, Relu, GeluErf, GeluTanh };

// What the GEMM does to each element of C after alpha and beta: a fused
// Linear's out = act(x w^T + bias). With T the call's dtype:
//   pre[i, j] = C[i, j] + bias[j]   (bias null: C[i, j]; rounded to T)
//   C[i, j]   = activation(pre[i, j])
// and, when pre_activation is not null, pre is also stored there (GELU's
// backward needs it), at C's layout (ldc, stride_c).
struct GemmEpilogue {
  const void* bias = nullptr;  // [N], or null
  GemmActivation activation = GemmActivation::None;
  void* pre_activation = nullptr;

  TS_HOST_DEVICE bool any() const {
    return bias != nullptr || activation != GemmActivation::None || pre_activation != nullptr;
  }
};

// C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C, for each of
// `batch` matrices. A is stored row-major as [M, K] with leading dim lda, or
// as [K, M] when trans_a (a transposed view without a copy); B likewise as
// [K, N] or [N, K]. When beta == 0, C is not read (it may hold NaN). Matrix
// i of X starts at X + i * stride_x (a stride of 0 reuses one matrix).
struct GemmCall {
  bool trans_a = false, trans_b = false;
  int64_t batch = 1, M = 0, N = 0, K = 0;
  double alpha = 1, beta = 0;
  const void* A = nullptr;
  int64_t lda = 0, stride_a = 0;
  const void* B = nullptr;
  int64_t ldb = 0, stride_b = 0;
  void* C = nullptr;
  int64_t ldc = 0, stride_c = 0;
  GemmEpilogue epilogue;
};

// ---- convolution windows ------------------------------------------------------------

// The sliding windows of a 2-D convolution (a 1-D one is H = 1, kernel 1 x
// K), PyTorch's geometry: window (oh, ow) of channel c reads input element
// (oh * stride[0] - pad_begin[0] + kh * dilation[0], ow * stride[1] -
// pad_begin[1] + kw * dilation[1]), zero outside the input. Buffers are
// contiguous: input [batch, channels, in[0], in[1]], columns [batch,
// channels, kernel[0], kernel[1], out[0], out[1]] (im2col: [N, C K, P]).
struct ConvWindows {
  int64_t batch = 0, channels = 0;
  std::array<int64_t, 2> in{1, 1}, out{1, 1}, kernel{1, 1};
  std::array<int64_t, 2> stride{1, 1}, pad_begin{0, 0}, dilation{1, 1};
};

// A convolution at stride 1 (conv_forward, conv_backward): input [batch,
// channels, in...] and windows as above, weight [out_channels, channels /
// groups, kernel[0], kernel[1]], bias [out_channels], out [batch,
// out_channels, out[0], out[1]]; contiguous buffers.
struct ConvArgs {
  ConvWindows windows;
  int64_t out_channels = 0, groups = 1;
};

// ---- LSTM cell ------------------------------------------------------------------------

// One LSTM step's element-wise work over `batch` rows of `hidden` units, in
// PyTorch's gate order i, f, g, o (kernels/lstm_cell.h has the math,
// autograd/rnn_ops.h the op). Buffers are contiguous, [B, 4H] for gates and
// [B, H] for states; mask [B] (true = a real step of that row) or null
// (every row real). Where a row's step is not real, its state passes
// through unchanged, its output is 0 and it gets no gate gradient.
struct LstmCellForward {
  int64_t batch = 0, hidden = 0;
  const void* xproj = nullptr;   // [B, 4H]: x W_ih^T + biases
  const void* hproj = nullptr;   // [B, 4H]: h W_hh^T
  const void* h_prev = nullptr;  // [B, H]
  const void* c_prev = nullptr;  // [B, H]
  const bool* mask = nullptr;    // [B] or null
  void* acts = nullptr;          // [B, 4H] out: i, f, g, o after their activations
  void* tanh_c = nullptr;        // [B, H] out: tanh(c')
  void* h = nullptr;             // [B, H] out: the state after the step
  void* c = nullptr;             // [B, H] out
  void* y = nullptr;             // [B, H] out: the output (0 where not real)
};
struct LstmCellBackward {
  int64_t batch = 0, hidden = 0;
  const void* acts = nullptr;    // [B, 4H], as the forward wrote them
  const void* tanh_c = nullptr;  // [B, H]
  const void* c_prev = nullptr;  // [B, H]
  const bool* mask = nullptr;    // [B] or null
  const void* dh = nullptr;      // [B, H]: dL/d(the state after the step)
  const void* dc = nullptr;      // [B, H]
  const void* dy = nullptr;      // [B, H]: dL/d(the step's output)
  void* dgates = nullptr;        // [B, 4H] out: dL/d(the gates before activation)
  void* dc_prev = nullptr;       // [B, H] out: dL/dc_prev
  // [B, H] out: the part of dL/dh_prev that skips the step (dh where the
  // step is not real, else 0); dL/dh_prev = dgates W_hh + dh_skip. Unused
  // (may be null) without a mask.
  void* dh_skip = nullptr;
};

// ---- attention --------------------------------------------------------------------

// The leading (batch, head) dims of an attention call, which q, k, v, out,
// the mask and the gradients all have; head h is their row-major flattened
// index. Each operand locates its heads by its own strides over these dims
// (HeadStrides), so that the call carries no per-head arrays: a GPU kernel
// computes a head's offset itself instead of reading arrays copied from
// the host at every call.
inline constexpr int kMaxAttentionBatchDims = 8;
struct AttentionBatch {
  int ndim = 0;
  int64_t sizes[kMaxAttentionBatchDims] = {};
};
struct HeadStrides {
  int64_t strides[kMaxAttentionBatchDims] = {};  // 0 for a broadcast dim (a mask's)
};

// Fused scaled-dot-product attention, per head h of `heads` (the flattened
// leading dims, `batch`): q [L, E], k [S, E], v [S, Ev], rows at any stride,
// elements contiguous; the optional additive mask's element (i, j) at
// mask_row i + mask_col j (strides may be 0: broadcast masks).
// out = dropout(softmax(scale q k^T + mask (+ causal))) v. Algorithm and
// layout: kernels/cpu/attention.h.
//
// Elem is void in the table's call (AttentionCall: pointers of the call's
// dtype); a backend reads the same call typed, AttentionArgs<T>, through
// std::bit_cast (one layout for every Elem).
template <class Elem>
struct AttentionArgs {
  int64_t heads = 0, L = 0, S = 0, E = 0, Ev = 0;
  AttentionBatch batch;
  const Elem* q = nullptr;
  HeadStrides q_heads;  // head h of q at element head_offset(q_heads, h)
  int64_t q_row = 0;    // stride between query rows
  const Elem* k = nullptr;
  HeadStrides k_heads;
  int64_t k_row = 0;
  const Elem* v = nullptr;
  HeadStrides v_heads;
  int64_t v_row = 0;
  // out's layout, which the backward's grad_out shares: row i of head h at
  // element head_offset(out_heads, h) + i * out_row, elements contiguous
  // (the front-end lays out [B, H, L, Ev] as [B, L, H, Ev], so merging the
  // heads is a view).
  HeadStrides out_heads;
  int64_t out_row = 0;
  // The backward's gradients' layouts, likewise: row i of head h of grad_q
  // at head_offset(grad_q_heads, h) + i * grad_q_row (grad_k, grad_v
  // alike), elements contiguous, so that they may be slices of one
  // [B, L, 3E] gradient of a packed q, k, v projection (tensor/attention.h).
  HeadStrides grad_q_heads;
  int64_t grad_q_row = 0;
  HeadStrides grad_k_heads;
  int64_t grad_k_row = 0;
  HeadStrides grad_v_heads;
  int64_t grad_v_row = 0;
  const Elem* mask = nullptr;  // additive, or null
  HeadStrides mask_heads;
  int64_t mask_row = 0, mask_col = 0;
  bool causal = false;  // key j takes part in query i only when j <= i
  // CPU only (CUDA gets the query padding folded into the mask instead,
  // tensor/attention.cpp): with a mask the same for every query (mask_row
  // 0) and L == S, the queries whose key the mask hides (-inf) are skipped:
  // out rows 0, lse +inf, no gradient, as rows that see no key.
  bool skip_padded_queries = false;
  double scale = 1;
  double dropout_p = 0;  // in [0, 1)
  uint64_t seed = 0, offset = 0;
  // Optional, with dropout: one keep bit per score, [heads, L, ceil(S / 64)]
  // words (bit j % 64 of word j / 64 of row i is key j's). The forward writes
  // the bits it draws and the backward reads them instead of drawing again;
  // a backend may leave them unused (CUDA draws again: Philox is cheap there).
  uint64_t* keep_bits = nullptr;
  // CPU only (the front-end never gives it to CUDA, which refuses it):
  // self-attention over packed sequences, without padding. Sequence b (the
  // first batch dim's index) holds rows [seq_offsets[b], seq_offsets[b + 1])
  // of q, k, v, out, grad_out and the gradients (the first batch dim's
  // strides are 0 there); its queries and keys are its first
  // sequence_length(h) positions of L = S (the longest), no mask is given,
  // and no row past a sequence is read or written (its lse is +inf). The
  // dropout draws and keep bits keep their [heads, L, S] layout, as for the
  // padded batch.
  const int64_t* seq_offsets = nullptr;

  // The element offset of head h in an operand with these head strides.
  TS_HOST_DEVICE int64_t head_offset(const HeadStrides& s, int64_t h) const {
    int64_t offset = 0;
    for (int d = batch.ndim - 1; d >= 0; --d) {
      offset += (h % batch.sizes[d]) * s.strides[d];
      h /= batch.sizes[d];
    }
    return offset;
  }
  // The element offset of head h's row 0 in an operand with these head
  // strides and rows `row` apart (packed sequences start at their offset).
  int64_t head_start(const HeadStrides& s, int64_t row, int64_t h) const {
    const int64_t offset = head_offset(s, h);
    return seq_offsets == nullptr ? offset : offset + seq_offsets[sequence_of(h)] * row;
  }
  // Packed sequences: head h's sequence and its length.
  int64_t sequence_of(int64_t h) const { return h / (heads / batch.sizes[0]); }
  int64_t sequence_length(int64_t h) const {
    return seq_offsets[sequence_of(h) + 1] - seq_offsets[sequence_of(h)];
  }
};
using AttentionCall = AttentionArgs<void>;

// The words of AttentionArgs::keep_bits for one score row of S keys.
TS_HOST_DEVICE constexpr int64_t attention_keep_words(int64_t S) { return (S + 63) / 64; }

// ---- indexing ---------------------------------------------------------------------

// Geometry of gather / scatter_add: the index tensor's shape, and the
// strides of the three tensors involved (index, the indexed tensor `self`,
// and the other one: out for gather, src for scatter_add). All have
// index's number of dims; `dim` is the indexed dim.
struct IndexGeometry {
  static constexpr int kMaxDims = 16;
  int ndim = 0;
  int dim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t index_strides[kMaxDims] = {};
  int64_t self_strides[kMaxDims] = {};
  int64_t other_strides[kMaxDims] = {};
};

// ---- dropout -----------------------------------------------------------------------

// Dropout's mask, drawn rather than stored: element i is kept (and scaled by
// 1 / (1 - p)) when draw i of bernoulli(n, 1 - p) at the generator state
// (seed, offset) is 1, so the forward and the backward can each regenerate
// it, and it equals the mask a bernoulli fill with that state would give.
// 0 < p < 1.
struct DropoutMask {
  double p = 0;
  uint64_t seed = 0;
  uint64_t offset = 0;
  // Optional: one keep bit per element, ceil(n / 64) words (bit i % 64 of
  // word i / 64 is element i's). A pass that draws the mask writes them;
  // with keep_bits_drawn set, a pass reads them instead of drawing again
  // (the backward). A backend may leave them unused and draw every time (the
  // CPU uses them, CUDA draws again: Philox is cheap there). Passes over
  // part of a tensor (kernels/cpu/dropout.h) start on a word.
  uint64_t* keep_bits = nullptr;
  bool keep_bits_drawn = false;
};

// The words of DropoutMask::keep_bits for n elements.
TS_HOST_DEVICE constexpr int64_t dropout_keep_words(int64_t n) { return (n + 63) / 64; }

// ---- fused optimizer steps --------------------------------------------------------

// A step gated on the device (GradScaler's found-inf flag,
// Optimizer::step(skip_if_nonzero)): every value is read by the kernel, so
// the host never waits for the flag. Without `skip` the step is ungated.
struct StepGate {
  const float* skip = nullptr;  // non-zero: the step writes nothing but ++*skipped
  float* skipped = nullptr;     // the parameter's gated steps skipped so far
  int64_t step = 0;             // the parameter's steps so far, this one included
  // The step's number among the steps taken (not skipped), from 1.
  TS_HOST_DEVICE int64_t taken_step() const { return step - static_cast<int64_t>(*skipped); }
};

// SGD hyper-parameters for one step, as the optimizer holds them (double).
struct SgdStep {
  double lr = 0;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;
  bool first_step = false;  // the momentum buffer is created (set to d) this step
  // Gated, first_step is read on the device instead: gate.taken_step() == 1.
  StepGate gate{};
};

// Adam / AdamW hyper-parameters for one step.
struct AdamStep {
  double lr = 0;
  double beta1 = 0;
  double beta2 = 0;
  double eps = 0;
  double weight_decay = 0;
  bool decoupled = false;  // AdamW: p *= 1 - lr * wd, instead of g += wd * p
  bool amsgrad = false;
  bool maximize = false;
  int64_t step = 1;  // this step's number, counted from 1 (bias correction)
  // Gated, the bias correction uses gate.taken_step() instead of step.
  StepGate gate{};
};

// One parameter's step in a fused call over several (Optimizer::step
// makes one call per parameter group, device and dtype): its contiguous
// buffers of n elements and its hyper-parameters, which hold what is its
// own (its step number, its gate's skipped count). A backend may run the
// steps of a call in any order, or at once: they share no memory.
struct SgdStepCall {
  void* param = nullptr;
  const void* grad = nullptr;
  void* momentum_buffer = nullptr;  // null without momentum
  int64_t n = 0;
  SgdStep hp;
};

struct AdamStepCall {
  void* param = nullptr;
  const void* grad = nullptr;
  void* exp_avg = nullptr;
  void* exp_avg_sq = nullptr;
  void* max_exp_avg_sq = nullptr;  // null without AMSGrad
  int64_t n = 0;
  AdamStep hp;
};

}  // namespace toadstool::kernels
