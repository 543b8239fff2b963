#include "toadstool/tensor/lstm_cell.h"

#include <initializer_list>
#include <string>

#include "toadstool/kernels/kernel_args.h"
#include "toadstool/tensor/dispatch.h"
#include "toadstool/tensor/error.h"
#include "toadstool/tensor/shape_utils.h"

namespace toadstool::native {

namespace {

// Every tensor contiguous, of `like`'s floating dtype and device, and of
// its shape ([B, 4H] or [B, H]); the mask bool [B] or undefined.
void check_step(const char* op, const Tensor& like, int64_t batch, int64_t hidden,
                std::initializer_list<const Tensor*> gates,
                std::initializer_list<const Tensor*> states, const Tensor& mask) {
  TS_CHECK(like.dtype() == kFloat32 || like.dtype() == kFloat64, op,
           ": needs float32 or float64 tensors, got ", detail::describe(like));
  auto check = [&](const Tensor& t, const Shape& shape) {
    TS_CHECK(t.defined() && t.shape() == shape && t.dtype() == like.dtype() &&
                 t.device() == like.device() && t.is_contiguous(),
             op, ": needs contiguous ", shape, " ", like.dtype(), " tensors on ", like.device(),
             ", got ", t.defined() ? detail::describe(t) : std::string("undefined"));
  };
  for (const Tensor* t : gates) check(*t, {batch, 4 * hidden});
  for (const Tensor* t : states) check(*t, {batch, hidden});
  TS_CHECK(!mask.defined() || (mask.dtype() == kBool && mask.shape() == Shape{batch} &&
                               mask.device() == like.device() && mask.is_contiguous()),
           op, ": needs a contiguous bool mask [", batch, "], got ", detail::describe(mask));
}

}  // namespace

void lstm_cell_forward(const Tensor& xproj, const Tensor& hproj, const Tensor& h_prev,
                       const Tensor& c_prev, const Tensor& mask, const Tensor& acts,
                       const Tensor& tanh_c, const Tensor& h, const Tensor& c, const Tensor& y) {
  const char* op = "lstm_cell_forward";
  detail::check_defined(h_prev, op);
  const int64_t batch = h_prev.dim() == 2 ? h_prev.size(0) : -1;
  const int64_t hidden = h_prev.dim() == 2 ? h_prev.size(1) : -1;
  check_step(op, h_prev, batch, hidden, {&xproj, &hproj, &acts},
             {&h_prev, &c_prev, &tanh_c, &h, &c, &y}, mask);
  kernels::LstmCellForward args;
  args.batch = batch;
  args.hidden = hidden;
  args.xproj = xproj.data_ptr();
  args.hproj = hproj.data_ptr();
  args.h_prev = h_prev.data_ptr();
  args.c_prev = c_prev.data_ptr();
  args.mask = mask.defined() ? mask.data_ptr<bool>() : nullptr;
  args.acts = acts.data_ptr();
  args.tanh_c = tanh_c.data_ptr();
  args.h = h.data_ptr();
  args.c = c.data_ptr();
  args.y = y.data_ptr();
  TS_KERNEL(h_prev.device(), lstm_cell_forward, h_prev.dtype(), args);
  for (const Tensor* t : {&acts, &tanh_c, &h, &c, &y}) t->bump_version();
}

void lstm_cell_backward(const Tensor& acts, const Tensor& tanh_c, const Tensor& c_prev,
                        const Tensor& mask, const Tensor& dh, const Tensor& dc, const Tensor& dy,
                        const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh_skip) {
  const char* op = "lstm_cell_backward";
  detail::check_defined(c_prev, op);
  const int64_t batch = c_prev.dim() == 2 ? c_prev.size(0) : -1;
  const int64_t hidden = c_prev.dim() == 2 ? c_prev.size(1) : -1;
  std::initializer_list<const Tensor*> states = {&tanh_c, &c_prev, &dh, &dc, &dy, &dc_prev};
  check_step(op, c_prev, batch, hidden, {&acts, &dgates}, states, mask);
  if (mask.defined()) check_step(op, c_prev, batch, hidden, {}, {&dh_skip}, mask);
  kernels::LstmCellBackward args;
  args.batch = batch;
  args.hidden = hidden;
  args.acts = acts.data_ptr();
  args.tanh_c = tanh_c.data_ptr();
  args.c_prev = c_prev.data_ptr();
  args.mask = mask.defined() ? mask.data_ptr<bool>() : nullptr;
  args.dh = dh.data_ptr();
  args.dc = dc.data_ptr();
  args.dy = dy.data_ptr();
  args.dgates = dgates.data_ptr();
  args.dc_prev = dc_prev.data_ptr();
  args.dh_skip = mask.defined() ? dh_skip.data_ptr() : nullptr;
  TS_KERNEL(c_prev.device(), lstm_cell_backward, c_prev.dtype(), args);
  for (const Tensor* t : {&dgates, &dc_prev}) t->bump_version();
  if (mask.defined()) dh_skip.bump_version();
}

}  // namespace toadstool::native
