#pragma once
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the
// TFRecord framing, and its "masked" form: TensorFlow stores
// ((crc >> 15) | (crc << 17)) + 0xa282ead8, so that a CRC of data that
// itself holds CRCs does not come out trivially (tensorflow/core/lib/hash/crc32c.h).
#include <cstdint>
#include <string_view>

namespace toadstool::train::tensorboard {

uint32_t crc32c(std::string_view data);
uint32_t masked_crc32c(std::string_view data);

}  // namespace toadstool::train::tensorboard
