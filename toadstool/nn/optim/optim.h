#pragma once
// Optimizers and learning-rate schedules: one include for nn/optim/.
#include "toadstool/nn/optim/adam.h"
#include "toadstool/nn/optim/grad_scaler.h"
#include "toadstool/nn/optim/lr_scheduler.h"
#include "toadstool/nn/optim/one_cycle_lr.h"
#include "toadstool/nn/optim/optimizer.h"
#include "toadstool/nn/optim/plateau.h"
#include "toadstool/nn/optim/sgd.h"
