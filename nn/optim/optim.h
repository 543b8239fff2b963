#pragma once
// Optimizers and learning-rate schedules: one include for nn/optim/.
#include "nn/optim/adam.h"
#include "nn/optim/lr_scheduler.h"
#include "nn/optim/one_cycle_lr.h"
#include "nn/optim/optimizer.h"
#include "nn/optim/plateau.h"
#include "nn/optim/sgd.h"
