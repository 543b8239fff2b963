#pragma once
// A fixture for the tests of this suite that need the emulated device to
// run behind the host (shim/emulated_device.h): the kernel tests switch it
// to synchronous (emulated_backend.cpp), so each of these switches it back
// for its own run.
#include <cuda_runtime.h>  // the shim
#include <gtest/gtest.h>

class AsynchronousDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    was_asynchronous_ = emu::Device::get().asynchronous();
    emu::Device::get().set_asynchronous(true);
  }
  void TearDown() override { emu::Device::get().set_asynchronous(was_asynchronous_); }

 private:
  bool was_asynchronous_ = true;
};
