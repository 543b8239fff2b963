// The library's precompiled header (CMakeLists.txt): the standard headers
// and the tensor layer's that nearly every source of the library includes.
// Only the lowest layer's, so that no source sees, through it, a header of
// a layer above its own. Each source still includes what it uses.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "toadstool/tensor/error.h"
#include "toadstool/tensor/factory.h"
#include "toadstool/tensor/native_ops.h"
#include "toadstool/tensor/shape_utils.h"
