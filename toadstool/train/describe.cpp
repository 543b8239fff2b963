// Trainer::describe(): the fit loop as text, each hook followed by the
// callbacks that implement it (in the order they run), then each callback
// with its hooks.
#include <sstream>

#include "toadstool/train/trainer.h"

namespace toadstool::train {
namespace {

bool implements(const Callback& callback, Hook hook) {
  for (const Hook h : callback.hooks()) {
    if (h == hook) return true;
  }
  return false;
}

}  // namespace

std::string Trainer::describe() const {
  std::ostringstream out;
  const auto hook_line = [&](int indent, Hook hook) {
    std::string line = std::string(indent, ' ') + hook_name(hook);
    std::string names;
    for (const auto& callback : callbacks) {
      if (!implements(*callback, hook)) continue;
      names += (names.empty() ? "" : ", ") + callback->name();
    }
    if (!names.empty()) line += std::string(line.size() < 28 ? 28 - line.size() : 1, ' ') + names;
    out << line << "\n";
  };
  const auto text = [&](int indent, const std::string& line) {
    out << std::string(indent, ' ') << line << "\n";
  };
  text(0, "fit(epochs, train_loader, valid_loader):");
  hook_line(2, Hook::begin_fit);
  text(2, "for epoch in [epoch, epochs) until stop_training:");
  hook_line(4, Hook::begin_epoch);
  text(4, "model.train()");
  hook_line(4, Hook::all_batches);
  text(4, "for (x, y) in train_loader:");
  hook_line(6, Hook::begin_batch);
  text(6, "y_pred = model(x)");
  hook_line(6, Hook::after_pred);
  text(6, "loss = loss_fn(y_pred, y)");
  hook_line(6, Hook::after_loss);
  text(6, "loss.backward()");
  hook_line(6, Hook::after_backward);
  text(6, options.accumulate == 1
              ? std::string("every batch:")
              : "every " + std::to_string(options.accumulate) +
                    " batches and at the epoch's last (gradients / batches in the window):");
  hook_line(8, Hook::begin_optim);
  text(8, "optimizer.step()");
  hook_line(8, Hook::after_step);
  text(8, std::string("optimizer.zero_grad(set_to_none=") +
              (options.zero_grad_to_none ? "true" : "false") + ")");
  hook_line(6, Hook::after_batch);
  text(4, "if valid_loader (no grad, model.eval(), mode restored after):");
  hook_line(6, Hook::begin_validate);
  text(6, "all_batches, then per batch: begin_batch, forward, after_pred, loss, after_loss,");
  text(6, "after_batch");
  hook_line(6, Hook::after_validate);
  hook_line(4, Hook::after_epoch);
  text(2, "on CancelTraining or Ctrl-C:");
  hook_line(4, Hook::cancelled_training);
  hook_line(2, Hook::after_fit);
  text(0, "eval(loader) (no grad, model.eval()):");
  hook_line(2, Hook::begin_eval);
  text(2, "all_batches, then the batches as in validation");
  hook_line(2, Hook::after_eval);
  text(0, "predict(loader) (no grad, model.eval()):");
  hook_line(2, Hook::begin_predict);
  text(2, "all_batches, then per batch: begin_batch, forward, after_pred, after_batch");
  hook_line(2, Hook::after_predict);
  text(0, "callbacks, in order:");
  if (callbacks.empty()) text(2, "(none)");
  for (size_t i = 0; i < callbacks.size(); ++i) {
    std::string line = std::to_string(i) + ". " + callbacks[i]->name() + ": ";
    if (!callbacks[i]->has_hook_list()) {
      line += "(hooks not listed: derive it from CallbackBase<Self>)";
    } else {
      const std::vector<Hook> hooks = callbacks[i]->hooks();
      if (hooks.empty()) line += "(no hooks)";
      for (size_t h = 0; h < hooks.size(); ++h)
        line += (h ? ", " : "") + std::string(hook_name(hooks[h]));
    }
    text(2, line);
  }
  return out.str();
}

}  // namespace toadstool::train
