// Prints the product of two small matrices and a Linear layer's output
// size; the install test checks the text. Only <toadstool/...> includes.
#include <toadstool/config.h>
#include <toadstool/nn/linear.h>
#include <toadstool/toadstool.h>

#include <iostream>

int main() {
  using namespace toadstool;
  const Tensor a = arange(6, kFloat32).view({2, 3});
  const Tensor b = ones({3, 2});
  const Tensor c = matmul(a, b);
  nn::Linear linear(3, 4);
  std::cout << "toadstool " << TOADSTOOL_VERSION << " cuda=" << TOADSTOOL_WITH_CUDA
            << " cpu_isa=" << cpu_isa() << " sum=" << c.sum().item<float>()
            << " linear=" << linear.forward(a).size(1) << "\n";
  return c.sum().item<float>() == 30.0f ? 0 : 1;
}
