// The CPU's element-wise entries: kernels/elementwise_dispatch.h over the
// loop of kernels/cpu/loops.h.
#include "toadstool/kernels/cpu/elementwise.h"

#include "toadstool/kernels/cpu/loops.h"
#include "toadstool/kernels/elementwise_dispatch.h"

namespace toadstool::kernels::cpu {

namespace {

struct CpuLoop {
  template <class F, class Out, class... In>
  static void run(const char* /*kernel*/, const StridedPlan& plan, const F& f, Out* out,
                  const In*... in) {
    cpu::elementwise(plan, f, out, in...);
  }
};

}  // namespace

void elementwise(const ElementwiseCall& call, const StridedPlan& plan) {
  elementwise_dispatch::elementwise<CpuLoop>(call, plan);
}

void convert(DType to, DType from, const StridedPlan& plan, void* out, const void* in) {
  elementwise_dispatch::convert<CpuLoop>(to, from, plan, out, in);
}

}  // namespace toadstool::kernels::cpu
