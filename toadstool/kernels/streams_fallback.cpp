// kernels/streams.h in a build without the CUDA backend: every call is a
// logic error (tensor/stream.h and the allocators check cuda_is_available()
// first, so none is reached through the public API).
#include <stdexcept>
#include <string>

#include "toadstool/config.h"
#include "toadstool/kernels/streams.h"

#if !TOADSTOOL_WITH_CUDA

namespace toadstool::kernels {

namespace {
[[noreturn]] void no_cuda(const char* call) {
  throw std::logic_error(std::string(call) + ": this build has no CUDA backend");
}
}  // namespace

void* cuda_current_stream(int /*device*/) { no_cuda("cuda_current_stream"); }
void cuda_set_current_stream(int /*device*/, void* /*stream*/) {
  no_cuda("cuda_set_current_stream");
}
void* cuda_pool_stream(int /*device*/) { no_cuda("cuda_pool_stream"); }
bool cuda_stream_query(int /*device*/, void* /*stream*/) { no_cuda("cuda_stream_query"); }
void cuda_stream_synchronize(int /*device*/, void* /*stream*/) {
  no_cuda("cuda_stream_synchronize");
}
void cuda_stream_wait_event(int /*device*/, void* /*stream*/, void* /*event*/) {
  no_cuda("cuda_stream_wait_event");
}
void* cuda_event_create(int /*device*/, bool /*timing*/) { no_cuda("cuda_event_create"); }
void cuda_event_destroy(void* /*event*/) noexcept {}
void cuda_event_record(int /*device*/, void* /*event*/, void* /*stream*/) {
  no_cuda("cuda_event_record");
}
void* cuda_event_record_new(int /*device*/, void* /*stream*/) { no_cuda("cuda_event_record_new"); }
bool cuda_event_query(void* /*event*/) { no_cuda("cuda_event_query"); }
void cuda_event_synchronize(void* /*event*/) { no_cuda("cuda_event_synchronize"); }
float cuda_event_elapsed_ms(void* /*start*/, void* /*end*/) { no_cuda("cuda_event_elapsed_ms"); }
void* cuda_host_allocate(size_t /*nbytes*/) { no_cuda("cuda_host_allocate"); }
void cuda_host_free(void* /*ptr*/) {}
void cuda_copy_to_host_async(int /*device*/, void* /*dst*/, const void* /*src*/,
                             size_t /*nbytes*/) {
  no_cuda("cuda_copy_to_host_async");
}
void cuda_copy_from_host_async(int /*device*/, void* /*dst*/, const void* /*src*/,
                               size_t /*nbytes*/) {
  no_cuda("cuda_copy_from_host_async");
}

}  // namespace toadstool::kernels

#endif
