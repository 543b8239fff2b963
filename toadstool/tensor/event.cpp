// Events (tensor/stream.h): a cudaEvent_t created at the first record, on
// the device of that stream, as PyTorch's torch.cuda.Event does; until then
// the event stands for no work (query() is true, waiting is a no-op).
#include "toadstool/kernels/streams.h"
#include "toadstool/tensor/stream.h"
#include "toadstool/tensor/stream_checks.h"

namespace toadstool {

using detail::cuda_call;

struct Event::State {
  bool timing = false;
  Device device{};
  void* event = nullptr;  // null until the first record

  explicit State(bool enable_timing) : timing(enable_timing) {}
  ~State() { kernels::cuda_event_destroy(event); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

Event::Event(bool enable_timing) : state_(std::make_shared<State>(enable_timing)) {}

bool Event::is_recorded() const { return state_->event != nullptr; }
bool Event::enable_timing() const { return state_->timing; }

void Event::record(const Stream& stream) {
  State& s = *state_;
  const Device device = stream.device();
  if (s.event == nullptr) {
    s.event = cuda_call("Event::record", device,
                        [&] { return kernels::cuda_event_create(device.index, s.timing); });
    s.device = device;
  }
  TS_CHECK(s.device == device, "Event::record: the event was created on ", s.device,
           " and cannot record a stream of ", device);
  cuda_call("Event::record", device,
            [&] { kernels::cuda_event_record(device.index, s.event, stream.handle()); });
}

void Event::record(Device device) { record(cuda_current_stream(device)); }

void Event::wait(const Stream& stream) const {
  if (state_->event == nullptr) return;
  cuda_call("Event::wait", stream.device(), [&] {
    kernels::cuda_stream_wait_event(stream.device().index, stream.handle(), state_->event);
  });
}

bool Event::query() const {
  if (state_->event == nullptr) return true;
  return cuda_call("Event::query", state_->device,
                   [&] { return kernels::cuda_event_query(state_->event); });
}

void Event::synchronize() const {
  if (state_->event == nullptr) return;
  cuda_call("Event::synchronize", state_->device,
            [&] { kernels::cuda_event_synchronize(state_->event); });
}

float Event::elapsed_time(const Event& end) const {
  TS_CHECK(is_recorded() && end.is_recorded(),
           "Event::elapsed_time: both events must be recorded first (start ",
           is_recorded() ? "is" : "is not", ", end ", end.is_recorded() ? "is" : "is not", ")");
  TS_CHECK(enable_timing() && end.enable_timing(),
           "Event::elapsed_time: both events need Event(/*enable_timing=*/true)");
  TS_CHECK(state_->device == end.state_->device, "Event::elapsed_time: the events are on ",
           state_->device, " and ", end.state_->device);
  // Asking CUDA before the end has completed is an error it keeps as the
  // thread's last error; say what to do instead.
  TS_CHECK(query() && end.query(),
           "Event::elapsed_time: the events have not completed yet (call synchronize() on the "
           "end event first)");
  return cuda_call("Event::elapsed_time", state_->device, [&] {
    return kernels::cuda_event_elapsed_ms(state_->event, end.state_->event);
  });
}

}  // namespace toadstool
