#pragma once
// The CUDA runtime services beside the kernel table: streams, events,
// page-locked (pinned) host memory and copies that do not wait. Handles are
// cudaStream_t and cudaEvent_t seen as void* (no CUDA header outside
// kernels/cuda/); the null stream is a device's default stream (the legacy
// one, which orders with every blocking stream).
//
// Implemented by kernels/cuda/streams.cu and host_memory.cu; a build without
// the CUDA backend has versions that throw std::logic_error (the public API
// in tensor/stream.h checks cuda_is_available() before calling any). Every
// CUDA failure throws std::runtime_error "<call>: <message>".
#include <cstddef>

namespace toadstool::kernels {

// ---- streams ----
// The calling thread's current stream on GPU `device`, on which the table's
// entries for that device run: the default stream until set.
void* cuda_current_stream(int device);
void cuda_set_current_stream(int device, void* stream);
// A stream of `device`'s pool: 32 non-blocking streams (they do not order
// with the default stream), created on first use and handed out in turn,
// never destroyed, as PyTorch's getStreamFromPool.
void* cuda_pool_stream(int device);
// Whether all work queued on the stream has finished; waiting for it.
bool cuda_stream_query(int device, void* stream);
void cuda_stream_synchronize(int device, void* stream);
// Later work on `stream` waits until `event` has completed.
void cuda_stream_wait_event(int device, void* stream, void* event);

// ---- events ----
// A new event on `device` (timing: it records a time stamp too).
void* cuda_event_create(int device, bool timing);
// Errors are ignored: called from destructors.
void cuda_event_destroy(void* event) noexcept;
void cuda_event_record(int device, void* event, void* stream);
// cuda_event_create + cuda_event_record, without timing (the allocators' events).
void* cuda_event_record_new(int device, void* stream);
// Whether the work the event recorded has completed; waiting for it.
bool cuda_event_query(void* event);
void cuda_event_synchronize(void* event);
// Milliseconds between two completed timing events.
float cuda_event_elapsed_ms(void* start, void* end);

// ---- pinned host memory and asynchronous copies ----
// nbytes of page-locked host memory usable by every device (nullptr when
// out of memory), and freeing it.
void* cuda_host_allocate(size_t nbytes);
void cuda_host_free(void* ptr);
// Queue a copy between host and `device` on its current stream and return
// without waiting: the host memory must be pinned for the copy to overlap,
// and must stay untouched until the stream has run it.
void cuda_copy_to_host_async(int device, void* dst, const void* src, size_t nbytes);
void cuda_copy_from_host_async(int device, void* dst, const void* src, size_t nbytes);

}  // namespace toadstool::kernels
