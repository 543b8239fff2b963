// The engine's hooks for gradient communication (data parallel's reducer):
// post-accumulate-grad hooks on leaves, and callbacks queued to run at the
// end of the backward in progress.
#include <string>
#include <vector>

#include "test_util.h"

namespace toadstool {
namespace {

using testing::expect_values;

TEST(PostAccumulateGradHook, SeesTheAccumulatedGradientOncePerBackward) {
  Tensor x = from_vector<float>({1, 2}).requires_grad_();
  std::vector<std::vector<float>> seen;
  int calls = 0;
  x.register_post_accumulate_grad_hook([&](const Tensor& leaf) {
    ++calls;
    EXPECT_TRUE(leaf.is_same(x));  // the leaf itself, not a copy
    seen.push_back({leaf.grad().data_ptr<float>()[0], leaf.grad().data_ptr<float>()[1]});
  });
  // x is used twice: the engine sums both paths first, so one accumulation.
  (x * 3 + x * x).sum().backward();
  ASSERT_EQ(calls, 1);
  EXPECT_EQ(seen[0], (std::vector<float>{5, 7}));  // 3 + 2x
  (x * 2).sum().backward();                        // accumulates: the hook sees the sum
  ASSERT_EQ(calls, 2);
  EXPECT_EQ(seen[1], (std::vector<float>{7, 9}));
}

TEST(PostAccumulateGradHook, RunsAfterTheGradientHooksAndInRegistrationOrder) {
  Tensor x = from_vector<float>({1}).requires_grad_();
  std::string order;
  x.register_hook([&](const Tensor& g) {
    order += "pre ";
    return g * 10;  // replaces the gradient before it is accumulated
  });
  x.register_post_accumulate_grad_hook(
      [&](const Tensor& leaf) { order += "a:" + std::to_string(leaf.grad().item<float>()) + " "; });
  const size_t removed =
      x.register_post_accumulate_grad_hook([&](const Tensor&) { order += "removed "; });
  x.register_post_accumulate_grad_hook([&](const Tensor&) { order += "b"; });
  x.remove_post_accumulate_grad_hook(removed);
  (x * 2).sum().backward();
  EXPECT_EQ(order, "pre a:20.000000 b");
}

TEST(PostAccumulateGradHook, FiresInBackwardOrderAsEachLeafIsDone) {
  // A chain x0 -> layer 1 -> layer 2: the last layer's weight is accumulated
  // first, and its hook runs before the first layer's gradient exists (what
  // lets data parallel start communicating during the backward).
  Tensor x = from_vector<float>({1, 2}).view({1, 2});
  Tensor w1 = from_vector<float>({1, 0, 0, 1}).view({2, 2}).requires_grad_();
  Tensor w2 = from_vector<float>({1, 1}).view({2, 1}).requires_grad_();
  std::vector<std::string> order;
  bool w1_had_grad_when_w2_fired = true;
  w1.register_post_accumulate_grad_hook([&](const Tensor&) { order.emplace_back("w1"); });
  w2.register_post_accumulate_grad_hook([&](const Tensor&) {
    order.emplace_back("w2");
    w1_had_grad_when_w2_fired = w1.grad().defined();
  });
  matmul(relu(matmul(x, w1)), w2).sum().backward();
  EXPECT_EQ(order, (std::vector<std::string>{"w2", "w1"}));
  EXPECT_FALSE(w1_had_grad_when_w2_fired);
}

TEST(PostAccumulateGradHook, NotCalledForLeavesTheBackwardDoesNotReach) {
  Tensor x = from_vector<float>({1}).requires_grad_();
  Tensor unused = from_vector<float>({1}).requires_grad_();
  int calls = 0;
  unused.register_post_accumulate_grad_hook([&](const Tensor&) { ++calls; });
  (x * 2).sum().backward();
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(unused.grad().defined());
}

TEST(PostAccumulateGradHook, RefusesNonLeavesAndTensorsWithoutGrad) {
  Tensor x = from_vector<float>({1, 2}).requires_grad_();
  Tensor y = x * 2;
  auto noop = [](const Tensor&) {};
  EXPECT_ERROR(y.register_post_accumulate_grad_hook(noop),
               "register_post_accumulate_grad_hook: only a leaf that requires grad");
  EXPECT_ERROR(from_vector<float>({1}).register_post_accumulate_grad_hook(noop),
               "does not require grad");
}

TEST(PostAccumulateGradHook, AnErrorInAHookEndsTheBackward) {
  Tensor x = from_vector<float>({1}).requires_grad_();
  x.register_post_accumulate_grad_hook(
      [](const Tensor&) { throw Error("hook failed on purpose"); });
  EXPECT_ERROR((x * 2).sum().backward(), "hook failed on purpose");
  EXPECT_FALSE(autograd::in_backward());
}

TEST(QueueCallback, RunsOnceAfterEveryLeafIsAccumulated) {
  Tensor a = from_vector<float>({1}).requires_grad_();
  Tensor b = from_vector<float>({2}).requires_grad_();
  std::vector<std::string> order;
  bool queued = false;
  auto hook = [&](const Tensor& leaf) {
    order.push_back(leaf.is_same(a) ? "a" : "b");
    EXPECT_TRUE(autograd::in_backward());
    if (queued) return;
    queued = true;  // queued by the first hook, as data parallel does
    autograd::queue_callback([&] {
      // Every gradient is in place when the callback runs.
      order.push_back("end a=" + std::to_string(a.grad().item<float>()) +
                      " b=" + std::to_string(b.grad().item<float>()));
      autograd::queue_callback([&] { order.emplace_back("queued by a callback"); });
    });
  };
  a.register_post_accumulate_grad_hook(hook);
  b.register_post_accumulate_grad_hook(hook);
  (a * b).sum().backward();
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[2], "end a=2.000000 b=1.000000");
  EXPECT_EQ(order[3], "queued by a callback");
  EXPECT_FALSE(autograd::in_backward());
  // The list is per backward: the next one runs only what it queues itself.
  order.clear();
  (a * 3).sum().backward();
  EXPECT_EQ(order, (std::vector<std::string>{"a"}));
}

TEST(QueueCallback, OutsideABackwardIsAnError) {
  EXPECT_FALSE(autograd::in_backward());
  EXPECT_ERROR(autograd::queue_callback([] {}), "queue_callback: no backward() is running");
}

TEST(QueueCallback, ABackwardInsideACallbackKeepsItsOwnList) {
  Tensor x = from_vector<float>({1}).requires_grad_();
  Tensor y = from_vector<float>({1}).requires_grad_();
  std::vector<std::string> order;
  y.register_post_accumulate_grad_hook(
      [&](const Tensor&) { autograd::queue_callback([&] { order.emplace_back("inner end"); }); });
  x.register_post_accumulate_grad_hook([&](const Tensor&) {
    autograd::queue_callback([&] {
      EXPECT_FALSE(autograd::is_grad_enabled());  // callbacks run as hooks do: not recorded
      EnableGradGuard record;
      (y * 2).sum().backward();  // a nested backward with its own callbacks
      order.emplace_back("outer end");
    });
  });
  (x * 2).sum().backward();
  EXPECT_EQ(order, (std::vector<std::string>{"inner end", "outer end"}));
}

}  // namespace
}  // namespace toadstool
