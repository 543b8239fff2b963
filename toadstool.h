#pragma once
// Toadstool: one include for the whole public API.
#include "tensor/allocator.h"
#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/generator.h"
#include "tensor/ops.h"
#include "tensor/scalar.h"
#include "tensor/tensor.h"
#include "tensor/threads.h"
