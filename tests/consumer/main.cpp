// Prints the product of two small matrices; the install test checks the text.
#include <toadstool/toadstool.h>

#include <iostream>

int main() {
  using namespace toadstool;
  const Tensor a = arange(6, kFloat32).view({2, 3});
  const Tensor b = ones({3, 2});
  const Tensor c = matmul(a, b);
  std::cout << "sum=" << c.sum().item<float>() << "\n";
  return c.sum().item<float>() == 30.0f ? 0 : 1;
}
