// The trainer's hooks, written once, in the order they first fire in a fit
// with validation: each TOADSTOOL_HOOK(name) is a virtual of Callback, a
// Hook value, its name, and an entry of the trainer's dispatch table
// (train/callback.h, train/callback.cpp, train/trainer.cpp expand it). No
// include guard: every expansion defines TOADSTOOL_HOOK, includes this file
// and undefines it.
#ifndef TOADSTOOL_HOOK
#error "define TOADSTOOL_HOOK(name) before including train/hook_list.h"
#endif

TOADSTOOL_HOOK(begin_fit)
TOADSTOOL_HOOK(begin_epoch)
TOADSTOOL_HOOK(all_batches)
TOADSTOOL_HOOK(begin_batch)
TOADSTOOL_HOOK(after_pred)
TOADSTOOL_HOOK(after_loss)
TOADSTOOL_HOOK(after_backward)
TOADSTOOL_HOOK(begin_optim)
TOADSTOOL_HOOK(after_step)
TOADSTOOL_HOOK(after_batch)
TOADSTOOL_HOOK(begin_validate)
TOADSTOOL_HOOK(after_validate)
TOADSTOOL_HOOK(after_epoch)
TOADSTOOL_HOOK(cancelled_training)
TOADSTOOL_HOOK(after_fit)
TOADSTOOL_HOOK(begin_eval)
TOADSTOOL_HOOK(after_eval)
TOADSTOOL_HOOK(begin_predict)
TOADSTOOL_HOOK(after_predict)
